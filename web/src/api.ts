// The payment API client (contract: API.md). Only the token, amount, currency and description are ever sent.
//
// Every body type comes from web/src/generated/api.ts, which `make docs` generates from docs/openapi.json: a change
// to the API that this page does not follow fails tsc (`make web-tests`). No API schema is written by hand here.

import type { components, paths } from "./generated/api";

/** A payment as the API returns it (`Payment` in docs/openapi.json). */
export type Payment = components["schemas"]["Payment"];

/**
 * Problem details (`Problem`, RFC 9457) as far as the answer holds them: the API's answers hold what the document
 * requires, but one from something else on the way (a proxy's error page, a body that is no JSON) has only its status.
 */
export type Problem = Partial<components["schemas"]["Problem"]>;

/**
 * The `201` of `POST /v1/payments` (`PaymentCreated` in docs/openapi.json, API.md v1.2): a payment, which with the
 * Stripe processor may be `requires_action` and then carries the intent's `client_secret` (never in a GET).
 */
export type CreatedPayment = components["schemas"]["PaymentCreated"];

export type PaymentOutcome =
  | { kind: "succeeded"; payment: Payment }
  | { kind: "requires_action"; payment: CreatedPayment; clientSecret: string | null }
  | { kind: "declined"; payment: Payment }
  | { kind: "processing"; payment: Payment | null }
  | { kind: "problem"; problem: Problem }
  | { kind: "unreachable"; message: string };

/**
 * The fields of `POST /v1/payments`'s body that the page sends (the API also takes `customer_email`; the page never
 * sends it).
 */
export type CreatePaymentRequest = Pick<
  paths["/v1/payments"]["post"]["requestBody"]["content"]["application/json"],
  "amount" | "currency" | "payment_method" | "description"
>;

export type Fetch = typeof fetch;
export type Sleep = (seconds: number) => Promise<void>;

export const realSleep: Sleep = (seconds) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** How many times a 202 or 409 is waited out and re-posted before the page says "still processing". */
export const MAX_REPOSTS = 10;

export interface ApiClient {
  createPayment(request: CreatePaymentRequest, idempotencyKey: string): Promise<PaymentOutcome>;
  getPayment(id: string): Promise<PaymentOutcome>;
  /** GET the payment until it is final (after 3-D Secure: the service learns the outcome from Stripe). */
  settle(id: string): Promise<PaymentOutcome>;
}

export interface StripeConfig {
  publishableKey: string;
  /** The development build's Stripe.js stand-in (localstripe); the production build ignores it. */
  standInUrl: string | null;
}

export interface RuntimeConfig {
  apiBaseUrl: string;
  /** Present when the stack runs the Stripe processor (config.json's stripePublishableKey). */
  stripe: StripeConfig | null;
}

const PUBLISHABLE_KEY = /^pk_(test|live)_[A-Za-z0-9]+$/;

function stripeConfig(body: { stripePublishableKey?: unknown; stripeJsUrl?: unknown } | null): StripeConfig | null {
  const key = body?.stripePublishableKey;
  if (key === undefined) return null;
  if (typeof key !== "string" || !PUBLISHABLE_KEY.test(key)) {
    throw new Error("/config.json: stripePublishableKey must be Stripe's publishable key (pk_live_... or pk_test_...)");
  }
  const url = body?.stripeJsUrl;
  if (url !== undefined && (typeof url !== "string" || !/^https?:\/\/[^\s]+$/.test(url))) {
    throw new Error("/config.json: stripeJsUrl must be an http(s) URL (the Stripe.js stand-in of a development build)");
  }
  return { publishableKey: key, standInUrl: url ?? null };
}

/** Read /config.json (written next to the build at deploy time): the API base URL is never baked in. */
export async function loadConfig(fetchImpl: Fetch = fetch): Promise<RuntimeConfig> {
  const response = await fetchImpl("/config.json", { cache: "no-store" });
  if (!response.ok) throw new Error(`/config.json answered ${response.status}`);
  const body = (await response.json()) as { apiBaseUrl?: unknown; stripePublishableKey?: unknown } | null;
  const base = body?.apiBaseUrl;
  if (base === null) {
    // What the stack writes when it has no API_DOMAIN: the ALB's own DNS name does not match its certificate.
    throw new Error("this environment has no API_DOMAIN, so the checkout has no API to call");
  }
  if (typeof base !== "string" || !/^https?:\/\/[^\s]+$/.test(base)) {
    throw new Error('/config.json must be {"apiBaseUrl": "https://..."}');
  }
  return { apiBaseUrl: base.replace(/\/+$/, ""), stripe: stripeConfig(body) };
}

function retryAfterSeconds(response: Response): number {
  const value = Number.parseInt(response.headers.get("Retry-After") ?? "", 10);
  return Number.isFinite(value) && value >= 0 ? Math.min(value, 60) : 1;
}

async function readJson(response: Response): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    return null;
  }
}

function outcomeOf(answer: CreatedPayment): PaymentOutcome {
  const { client_secret: clientSecret, ...rest } = answer;
  if (rest.status === "requires_action") return { kind: "requires_action", payment: rest, clientSecret: clientSecret ?? null };
  const payment = rest as Payment; // any status but requires_action: the generated Payment's
  if (payment.status === "succeeded") return { kind: "succeeded", payment };
  if (payment.status === "failed") return { kind: "declined", payment };
  return { kind: "processing", payment };
}

function problemOf(status: number, body: unknown): PaymentOutcome {
  const problem = (body && typeof body === "object" ? body : {}) as Problem;
  return { kind: "problem", problem: { status, ...problem } };
}

export function createApiClient(options: { baseUrl: string; fetch?: Fetch; sleep?: Sleep }): ApiClient {
  const fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
  const sleep = options.sleep ?? realSleep;
  const base = options.baseUrl.replace(/\/+$/, "");

  async function createPayment(request: CreatePaymentRequest, idempotencyKey: string): Promise<PaymentOutcome> {
    const body = JSON.stringify(request);
    let lastPayment: Payment | null = null;
    for (let post = 0; post <= MAX_REPOSTS; post += 1) {
      let response: Response;
      try {
        response = await fetchImpl(`${base}/v1/payments`, {
          method: "POST",
          headers: { "Content-Type": "application/json", "Idempotency-Key": idempotencyKey },
          body,
        });
      } catch (error) {
        return { kind: "unreachable", message: error instanceof Error ? error.message : String(error) };
      }
      const json = await readJson(response);
      if (response.status === 201 || response.status === 200) return outcomeOf(json as CreatedPayment);
      if (response.status === 202 || response.status === 409) {
        const problem = json as Problem | null;
        // 202: the processor has not answered yet; 409 in progress: the first request still runs. Both: wait and
        // re-post with the same key. Any other 409 (none on this route today) is a problem to show.
        if (response.status === 409 && problem?.code !== "idempotency_request_in_progress") {
          return problemOf(response.status, json);
        }
        if (response.status === 202) lastPayment = json as Payment;
        if (post === MAX_REPOSTS) break;
        await sleep(retryAfterSeconds(response));
        continue;
      }
      return problemOf(response.status, json);
    }
    return { kind: "processing", payment: lastPayment };
  }

  async function getPayment(id: string): Promise<PaymentOutcome> {
    let response: Response;
    try {
      response = await fetchImpl(`${base}/v1/payments/${encodeURIComponent(id)}`, {
        headers: { Accept: "application/json" },
      });
    } catch (error) {
      return { kind: "unreachable", message: error instanceof Error ? error.message : String(error) };
    }
    const json = await readJson(response);
    if (response.ok) return outcomeOf(json as CreatedPayment);
    return problemOf(response.status, json);
  }

  async function settle(id: string): Promise<PaymentOutcome> {
    let outcome = await getPayment(id);
    for (let read = 0; read < MAX_REPOSTS && (outcome.kind === "requires_action" || outcome.kind === "processing"); read += 1) {
      await sleep(1);
      outcome = await getPayment(id);
    }
    return outcome;
  }

  return { createPayment, getPayment, settle };
}

// The contract's failure codes (the service's stripe_processor.failure_code and the reconciler's), in the customer's
// words; a code this build does not know yet is shown as a decline with the code.
const FAILURE_REASONS: Readonly<Record<string, string>> = {
  card_declined: "The card was declined.",
  insufficient_funds: "Insufficient funds.",
  expired_card: "The card has expired.",
  incorrect_cvc: "The card's security code is incorrect.",
  incorrect_number: "The card number is incorrect.",
  authentication_failed: "The card's verification (3-D Secure) was not completed. No money was taken.",
  processing_error: "The payment could not be processed. No money was taken; please try again.",
};

export function failureReason(code: string | null): string {
  if (!code) return "The card was declined.";
  return FAILURE_REASONS[code] ?? `Declined (${code}).`;
}
