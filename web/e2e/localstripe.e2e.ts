// The checkout against localstripe's Stripe.js stand-in and the API's Stripe processor: a payment, a 3-D Secure
// completed and one failed. It needs the local Stripe emulator (tools/dev/local_stripe, issue 26 item 4) started by
// tools/dev/web_e2e.py with a second API on the Stripe processor; until the runner sets E2E_LOCALSTRIPE_BASE_URL
// (that checkout: the development build, config.json with stripePublishableKey and stripeJsUrl
// <emulator>/js.stripe.com/v3/, CSP web_headers.stripe_emulator(<emulator>)) these tests are skipped, and say so.
// The stand-in's fields are plain inputs (placeholders number, exp_month, exp_year, cvc, postal_code), not an iframe.
import type { Page } from "playwright-core";
import { describe, expect, it } from "vitest";
import { useBrowser } from "./harness";

const base = process.env.E2E_LOCALSTRIPE_BASE_URL ?? "";
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

/** Console errors, less the stand-in's expected version-mismatch warning (a warning, listed for clarity). */
function problems(page: { problems: string[] }): string[] {
  return page.problems.filter((p) => !p.includes("was loaded on the page, but @stripe/stripe-js"));
}

describe.skipIf(!base)("checkout through localstripe's Stripe.js stand-in (needs E2E_LOCALSTRIPE_BASE_URL)", () => {
  it("pays with a test card", async () => {
    const s = session();
    await payWith(s.page, "14.20", "4242424242424242");
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 30_000 }).toBe(true);
    expect(problems(s)).toEqual([]);
  });

  it("completes 3-D Secure: the stand-in's challenge, then the API's succeeded", async () => {
    const s = session();
    await payWith(s.page, "31.84", "4000002760003184");
    await s.page.getByRole("button", { name: "Complete authentication" }).click({ timeout: 30_000 });
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 30_000 }).toBe(true);
    expect(problems(s)).toEqual([]);
  });

  it("a failed 3-D Secure ends declined or not completed, never succeeded", async () => {
    const s = session();
    await payWith(s.page, "31.85", "4000002760003184");
    await s.page.getByRole("button", { name: "Fail authentication" }).click({ timeout: 30_000 });
    const outcome = s.page.locator(".outcome h2");
    await expect.poll(() => outcome.textContent(), { timeout: 30_000 }).toMatch(/Payment declined|Authentication not completed/);
    expect(problems(s)).toEqual([]);
  });
});
