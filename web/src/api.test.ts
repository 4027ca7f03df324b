import { describe, expect, it } from "vitest";
import {
  createApiClient,
  failureReason,
  loadConfig,
  MAX_REPOSTS,
  type CreatePaymentRequest,
  type Problem,
} from "./api";
import { json, payment, scriptedFetch } from "./testing";

const request = { amount: 1999, currency: "EUR", payment_method: "pm_card_visa" } satisfies CreatePaymentRequest;

describe("createPayment", () => {
  it("posts the token, amount and currency with the Idempotency-Key", async () => {
    const { fetch, calls } = scriptedFetch([() => json(201, payment())]);
    const client = createApiClient({ baseUrl: "http://api.test/", fetch });
    const outcome = await client.createPayment(request, "key-1");
    expect(outcome).toEqual({ kind: "succeeded", payment: payment() });
    expect(calls).toHaveLength(1);
    expect(calls[0].url).toBe("http://api.test/v1/payments");
    expect(calls[0].method).toBe("POST");
    expect(calls[0].headers["idempotency-key"]).toBe("key-1");
    expect(JSON.parse(calls[0].body!)).toEqual(request);
  });

  it("on 202 waits Retry-After seconds and re-posts the same body with the same key", async () => {
    const slept: number[] = [];
    const { fetch, calls } = scriptedFetch([
      () => json(202, payment({ status: "processing", card: null }), { "Retry-After": "2" }),
      () => json(201, payment()),
    ]);
    const client = createApiClient({ baseUrl: "http://api.test", fetch, sleep: async (s) => void slept.push(s) });
    const outcome = await client.createPayment(request, "key-1");
    expect(outcome.kind).toBe("succeeded");
    expect(slept).toEqual([2]);
    expect(calls.map((c) => c.headers["idempotency-key"])).toEqual(["key-1", "key-1"]);
    expect(calls[1].body).toBe(calls[0].body);
  });

  it("waits out 409 idempotency_request_in_progress with the same key", async () => {
    const slept: number[] = [];
    const inProgress = { status: 409, code: "idempotency_request_in_progress" } satisfies Problem;
    const { fetch, calls } = scriptedFetch([
      () => json(409, inProgress, { "Retry-After": "1" }),
      () => json(201, payment()),
    ]);
    const client = createApiClient({ baseUrl: "http://api.test", fetch, sleep: async (s) => void slept.push(s) });
    expect((await client.createPayment(request, "k")).kind).toBe("succeeded");
    expect(slept).toEqual([1]);
    expect(calls.map((c) => c.headers["idempotency-key"])).toEqual(["k", "k"]);
  });

  it("stops re-posting after MAX_REPOSTS and reports the payment as processing", async () => {
    const { fetch, calls } = scriptedFetch([
      () => json(202, payment({ status: "processing" }), { "Retry-After": "1" }),
    ]);
    const client = createApiClient({ baseUrl: "http://api.test", fetch, sleep: async () => undefined });
    const outcome = await client.createPayment(request, "k");
    expect(outcome.kind).toBe("processing");
    expect(calls).toHaveLength(MAX_REPOSTS + 1);
  });

  it("reports a decline, a validation problem and an unreachable API", async () => {
    const declined = payment({ status: "failed", failure_code: "insufficient_funds" });
    let client = createApiClient({ baseUrl: "http://a", fetch: scriptedFetch([() => json(201, declined)]).fetch });
    expect(await client.createPayment(request, "k")).toEqual({ kind: "declined", payment: declined });

    const problem = {
      type: "about:blank", title: "Validation failed", status: 400, code: "validation_failed",
      detail: "The request is invalid.", errors: [{ field: "amount", message: "must be at most 99999999" }],
    } satisfies Required<Problem>;
    client = createApiClient({ baseUrl: "http://a", fetch: scriptedFetch([() => json(400, problem)]).fetch });
    expect(await client.createPayment(request, "k")).toEqual({ kind: "problem", problem });

    client = createApiClient({
      baseUrl: "http://a",
      fetch: async () => {
        throw new TypeError("Failed to fetch");
      },
    });
    expect(await client.createPayment(request, "k")).toEqual({ kind: "unreachable", message: "Failed to fetch" });
  });
});

describe("getPayment and loadConfig", () => {
  it("reads a payment by id", async () => {
    const { fetch, calls } = scriptedFetch([() => json(200, payment())]);
    const client = createApiClient({ baseUrl: "http://api.test", fetch });
    expect((await client.getPayment("pay_1")).kind).toBe("succeeded");
    expect(calls[0].url).toBe("http://api.test/v1/payments/pay_1");
  });

  it("takes the API base URL from /config.json", async () => {
    const { fetch, calls } = scriptedFetch([() => json(200, { apiBaseUrl: "https://api.example.com/" })]);
    expect(await loadConfig(fetch)).toEqual({ apiBaseUrl: "https://api.example.com", stripe: null });
    expect(calls[0].url).toBe("/config.json");
    await expect(loadConfig(scriptedFetch([() => json(200, {})]).fetch)).rejects.toThrow(/apiBaseUrl/);
  });

  it("takes Stripe's publishable key (and a development stand-in's URL) from /config.json, refusing anything else", async () => {
    const config = (body: object) => loadConfig(scriptedFetch([() => json(200, { apiBaseUrl: "https://a.test", ...body })]).fetch);
    expect((await config({ stripePublishableKey: "pk_live_51Abc" })).stripe).toEqual({
      publishableKey: "pk_live_51Abc", standInUrl: null,
    });
    expect((await config({ stripePublishableKey: "pk_test_1", stripeJsUrl: "http://127.0.0.1:8420/js.stripe.com/v3/" })).stripe)
      .toEqual({ publishableKey: "pk_test_1", standInUrl: "http://127.0.0.1:8420/js.stripe.com/v3/" });
    for (const wrong of ["sk_live_51Abc", "", "pk_live_", 42]) {
      await expect(config({ stripePublishableKey: wrong })).rejects.toThrow(/stripePublishableKey must be Stripe's publishable key/);
    }
    await expect(config({ stripePublishableKey: "pk_test_1", stripeJsUrl: "javascript:alert(1)" })).rejects.toThrow(/stripeJsUrl/);
  });

  it("a requires_action 201 carries the client secret; settle reads the payment until it is final", async () => {
    const created = { ...payment({ card: null }), status: "requires_action", client_secret: "pi_1_secret_2" };
    const { fetch, calls } = scriptedFetch([
      () => json(201, created),
      () => json(200, { ...payment({ card: null }), status: "requires_action" }),
      () => json(200, payment()),
    ]);
    const slept: number[] = [];
    const client = createApiClient({ baseUrl: "http://api.test", fetch, sleep: async (s) => void slept.push(s) });
    const outcome = await client.createPayment({ amount: 1999, currency: "EUR", payment_method: "pm_1" }, "k");
    expect(outcome.kind === "requires_action" && outcome.clientSecret).toBe("pi_1_secret_2");
    expect(outcome.kind === "requires_action" && "client_secret" in outcome.payment).toBe(false);
    expect((await client.settle("pay_4fK9qZ2mT7xW1rB8nH3cVd")).kind).toBe("succeeded");
    expect(calls.map((c) => c.method)).toEqual(["POST", "GET", "GET"]);
    expect(slept).toEqual([1]);
  });

  it("says the environment has no API_DOMAIN when the stack wrote a null apiBaseUrl", async () => {
    const { fetch } = scriptedFetch([() => json(200, { apiBaseUrl: null })]);
    await expect(loadConfig(fetch)).rejects.toThrow(/no API_DOMAIN/);
  });
});

describe("failureReason", () => {
  // Every failure_code the service sets (services/payment_api: stripe_processor.failure_code, the reconciler).
  const codes = [
    "card_declined",
    "insufficient_funds",
    "expired_card",
    "incorrect_cvc",
    "incorrect_number",
    "authentication_failed",
    "processing_error",
  ];

  it.each(codes)("words %s in the customer's terms, without the generic fallback", (code) => {
    expect(failureReason(code)).not.toMatch(/^Declined \(/);
  });

  it("says a 3-D Secure that was not completed took no money", () => {
    expect(failureReason("authentication_failed")).toBe(
      "The card's verification (3-D Secure) was not completed. No money was taken.",
    );
  });

  it("shows a code this build does not know as a decline naming it, and no code as a decline", () => {
    expect(failureReason("new_code")).toBe("Declined (new_code).");
    expect(failureReason(null)).toBe("The card was declined.");
  });
});
