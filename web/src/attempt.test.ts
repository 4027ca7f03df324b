import { describe, expect, it } from "vitest";
import { AttemptKeys } from "./attempt";

function counter() {
  let n = 0;
  return () => `key-${++n}`;
}

describe("AttemptKeys", () => {
  it("reuses the key for the same attempt and makes a new one when any part changes", () => {
    const keys = new AttemptKeys(counter());
    const base = { amountMinor: 1999, currency: "EUR" as const, token: "pm_card_visa" };
    expect(keys.keyFor(base)).toBe("key-1");
    expect(keys.keyFor({ ...base })).toBe("key-1");
    expect(keys.keyFor({ ...base, amountMinor: 2000 })).toBe("key-2");
    expect(keys.keyFor({ ...base, amountMinor: 2000, currency: "USD" })).toBe("key-3");
    expect(keys.keyFor({ ...base, amountMinor: 2000, currency: "USD", token: "pm_card_declined" })).toBe("key-4");
    expect(keys.keyFor(base)).toBe("key-5");
  });

  it("uses crypto.randomUUID by default", () => {
    const key = new AttemptKeys().keyFor({ amountMinor: 1, currency: "JPY", token: "pm_card_visa" });
    expect(key).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
