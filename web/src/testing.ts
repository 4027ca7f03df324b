// Test helpers: a scripted fetch that records every request, and API bodies typed by the generated API types.
import type { Fetch, Payment } from "./api";

export interface Recorded {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string | undefined;
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  const contentType = status >= 400 ? "application/problem+json" : "application/json";
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": contentType, ...headers } });
}

/** A `Payment` body as the API answers it (components["schemas"]["Payment"]), with `overrides`. */
export function payment(overrides: Partial<Payment> = {}): Payment {
  return {
    id: "pay_4fK9qZ2mT7xW1rB8nH3cVd",
    status: "succeeded",
    amount: 1999,
    currency: "EUR",
    amount_refunded: 0,
    description: "Order 1042",
    card: { brand: "visa", last4: "4242" },
    failure_code: null,
    created_at: "2026-11-30T10:00:00.123Z",
    ...overrides,
  };
}

/** A fetch answering with `responses` in order (the last one repeats); `gate` holds answers until released. */
export function scriptedFetch(responses: (() => Response)[], gate?: Promise<void>) {
  const calls: Recorded[] = [];
  const impl: Fetch = async (input, init) => {
    const headers = Object.fromEntries(new Headers(init?.headers).entries());
    calls.push({ url: String(input), method: init?.method ?? "GET", headers, body: init?.body as string | undefined });
    const index = Math.min(calls.length - 1, responses.length - 1);
    if (gate) await gate;
    return responses[index]();
  };
  return { fetch: impl, calls };
}
