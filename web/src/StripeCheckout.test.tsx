// The checkout with Stripe's card element, against a mocked Stripe.js object: the page never sees card data, sends
// Stripe's PaymentMethod id to POST /v1/payments, completes 3-D Secure with confirmCardPayment and shows the final
// status the API reads back.
import { act, cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import type { Stripe } from "@stripe/stripe-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { createApiClient } from "./api";
import { CheckoutPage } from "./CheckoutPage";
import { stripeCards } from "./stripeCards";
import { json, payment, scriptedFetch } from "./testing";

afterEach(cleanup);

type ChangeHandler = (event?: { complete: boolean; error?: { message: string } }) => void;

/** The parts of Stripe.js the page uses, recording what it was asked. */
function fakeStripe(options: { confirm?: { error?: { message: string } }; createError?: string } = {}) {
  const handlers: ChangeHandler[] = [];
  const mounted: HTMLElement[] = [];
  const element = {
    on: vi.fn((event: string, handler: ChangeHandler) => event === "change" && handlers.push(handler)),
    mount: vi.fn((node: HTMLElement) => mounted.push(node)),
    destroy: vi.fn(),
  };
  const created: string[] = [];
  const stripe = {
    elements: vi.fn(() => ({ create: vi.fn((type: string) => (created.push(type), element)) })),
    createPaymentMethod: vi.fn(async () =>
      options.createError
        ? { error: { message: options.createError } }
        : { paymentMethod: { id: `pm_1Stripe${stripe.createPaymentMethod.mock.calls.length}` } },
    ),
    confirmCardPayment: vi.fn(async () => options.confirm ?? { paymentIntent: { status: "succeeded" } }),
  };
  const change = (event?: Parameters<ChangeHandler>[0]) => act(() => handlers.at(-1)?.(event));
  return { stripe, asStripe: stripe as unknown as Stripe, element, created, mounted, change };
}

function setup(fake: ReturnType<typeof fakeStripe>, responses: (() => Response)[]) {
  const scripted = scriptedFetch(responses);
  const client = createApiClient({ baseUrl: "http://api.test", fetch: scripted.fetch, sleep: async () => {} });
  let n = 0;
  render(<CheckoutPage client={client} cards={stripeCards(fake.asStripe)} newKey={() => `key-${++n}`} />);
  return { user: userEvent.setup(), calls: scripted.calls };
}

const pay = () => screen.getByRole("button", { name: "Pay" });
const requiresAction = () =>
  json(201, { ...payment({ card: null }), status: "requires_action", client_secret: "pi_3_secret_x" });

describe("CheckoutPage with Stripe's card element", () => {
  it("mounts Stripe's card element in the page and has no card input of its own", () => {
    const fake = fakeStripe();
    setup(fake, []);
    expect(fake.created).toContain("card");
    expect(fake.mounted[0]).toBe(screen.getByTestId("stripe-card-element"));
    expect(screen.queryByLabelText("Card number")).toBeNull();
    expect(document.querySelectorAll("input").length).toBe(1); // the amount
  });

  it("pays with the PaymentMethod Stripe.js created: its id is the payment_method, nothing else about the card", async () => {
    const fake = fakeStripe();
    const { user, calls } = setup(fake, [() => json(201, payment())]);
    fake.change({ complete: true });
    await user.click(pay());
    expect(await screen.findByText("Payment succeeded")).toBeTruthy();
    expect(fake.stripe.createPaymentMethod).toHaveBeenCalledWith({ type: "card", card: fake.element });
    expect(JSON.parse(calls[0].body!)).toEqual({
      amount: 1999, currency: "EUR", payment_method: "pm_1Stripe1", description: "Order 1042",
    });
    expect(fake.stripe.confirmCardPayment).not.toHaveBeenCalled();
  });

  it("does not pay while Stripe says the card is incomplete, and shows Stripe's message", async () => {
    const fake = fakeStripe();
    const { user, calls } = setup(fake, [() => json(201, payment())]);
    fake.change({ complete: false, error: { message: "Your card number is incomplete." } });
    expect(screen.getByText("Your card number is incomplete.")).toBeTruthy();
    await user.click(pay());
    expect(calls).toHaveLength(0);
    expect(fake.stripe.createPaymentMethod).not.toHaveBeenCalled();
  });

  it("shows Stripe's refusal of the card and calls no API", async () => {
    const fake = fakeStripe({ createError: "Your card number is invalid." });
    const { user, calls } = setup(fake, [() => json(201, payment())]);
    fake.change({ complete: true });
    await user.click(pay());
    expect(await screen.findByText("Card not accepted")).toBeTruthy();
    expect(screen.getByText("Your card number is invalid.")).toBeTruthy();
    expect(calls).toHaveLength(0);
  });

  it("a retry after a network failure reuses the PaymentMethod and the key; a changed card gets new ones", async () => {
    let failing = true;
    const fake = fakeStripe();
    const { user, calls } = setup(fake, [
      () => {
        if (failing) throw new TypeError("Failed to fetch");
        return json(201, payment());
      },
    ]);
    fake.change({ complete: true });
    await user.click(pay());
    expect(await screen.findByText("Payment service unreachable")).toBeTruthy();
    failing = false;
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    fake.change({ complete: true }); // the card was edited
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    expect(fake.stripe.createPaymentMethod).toHaveBeenCalledTimes(2);
    expect(calls.map((c) => [c.headers["idempotency-key"], JSON.parse(c.body!).payment_method])).toEqual([
      ["key-1", "pm_1Stripe1"], ["key-1", "pm_1Stripe1"], ["key-2", "pm_1Stripe2"],
    ]);
  });

  it("completes 3-D Secure with confirmCardPayment(client_secret) and shows the status the API reads back", async () => {
    const fake = fakeStripe();
    const { user, calls } = setup(fake, [requiresAction, () => json(200, payment())]);
    fake.change({ complete: true });
    await user.click(pay());
    expect(await screen.findByText("Payment succeeded")).toBeTruthy();
    expect(fake.stripe.confirmCardPayment).toHaveBeenCalledWith("pi_3_secret_x");
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      "POST http://api.test/v1/payments",
      "GET http://api.test/v1/payments/pay_4fK9qZ2mT7xW1rB8nH3cVd",
    ]);
  });

  it("a failed 3-D Secure shows the API's decline once the service has it", async () => {
    const fake = fakeStripe({ confirm: { error: { message: "We are unable to authenticate your payment method." } } });
    const { user } = setup(fake, [
      requiresAction,
      () => json(200, payment({ status: "failed", failure_code: "authentication_failed", card: null })),
    ]);
    fake.change({ complete: true });
    await user.click(pay());
    expect(await screen.findByText("Payment declined")).toBeTruthy();
    expect(screen.getByText("authentication_failed")).toBeTruthy();
  });

  it("a failed 3-D Secure the API has not seen yet says authentication was not completed", async () => {
    const fake = fakeStripe({ confirm: { error: { message: "We are unable to authenticate your payment method." } } });
    const { user, calls } = setup(fake, [
      requiresAction,
      () => json(200, { ...payment({ card: null }), status: "requires_action" }),
    ]);
    fake.change({ complete: true });
    await user.click(pay());
    expect(await screen.findByText("Authentication not completed")).toBeTruthy();
    expect(screen.getByText(/unable to authenticate/)).toBeTruthy();
    expect(calls.filter((c) => c.method === "GET").length).toBeGreaterThan(1); // read until MAX_REPOSTS
  });

  it.each([
    ["answers nothing (localstripe's stand-in)", async () => undefined],
    ["throws", async () => { throw new Error("Network error"); }],
  ])("says the card was not accepted when createPaymentMethod %s, and calls no API", async (_, answer) => {
    const fake = fakeStripe();
    fake.stripe.createPaymentMethod.mockImplementation(answer as never);
    const { user, calls } = setup(fake, [() => json(201, payment())]);
    fake.change({ complete: true });
    await user.click(pay());
    expect(await screen.findByText("Card not accepted")).toBeTruthy();
    expect(calls).toHaveLength(0);
  });

  it("works with the stand-in's change events, which carry no event object", async () => {
    const fake = fakeStripe();
    const { user, calls } = setup(fake, [() => json(201, payment())]);
    fake.change();
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    expect(calls).toHaveLength(1);
  });
});
