// A stand-in for the payment processor's hosted fields: the card number goes in, only a token comes out.
// In production this is the processor's SDK in its own iframe; here it maps the processor's test cards to the
// simulated processor's tokens (API.md, "Processor") and refuses every other number, so a real card number
// typed into this simulation never produces a token.

export const TEST_CARDS: Readonly<Record<string, string>> = {
  "4242424242424242": "pm_card_visa",
  "5555555555554444": "pm_card_mastercard",
  "4000000000000002": "pm_card_declined",
  "4000000000009995": "pm_card_insufficient_funds",
  "4000000000000119": "pm_card_processor_timeout",
};

export function digitsOf(cardNumber: string): string {
  return cardNumber.replace(/[\s-]/g, "");
}

export function luhnValid(digits: string): boolean {
  if (!/^\d{13,19}$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i += 1) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** "MM/YY", not before the current month. */
export function expiryError(expiry: string, now: Date = new Date()): string | null {
  const match = /^(\d{2})\s*\/\s*(\d{2})$/.exec(expiry.trim());
  if (!match) return "Enter the expiry as MM/YY.";
  const month = Number.parseInt(match[1], 10);
  const year = 2000 + Number.parseInt(match[2], 10);
  if (month < 1 || month > 12) return "The month must be 01 to 12.";
  const current = now.getFullYear() * 12 + now.getMonth();
  if (year * 12 + (month - 1) < current) return "The card has expired.";
  return null;
}

export function cvcError(cvc: string): string | null {
  return /^\d{3,4}$/.test(cvc.trim()) ? null : "Enter the 3 or 4 digits on the back of the card.";
}

export function cardNumberError(cardNumber: string): string | null {
  const digits = digitsOf(cardNumber);
  if (!luhnValid(digits)) return "Enter a valid card number.";
  if (!(digits in TEST_CARDS)) return "This simulated tokenizer accepts only the test cards (see docs/checkout.md).";
  return null;
}

export type TokenizeResult =
  | { ok: true; token: string }
  | { ok: false; errors: { cardNumber?: string; expiry?: string; cvc?: string } };

/** The whole tokenizer decision: card details in, a token (and nothing else) out. */
export function tokenize(card: { cardNumber: string; expiry: string; cvc: string }, now?: Date): TokenizeResult {
  const errors = {
    cardNumber: cardNumberError(card.cardNumber) ?? undefined,
    expiry: expiryError(card.expiry, now) ?? undefined,
    cvc: cvcError(card.cvc) ?? undefined,
  };
  if (errors.cardNumber || errors.expiry || errors.cvc) return { ok: false, errors };
  return { ok: true, token: TEST_CARDS[digitsOf(card.cardNumber)] };
}
