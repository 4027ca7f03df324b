import { describe, expect, it } from "vitest";
import { expiryError, luhnValid, tokenize } from "./tokenizer";

const now = new Date(2026, 10, 30);
const card = (cardNumber: string) => ({ cardNumber, expiry: "12/30", cvc: "123" });

describe("tokenize", () => {
  it.each([
    ["4242 4242 4242 4242", "pm_card_visa"],
    ["4000 0000 0000 0002", "pm_card_declined"],
    ["4000 0000 0000 9995", "pm_card_insufficient_funds"],
    ["4000 0000 0000 0119", "pm_card_processor_timeout"],
    ["5555-5555-5555-4444", "pm_card_mastercard"],
    ["4242424242424242", "pm_card_visa"],
  ])("%s -> %s", (number, token) => {
    expect(tokenize(card(number), now)).toEqual({ ok: true, token });
  });

  it("refuses a Luhn-valid number that is not a test card, and an invalid one", () => {
    expect(luhnValid("4111111111111111")).toBe(true);
    expect(tokenize(card("4111 1111 1111 1111"), now).ok).toBe(false);
    expect(tokenize(card("4242 4242 4242 4241"), now).ok).toBe(false);
  });

  it("checks expiry and CVC", () => {
    expect(expiryError("11/26", now)).toBeNull();
    expect(expiryError("10/26", now)).toBe("The card has expired.");
    expect(expiryError("13/30", now)).toBe("The month must be 01 to 12.");
    expect(expiryError("1230", now)).toBe("Enter the expiry as MM/YY.");
    expect(tokenize({ cardNumber: "4242424242424242", expiry: "12/30", cvc: "12" }, now).ok).toBe(false);
  });
});
