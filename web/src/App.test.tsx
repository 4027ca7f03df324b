import { cleanup, render, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { createApiClient, type Problem } from "./api";
import { App } from "./App";
import { simulatedCards } from "./CardFields";
import { json, payment, scriptedFetch } from "./testing";

afterEach(cleanup);

describe("App routes", () => {
  it("renders the status page at /payments/:id from GET /v1/payments/{id}", async () => {
    const { fetch, calls } = scriptedFetch([() => json(200, payment())]);
    render(<App client={createApiClient({ baseUrl: "http://api.test", fetch })} cards={simulatedCards} path="/payments/pay_4fK9qZ2mT7xW1rB8nH3cVd" />);
    expect(await screen.findByText("succeeded")).toBeTruthy();
    expect(screen.getByText("19.99 EUR")).toBeTruthy();
    expect(calls[0].url).toBe("http://api.test/v1/payments/pay_4fK9qZ2mT7xW1rB8nH3cVd");
  });

  it("says when a payment does not exist", async () => {
    const notFound = { status: 404, code: "not_found", detail: "No such payment." } satisfies Problem;
    const { fetch } = scriptedFetch([() => json(404, notFound)]);
    render(<App client={createApiClient({ baseUrl: "http://api.test", fetch })} cards={simulatedCards} path="/payments/pay_x" />);
    expect(await screen.findByText("pay_x")).toBeTruthy();
  });

  it("renders the checkout at / and a not-found page elsewhere", () => {
    const client = createApiClient({ baseUrl: "http://api.test", fetch: scriptedFetch([]).fetch });
    render(<App client={client} cards={simulatedCards} path="/" />);
    expect(screen.getByRole("button", { name: "Pay" })).toBeTruthy();
    cleanup();
    render(<App client={client} cards={simulatedCards} path="/nope" />);
    expect(screen.getByText("Page not found")).toBeTruthy();
  });
});
