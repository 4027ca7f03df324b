// The checkout in headless Chromium against the real API and PostgreSQL, under the headers CloudFront sends
// (tools/dev/web_e2e.py serves the production build with lib/blocks/web_headers.py's CSP).
import { describe, expect, it } from "vitest";
import { axeSource, databaseFor, env, fillCheckout, openCheckout, useBrowser, type Session } from "./harness";

const session = useBrowser();
const PAYMENT_ID = /pay_[A-Za-z0-9]{22}/;

function paymentPosts(s: Session) {
  return s.requests.filter((r) => r.method === "POST" && r.url === `${env.apiUrl}/v1/payments`);
}

function expectNoProblems(s: Session) {
  expect(s.problems, "CSP violations or console errors").toEqual([]);
}

describe("checkout against the payment API", () => {
  it("pays: Payment succeeded with the full payment id, stored once in the database", async () => {
    const s = session();
    const response = await s.page.goto(env.baseUrl + "/");
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain(`connect-src 'self' ${env.apiUrl};`);
    expect(csp).toContain("frame-ancestors 'none'");
    await fillCheckout(s.page, { amount: "19.99", currency: "EUR", number: "4242 4242 4242 4242" });
    // docs/checkout.png: no focus ring or caret, so the same page gives the same bytes run after run.
    await s.page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await s.page.screenshot({ path: env.screenshot, fullPage: true, animations: "disabled", caret: "hide" });
    await s.page.getByRole("button", { name: "Pay" }).click();
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 20_000 }).toBe(true);
    const shown = (await s.page.locator(".success code").textContent()) ?? "";
    expect(shown).toMatch(new RegExp(`^${PAYMENT_ID.source}$`));
    const stored = await databaseFor(1999, "EUR");
    expect(stored.payments).toEqual([{ id: shown, status: "succeeded" }]);
    expectNoProblems(s);
  });

  it("shows Payment declined with the reason for a declined card and for insufficient funds", async () => {
    const s = session();
    await openCheckout(s.page);
    await fillCheckout(s.page, { amount: "25.00", currency: "USD", number: "4000 0000 0000 0002" });
    await s.page.getByRole("button", { name: "Pay" }).click();
    await expect.poll(() => s.page.getByText("Payment declined").isVisible(), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => s.page.locator(".declined code").textContent()).toBe("card_declined");
    // Changing the card after a decline is a new attempt: a new key, a new payment.
    await s.page.getByLabel("Card number").fill("");
    await s.page.getByLabel("Card number").pressSequentially("4000 0000 0000 9995");
    await s.page.getByRole("button", { name: "Pay" }).click();
    await expect.poll(() => s.page.locator(".declined code").textContent(), { timeout: 20_000 }).toBe(
      "insufficient_funds",
    );
    const keys = paymentPosts(s).map((r) => r.headers["idempotency-key"]);
    expect(keys).toHaveLength(2);
    expect(new Set(keys).size).toBe(2);
    const stored = await databaseFor(2500, "USD");
    expect(stored.payments.map((p) => p.status)).toEqual(["failed", "failed"]);
    expectNoProblems(s);
  });

  it("a double click on Pay makes exactly one payment and one processor charge", async () => {
    const s = session();
    await openCheckout(s.page);
    await fillCheckout(s.page, { amount: "37.77", currency: "EUR", number: "4242 4242 4242 4242" });
    await s.page.getByRole("button", { name: "Pay" }).dblclick();
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 20_000 }).toBe(true);
    const posts = paymentPosts(s);
    expect(posts.length).toBeGreaterThanOrEqual(1);
    expect(new Set(posts.map((r) => r.headers["idempotency-key"])).size).toBe(1);
    const stored = await databaseFor(3777, "EUR");
    expect(stored.payments).toHaveLength(1);
    expect([stored.charges, stored.processor_calls]).toEqual([1, 1]);
    expectNoProblems(s);
  });

  it("a processor timeout (202) is waited out for Retry-After and re-posted with the same key: charged once", async () => {
    const s = session();
    await openCheckout(s.page);
    await fillCheckout(s.page, { amount: "11.19", currency: "CAD", number: "4000 0000 0000 0119" });
    await s.page.getByRole("button", { name: "Pay" }).click();
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 20_000 }).toBe(true);
    const posts = paymentPosts(s);
    expect(posts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(posts.map((r) => r.headers["idempotency-key"])).size).toBe(1);
    const stored = await databaseFor(1119, "CAD");
    expect(stored.payments.map((p) => p.status)).toEqual(["succeeded"]);
    expect(stored.charges).toBe(1);
    expectNoProblems(s);
  });

  it("never sends a typed card digit, the expiry or the CVC in any request to our API", async () => {
    const s = session();
    await openCheckout(s.page);
    await fillCheckout(s.page, {
      amount: "42.10", currency: "GBP", number: "4242 4242 4242 4242", expiry: "11/29", cvc: "987",
    });
    await s.page.getByRole("button", { name: "Pay" }).click();
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 20_000 }).toBe(true);
    const toApi = s.requests.filter((r) => r.url.startsWith(env.apiUrl));
    expect(toApi.length).toBeGreaterThanOrEqual(1);
    for (const request of toApi) {
      const everything = `${request.url}\n${JSON.stringify(request.headers)}\n${request.body}`;
      expect(everything.replace(/\s/g, "")).not.toContain("4242424242424242");
      expect(everything).not.toMatch(/\d{13,19}/);
      expect(everything).not.toMatch(/11\s*\/\s*29|1129/);
      if (request.body) {
        const body = JSON.parse(request.body) as Record<string, unknown>;
        expect(Object.keys(body).sort()).toEqual(["amount", "currency", "description", "payment_method"]);
        expect(Object.values(body).map(String)).not.toContain("987");
        expect(body.payment_method).toBe("pm_card_visa");
      }
    }
    // The page talks to its own origin and the API, nowhere else.
    const origins = new Set(s.requests.map((r) => new URL(r.url).origin));
    expect([...origins].sort()).toEqual([env.apiUrl, env.baseUrl].sort());
    expectNoProblems(s);
  });

  it("the CSP is enforced and reported: a fetch to another origin is blocked and seen as a violation", async () => {
    const s = session();
    await openCheckout(s.page);
    expectNoProblems(s);
    const outcome = await s.page.evaluate(async () => {
      try {
        await fetch("https://example.com/collect");
        return "sent";
      } catch {
        return "blocked";
      }
    });
    expect(outcome).toBe("blocked");
    await expect.poll(() => s.problems.some((p) => p.includes("connect-src"))).toBe(true);
  });

  it("serves a payment's status page on a deep link (index.html for unknown paths, as CloudFront does)", async () => {
    const s = session();
    const [payment] = (await databaseFor(1999, "EUR")).payments;
    expect(payment, "the successful payment of the first test").toBeDefined();
    await s.page.goto(`${env.baseUrl}/payments/${payment.id}`);
    await expect.poll(() => s.page.getByText(payment.id).first().isVisible(), { timeout: 20_000 }).toBe(true);
    expectNoProblems(s);
  });

  it("has no serious or critical axe-core violations on the checkout, filled in and after a decline", async () => {
    const s = session();
    await openCheckout(s.page);
    await s.page.evaluate(axeSource());
    const serious = async () =>
      s.page.evaluate(async () => {
        const axe = (window as unknown as { axe: { run: () => Promise<{ violations: { id: string; impact: string }[] }> } }).axe;
        const { violations } = await axe.run();
        return violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => v.id);
      });
    expect(await serious()).toEqual([]);
    await fillCheckout(s.page, { amount: "500", currency: "JPY", number: "4000 0000 0000 0002" });
    expect(await serious()).toEqual([]);
    await s.page.getByRole("button", { name: "Pay" }).click();
    await expect.poll(() => s.page.getByText("Payment declined").isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await serious()).toEqual([]);
    expectNoProblems(s);
  });

  it("pays on a phone-sized screen with the keyboard alone: fields in order, no sideways scrolling", async () => {
    const s = session();
    await s.page.setViewportSize({ width: 360, height: 740 });
    await openCheckout(s.page);
    const overflow = () =>
      s.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    expect(await overflow(), "page wider than a 360 px screen").toBeLessThanOrEqual(0);
    const focused = (label: string) =>
      s.page.getByLabel(label).evaluate((element) => element === document.activeElement);
    // From the top of the page, Tab reaches Amount first, then every field in reading order, then Pay.
    for (let presses = 0; presses < 10 && !(await focused("Amount")); presses += 1) await s.page.keyboard.press("Tab");
    expect(await focused("Amount")).toBe(true);
    await s.page.keyboard.press("Control+A");
    await s.page.keyboard.type("42.10");
    for (const [label, text] of [["Currency", ""], ["Card number", "4242424242424242"], ["Expiry", "12/34"], ["CVC", "123"]]) {
      await s.page.keyboard.press("Tab");
      expect(await focused(label), `Tab should move to ${label}`).toBe(true);
      if (text) await s.page.keyboard.type(text);
    }
    await s.page.keyboard.press("Tab");
    const pay = s.page.getByRole("button", { name: "Pay" });
    expect(await pay.evaluate((element) => element === document.activeElement)).toBe(true);
    const box = await pay.boundingBox();
    expect(box && box.x >= 0 && box.x + box.width <= 360, "Pay fits the screen").toBe(true);
    await s.page.keyboard.press("Enter");
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 20_000 }).toBe(true);
    expect(await overflow(), "result wider than a 360 px screen").toBeLessThanOrEqual(0);
    const stored = await databaseFor(4210, "EUR"); // the page's default currency, left as it was
    expect(stored.payments.map((p) => p.status)).toEqual(["succeeded"]);
    expectNoProblems(s);
  });
});
