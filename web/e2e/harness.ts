// What every browser test shares: one headless Debian chromium (playwright-core, executablePath: no browser
// download), a fresh context per test with a Playwright trace, a record of every request the page makes, and
// every CSP violation or console error. A failed test keeps its screenshot and trace in E2E_RESULTS.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page, type Request } from "playwright-core";
import { afterAll, afterEach, beforeAll, beforeEach, expect, type TestContext } from "vitest";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run the browser tests with \`make web-e2e\` (tools/dev/web_e2e.py)`);
  return value;
}

export const env = {
  /** The development build (the simulator's config and CSP). */
  baseUrl: required("E2E_BASE_URL"),
  /** The production build with a Stripe stack's config.json and CSP. */
  stripeBaseUrl: required("E2E_STRIPE_BASE_URL"),
  publishableKey: required("E2E_PUBLISHABLE_KEY"),
  apiUrl: required("E2E_API_URL"),
  inspectUrl: required("E2E_INSPECT_URL"),
  chromium: required("E2E_CHROMIUM"),
  results: required("E2E_RESULTS"),
  screenshot: required("E2E_SCREENSHOT"),
};

export interface SentRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface Session {
  page: Page;
  context: BrowserContext;
  requests: SentRequest[];
  /** CSP violations (securitypolicyviolation events and Chromium's console reports) and console errors. */
  problems: string[];
}

let browser: Browser;
let current: Session | undefined;

function slug(name: string): string {
  return name.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "").toLowerCase();
}

/** Browser, per-test session and failure artifacts for the calling test file. */
export function useBrowser(): () => Session {
  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: env.chromium, headless: true, args: ["--no-sandbox"] });
  });
  afterAll(async () => {
    await browser?.close();
  });
  beforeEach(async () => {
    const context = await browser.newContext({ viewport: { width: 900, height: 900 }, deviceScaleFactor: 1 });
    await context.tracing.start({ screenshots: true, snapshots: true });
    // Before any page script: report every CSP violation the document sees to the test.
    await context.addInitScript(() => {
      document.addEventListener("securitypolicyviolation", (event) => {
        console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
      });
    });
    const page = await context.newPage();
    const session: Session = { page, context, requests: [], problems: [] };
    page.on("request", (request: Request) => {
      session.requests.push({
        method: request.method(),
        url: request.url(),
        headers: request.headers(),
        body: request.postData() ?? "",
      });
    });
    page.on("console", (message) => {
      if (message.type() === "error") session.problems.push(message.text());
    });
    page.on("pageerror", (error) => session.problems.push(`page error: ${error.message}`));
    current = session;
  });
  afterEach(async (context: TestContext) => {
    const session = current;
    current = undefined;
    if (!session) return;
    const failed = context.task.result?.state === "fail";
    const name = slug(context.task.name);
    if (failed) {
      await session.page.screenshot({ path: join(env.results, `${name}.png`), fullPage: true }).catch(() => {});
      await session.context.tracing.stop({ path: join(env.results, `${name}.trace.zip`) });
    } else {
      await session.context.tracing.stop();
    }
    await session.context.close();
  });
  return () => {
    if (!current) throw new Error("no browser session: call inside a test");
    return current;
  };
}

/** Fill the checkout form the way a person does (typing, not setting values). */
export async function fillCheckout(
  page: Page,
  card: { amount: string; currency?: string; number: string; expiry?: string; cvc?: string },
): Promise<void> {
  await page.getByLabel("Amount").fill("");
  await page.getByLabel("Amount").pressSequentially(card.amount);
  if (card.currency) await page.getByLabel("Currency").selectOption(card.currency);
  await page.getByLabel("Card number").pressSequentially(card.number);
  await page.getByLabel("Expiry").pressSequentially(card.expiry ?? "12/34");
  await page.getByLabel("CVC").pressSequentially(card.cvc ?? "123");
}

export async function openCheckout(page: Page): Promise<void> {
  await page.goto(env.baseUrl + "/");
  await expect.poll(() => page.getByRole("button", { name: "Pay" }).isVisible()).toBe(true);
}

/** What the database holds for an amount: payments and processor charges (the harness's inspection endpoint). */
export async function databaseFor(amount: number, currency: string): Promise<{
  payments: { id: string; status: string }[];
  charges: number;
  processor_calls: number;
}> {
  const response = await fetch(`${env.inspectUrl}/payments?amount=${amount}&currency=${currency}`);
  if (!response.ok) throw new Error(`inspection answered ${response.status}`);
  return (await response.json()) as { payments: { id: string; status: string }[]; charges: number; processor_calls: number };
}

/** The axe-core source, evaluated through the DevTools protocol (CSP governs the page's scripts, not this). */
export function axeSource(): string {
  return readFileSync(join(process.cwd(), "node_modules", "axe-core", "axe.min.js"), "utf-8");
}
