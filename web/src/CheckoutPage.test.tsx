import { act, cleanup, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { createApiClient, type Problem } from "./api";
import { simulatedCards } from "./CardFields";
import { CheckoutPage } from "./CheckoutPage";
import { json, payment, scriptedFetch, type Recorded } from "./testing";

afterEach(cleanup);

function counter() {
  let n = 0;
  return () => `key-${++n}`;
}

function setup(responses: (() => Response)[], gate?: Promise<void>) {
  const scripted = scriptedFetch(responses, gate);
  const slept: number[] = [];
  const client = createApiClient({
    baseUrl: "http://api.test",
    fetch: scripted.fetch,
    sleep: async (s) => void slept.push(s),
  });
  const user = userEvent.setup();
  render(<CheckoutPage client={client} cards={simulatedCards} newKey={counter()} />);
  return { user, calls: scripted.calls, slept };
}

async function fillCard(user: ReturnType<typeof userEvent.setup>, number = "4242 4242 4242 4242") {
  await user.clear(screen.getByLabelText("Card number"));
  await user.type(screen.getByLabelText("Card number"), number);
  await user.clear(screen.getByLabelText("Expiry"));
  await user.type(screen.getByLabelText("Expiry"), "12/39");
  await user.clear(screen.getByLabelText("CVC"));
  await user.type(screen.getByLabelText("CVC"), "123");
}

async function setAmount(user: ReturnType<typeof userEvent.setup>, text: string) {
  await user.clear(screen.getByLabelText("Amount"));
  await user.type(screen.getByLabelText("Amount"), text);
}

const keysOf = (calls: Recorded[]) => calls.map((c) => c.headers["idempotency-key"]);
const pay = () => screen.getByRole("button", { name: "Pay" });

describe("CheckoutPage", () => {
  it("shows the order summary and pays: Payment succeeded with the full payment id", async () => {
    const { user, calls } = setup([() => json(201, payment())]);
    expect(screen.getByText("19.99 EUR")).toBeTruthy();
    await user.selectOptions(screen.getByLabelText("Currency"), "JPY");
    await setAmount(user, "1999");
    expect(screen.getByText("1999 JPY")).toBeTruthy();
    await fillCard(user);
    await user.click(pay());
    expect(await screen.findByText("Payment succeeded")).toBeTruthy();
    expect(screen.getByText("pay_4fK9qZ2mT7xW1rB8nH3cVd")).toBeTruthy();
    expect(JSON.parse(calls[0].body!)).toEqual({
      amount: 1999, currency: "JPY", payment_method: "pm_card_visa", description: "Order 1042",
    });
  });

  it("never sends the card number, expiry or CVC to the API", async () => {
    const { user, calls } = setup([() => json(201, payment())]);
    await fillCard(user);
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    const sent = JSON.stringify(calls);
    for (const secret of ["4242424242424242", "4242 4242 4242 4242", "12/39", "123\""]) {
      expect(sent).not.toContain(secret);
    }
    expect(sent).not.toMatch(/\d{13,19}/);
    expect(JSON.parse(calls[0].body!).payment_method).toBe("pm_card_visa");
  });

  it("refuses too many decimals for the currency in the form, without calling the API", async () => {
    const { user, calls } = setup([() => json(201, payment())]);
    await setAmount(user, "1.999");
    expect(screen.getByText("EUR allows at most 2 decimal places.")).toBeTruthy();
    await user.selectOptions(screen.getByLabelText("Currency"), "JPY");
    await setAmount(user, "19.5");
    expect(screen.getByText("JPY has no minor unit: enter a whole number.")).toBeTruthy();
    expect(screen.getByLabelText("Amount").getAttribute("aria-invalid")).toBe("true");
    await fillCard(user);
    await user.click(pay());
    expect(calls).toHaveLength(0);
  });

  it("disables Pay while in flight and a double submit sends one request with one key", async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { user, calls } = setup([() => json(201, payment())], gate);
    await fillCard(user);
    const form = pay().closest("form")!;
    act(() => {
      form.requestSubmit();
      form.requestSubmit();
    });
    expect((pay() as HTMLButtonElement).disabled).toBe(true);
    expect(screen.getByText("Payment in progress…")).toBeTruthy();
    await act(async () => release());
    await screen.findByText("Payment succeeded");
    expect(calls).toHaveLength(1);
    expect(keysOf(calls)).toEqual(["key-1"]);
    expect((pay() as HTMLButtonElement).disabled).toBe(false);
  });

  it("reuses the key on retry after a network failure, and a changed attempt gets a new key", async () => {
    let failing = true;
    const { user, calls } = setup([
      () => {
        if (failing) throw new TypeError("Failed to fetch");
        return json(201, payment());
      },
    ]);
    await fillCard(user);
    await user.click(pay());
    expect(await screen.findByText("Payment service unreachable")).toBeTruthy();
    failing = false;
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    expect(keysOf(calls)).toEqual(["key-1", "key-1"]);

    await setAmount(user, "20.00"); // amount changed
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    await user.selectOptions(screen.getByLabelText("Currency"), "USD"); // currency changed
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    await fillCard(user, "5555 5555 5555 4444"); // token changed
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    await user.click(pay()); // same attempt again: same key
    await screen.findByText("Payment succeeded");
    expect(keysOf(calls)).toEqual(["key-1", "key-1", "key-2", "key-3", "key-4", "key-4"]);
  });

  it("on 202 waits Retry-After and re-posts with the same key", async () => {
    const { user, calls, slept } = setup([
      () => json(202, payment({ status: "processing", card: null }), { "Retry-After": "1" }),
      () => json(201, payment()),
    ]);
    await fillCard(user, "4000 0000 0000 0119");
    await user.click(pay());
    await screen.findByText("Payment succeeded");
    expect(slept).toEqual([1]);
    expect(keysOf(calls)).toEqual(["key-1", "key-1"]);
    expect(JSON.parse(calls[1].body!).payment_method).toBe("pm_card_processor_timeout");
  });

  it.each([
    ["4000 0000 0000 0002", "card_declined", "The card was declined."],
    ["4000 0000 0000 9995", "insufficient_funds", "Insufficient funds."],
  ])("shows Payment declined with the reason (%s)", async (number, code, reason) => {
    const { user, calls } = setup([() => json(201, payment({ status: "failed", failure_code: code, card: null }))]);
    await fillCard(user, number);
    await user.click(pay());
    expect(await screen.findByText("Payment declined")).toBeTruthy();
    expect(screen.getByText(reason, { exact: false })).toBeTruthy();
    expect(screen.getByText(code)).toBeTruthy();
    expect(JSON.parse(calls[0].body!).payment_method).toBe(number.endsWith("0002") ? "pm_card_declined" : "pm_card_insufficient_funds");
  });

  it("shows a validation problem with its field errors", async () => {
    const { user } = setup([
      () =>
        json(400, {
          type: "about:blank", title: "Validation failed", status: 400, code: "validation_failed",
          detail: "The request is invalid.", errors: [{ field: "currency", message: "unsupported currency" }],
        } satisfies Required<Problem>),
    ]);
    await fillCard(user);
    await user.click(pay());
    expect(await screen.findByText("Payment not accepted")).toBeTruthy();
    expect(screen.getByText("The request is invalid.")).toBeTruthy();
    expect(screen.getByText("currency: unsupported currency")).toBeTruthy();
  });

  it("does not call the API for a card that is not a test card and names the field", async () => {
    const { user, calls } = setup([() => json(201, payment())]);
    await fillCard(user, "4111 1111 1111 1111");
    await user.click(pay());
    expect(screen.getByText("This simulated tokenizer accepts only the test cards (see docs/checkout.md).")).toBeTruthy();
    expect(calls).toHaveLength(0);
  });

  it("is keyboard-usable: tab through the fields and submit with Enter", async () => {
    const { user, calls } = setup([() => json(201, payment())]);
    await user.tab();
    expect(document.activeElement).toBe(screen.getByLabelText("Amount"));
    await user.tab();
    expect(document.activeElement).toBe(screen.getByLabelText("Currency"));
    await user.tab();
    expect(document.activeElement).toBe(screen.getByLabelText("Card number"));
    await user.keyboard("4242424242424242");
    await user.tab();
    await user.keyboard("12/39");
    await user.tab();
    await user.keyboard("123{Enter}");
    await screen.findByText("Payment succeeded");
    expect(calls).toHaveLength(1);
  });
});
