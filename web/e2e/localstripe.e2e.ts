// The checkout against localstripe's Stripe.js stand-in and the API's Stripe processor: a payment, a declined card, a
// 3-D Secure completed and one failed. tools/dev/web_e2e.py starts the local Stripe emulator (tools/dev/local_stripe,
// patched: its stand-in creates PaymentMethods with the publishable key, as Stripe.js does) and a second API on the
// Stripe processor (make api's, the emulator delivering its signed events to the API's webhook), and serves the
// development build at E2E_LOCALSTRIPE_BASE_URL with config.json naming the stand-in (stripeJsUrl
// <emulator>/js.stripe.com/v3/) and the CSP of web_headers.stripe_emulator(<emulator>).
// The stand-in's fields are plain inputs (placeholders number, exp_month, exp_year, cvc, postal_code), not an iframe.
// No test may log a console error or a CSP violation (session.problems); @stripe/stripe-js's notice that the stand-in
// is not the Stripe.js release it expects is a console warning, so it is not among them.
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { useBrowser } from "./harness";

const base = process.env.E2E_LOCALSTRIPE_BASE_URL ?? "";
if (!base) throw new Error("E2E_LOCALSTRIPE_BASE_URL is not set: run the browser tests with `make web-e2e`");
const session = useBrowser();

async function payWith(page: Page, amount: string, number: string): Promise<void> {
  await page.goto(base + "/");
  await expect.poll(() => page.getByPlaceholder("number").isVisible(), { timeout: 20_000 }).toBe(true);
  await page.getByLabel("Amount").fill(amount);
  await page.getByPlaceholder("number").pressSequentially(number);
  await page.getByPlaceholder("exp_month").pressSequentially("12");
  await page.getByPlaceholder("exp_year").pressSequentially("34");
  await page.getByPlaceholder("cvc").pressSequentially("123");
  await page.getByPlaceholder("postal_code").pressSequentially("10001");
  await page.getByRole("button", { name: "Pay" }).click();
}

/** The requests that carried the card number: only the stand-in's PaymentMethod creation, to the emulator. */
function sentTheNumber(s: { requests: { method: string; url: string; body: string }[] }, number: string): string[] {
  return s.requests.filter((r) => `${r.url} ${r.body}`.includes(number)).map((r) => `${r.method} ${new URL(r.url).pathname}`);
}

describe("checkout through localstripe's Stripe.js stand-in and the Stripe processor", () => {
  it("pays with a test card: the stand-in creates the PaymentMethod, the API gets only its id", async () => {
    const s = session();
    await payWith(s.page, "14.20", "4242424242424242");
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 30_000 }).toBe(true);
    expect(sentTheNumber(s, "4242424242424242")).toEqual(["POST /v1/payment_methods"]);
    const payment = s.requests.find((r) => r.method === "POST" && new URL(r.url).pathname === "/v1/payments");
    expect(JSON.parse(payment?.body ?? "{}").payment_method).toMatch(/^pm_[A-Za-z0-9]+$/);
    expect(s.problems).toEqual([]);
  });

  it("shows Payment declined for Stripe's declined test card", async () => {
    const s = session();
    await payWith(s.page, "14.21", "4000000000000002");
    await expect.poll(() => s.page.getByText("Payment declined").isVisible(), { timeout: 30_000 }).toBe(true);
    await expect.poll(() => s.page.locator(".declined code").textContent()).toBe("card_declined");
    expect(s.problems).toEqual([]);
  });

  it("completes 3-D Secure: the stand-in's challenge, then the API's succeeded", async () => {
    const s = session();
    await payWith(s.page, "31.84", "4000002760003184");
    await s.page.getByRole("button", { name: "Complete authentication" }).click({ timeout: 30_000 });
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 30_000 }).toBe(true);
    expect(s.problems).toEqual([]);
  });

  it("a failed 3-D Secure ends declined or not completed, never succeeded", async () => {
    const s = session();
    await payWith(s.page, "31.85", "4000002760003184");
    await s.page.getByRole("button", { name: "Fail authentication" }).click({ timeout: 30_000 });
    const outcome = s.page.locator(".outcome h2");
    await expect.poll(() => outcome.textContent(), { timeout: 30_000 }).toMatch(/Payment declined|Authentication not completed/);
    expect(await s.page.getByText("Payment succeeded").count()).toBe(0);
    expect(s.problems).toEqual([]);
  });
});
