// The production build under a Stripe stack's config.json and CSP (tools/dev/web_e2e.py: web_headers.STRIPE).
// Nothing reaches the internet: the tests answer https://js.stripe.com themselves with a recording Stripe.js
// double (its card element is an iframe from js.stripe.com, like Stripe's), and abort every other outside request.
// The PaymentMethod it creates is pm_card_visa, which the local API's simulated processor accepts, so Pay goes
// through the real API. What only real Stripe shows (its iframe's contents, real 3-D Secure) is in docs/checkout.md.
import type { Page, Route } from "playwright-core";
import { describe, expect, it } from "vitest";
import { databaseFor, env, useBrowser, type Session } from "./harness";

const session = useBrowser();
const STRIPE_JS = "https://js.stripe.com";

/** Stripe.js as far as the page uses it, recording every call on window.__stripe. */
const STRIPE_DOUBLE = `
(() => {
  const calls = (window.__stripe = { keys: [], created: [], mountedIn: [], paymentMethods: 0 });
  window.Stripe = function (key) {
    calls.keys.push(key);
    return {
      elements() {
        return {
          create(type) {
            calls.created.push(type);
            const handlers = [];
            return {
              mount(node) {
                calls.mountedIn.push(node.getAttribute("data-testid"));
                const frame = document.createElement("iframe");
                frame.name = "__privateStripeFrame1";
                frame.title = "Secure card payment input frame";
                frame.src = "${STRIPE_JS}/v3/elements-inner-card.html";
                node.appendChild(frame);
                setTimeout(() => handlers.forEach((h) => h({ complete: true, empty: false })), 0);
              },
              on(event, handler) { if (event === "change") handlers.push(handler); },
              destroy() {},
            };
          },
        };
      },
      async createPaymentMethod() {
        calls.paymentMethods += 1;
        return { paymentMethod: { id: "pm_card_visa" } };
      },
      async confirmCardPayment() { return { error: { message: "not expected in these tests" } }; },
    };
  };
})();
`;

interface Recorded {
  keys: string[];
  created: string[];
  mountedIn: string[];
  paymentMethods: number;
}

/** Answer Stripe's origin with the double, let the page's own origin and the local API through, abort the rest. */
async function offline(s: Session): Promise<string[]> {
  const aborted: string[] = [];
  await s.context.route("**/*", async (route: Route) => {
    const url = route.request().url();
    const origin = new URL(url).origin;
    if (origin === STRIPE_JS) {
      const script = url.endsWith(".js") || url.includes("/stripe.js");
      await route.fulfill({
        status: 200,
        contentType: script ? "text/javascript" : "text/html",
        body: script ? STRIPE_DOUBLE : "<!doctype html><title>card</title>",
      });
    } else if (origin === env.stripeBaseUrl || origin === env.apiUrl) {
      await route.continue();
    } else {
      aborted.push(url);
      await route.abort();
    }
  });
  return aborted;
}

async function recorded(page: Page): Promise<Recorded> {
  return page.evaluate(() => (window as unknown as { __stripe: Recorded }).__stripe);
}

describe("the production build with Stripe", () => {
  it("loads Stripe.js only from https://js.stripe.com and mounts Stripe's card element, no card input of its own", async () => {
    const s = session();
    const aborted = await offline(s);
    const response = await s.page.goto(env.stripeBaseUrl + "/");
    const csp = response?.headers()["content-security-policy"] ?? "";
    expect(csp).toContain(`script-src 'self' ${STRIPE_JS} https://*.js.stripe.com;`);
    expect(csp).toContain("frame-src https://js.stripe.com https://*.js.stripe.com https://hooks.stripe.com;");
    await expect.poll(() => s.page.locator("iframe[name^='__privateStripeFrame']").count(), { timeout: 20_000 }).toBe(1);
    const scripts = s.requests.filter((r) => /\.js(\?|$)|\/stripe\.js/.test(r.url)).map((r) => new URL(r.url).origin);
    expect(new Set(scripts)).toEqual(new Set([env.stripeBaseUrl, STRIPE_JS]));
    const stripeScripts = s.requests.filter((r) => r.url.startsWith(STRIPE_JS) && r.url.includes("stripe.js"));
    expect(stripeScripts.map((r) => r.url)).toEqual([expect.stringMatching(/^https:\/\/js\.stripe\.com\/[a-z0-9]+\/stripe\.js/)]);
    const stripe = await recorded(s.page);
    expect(stripe.keys).toEqual([env.publishableKey]);
    expect(stripe.created).toEqual(["card"]);
    expect(stripe.mountedIn).toEqual(["stripe-card-element"]);
    expect(await s.page.locator("input[autocomplete^='cc-']").count()).toBe(0);
    expect(await s.page.getByLabel("Card number").count()).toBe(0);
    expect(await s.page.locator("input").count()).toBe(1); // the amount
    expect(aborted).toEqual([]);
    expect(s.problems, "CSP violations or console errors").toEqual([]);
  });

  it("pays with the PaymentMethod from Stripe.js through the API, which receives only its id", async () => {
    const s = session();
    await offline(s);
    await s.page.goto(env.stripeBaseUrl + "/");
    await expect.poll(() => s.page.locator("iframe[name^='__privateStripeFrame']").count(), { timeout: 20_000 }).toBe(1);
    await s.page.getByLabel("Amount").fill("63.21");
    await s.page.getByRole("button", { name: "Pay" }).click();
    await expect.poll(() => s.page.getByText("Payment succeeded").isVisible(), { timeout: 20_000 }).toBe(true);
    const posts = s.requests.filter((r) => r.method === "POST" && r.url === `${env.apiUrl}/v1/payments`);
    expect(posts.map((r) => JSON.parse(r.body) as unknown)).toEqual([
      { amount: 6321, currency: "EUR", payment_method: "pm_card_visa", description: "Order 1042" },
    ]);
    expect((await recorded(s.page)).paymentMethods).toBe(1);
    expect((await databaseFor(6321, "EUR")).payments.map((p) => p.status)).toEqual(["succeeded"]);
    expect(s.problems, "CSP violations or console errors").toEqual([]);
  });

  it("a config.json without a Stripe key cannot bring card inputs back: the checkout says it is unavailable", async () => {
    const s = session();
    await offline(s);
    await s.page.route(`${env.stripeBaseUrl}/config.json`, (route) =>
      route.fulfill({ status: 200, contentType: "application/json", body: JSON.stringify({ apiBaseUrl: env.apiUrl }) }),
    );
    await s.page.goto(env.stripeBaseUrl + "/");
    await expect.poll(() => s.page.getByText("Checkout unavailable").isVisible(), { timeout: 20_000 }).toBe(true);
    await expect.poll(() => s.page.getByRole("alert").textContent()).toContain("takes cards only through Stripe");
    expect(await s.page.locator("input").count()).toBe(0);
    expect(s.requests.some((r) => r.url.startsWith(STRIPE_JS))).toBe(false);
    expect(s.problems, "CSP violations or console errors").toEqual([]);
  });
});
