// Major units (what a person types, "19.99") to minor units (what the API takes, 1999) by string
// arithmetic on the decimal text: never through a floating-point number.

export const CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CAD", "AUD"] as const;
export type Currency = (typeof CURRENCIES)[number];

/** ISO 4217 minor-unit exponent per supported currency. */
export const EXPONENTS: Readonly<Record<Currency, number>> = {
  USD: 2,
  EUR: 2,
  GBP: 2,
  JPY: 0,
  CAD: 2,
  AUD: 2,
};

/** The API's bounds (API.md): 1 … 99 999 999 minor units. */
export const MIN_MINOR = 1;
export const MAX_MINOR = 99_999_999;

export type ParseResult = { ok: true; minor: number } | { ok: false; error: string };

const DECIMAL = /^(\d+)(?:\.(\d*))?$/;

export function isCurrency(value: string): value is Currency {
  return (CURRENCIES as readonly string[]).includes(value);
}

/** Parse "19.99" in `currency` to minor units, or say why not. */
export function parseMajor(input: string, currency: Currency): ParseResult {
  const text = input.trim();
  const match = DECIMAL.exec(text);
  if (!match) {
    return { ok: false, error: "Enter an amount such as 19.99 (digits and at most one decimal point)." };
  }
  const whole = match[1];
  const fraction = match[2] ?? "";
  const exponent = EXPONENTS[currency];
  if (match[2] !== undefined && (exponent === 0 || fraction.length === 0 || fraction.length > exponent)) {
    return {
      ok: false,
      error:
        exponent === 0
          ? `${currency} has no minor unit: enter a whole number.`
          : `${currency} allows at most ${exponent} decimal places.`,
    };
  }
  const digits = (whole + fraction.padEnd(exponent, "0")).replace(/^0+(?=\d)/, "");
  // Bound the digit count before converting, so the conversion is always of a small integer.
  if (digits.length > String(MAX_MINOR).length || Number.parseInt(digits, 10) > MAX_MINOR) {
    return { ok: false, error: `The amount is above the maximum of ${formatMinor(MAX_MINOR, currency)}.` };
  }
  const minor = Number.parseInt(digits, 10);
  if (minor < MIN_MINOR) {
    return { ok: false, error: "The amount must be greater than zero." };
  }
  return { ok: true, minor };
}

/** 1999 EUR -> "19.99"; 500 JPY -> "500" (string arithmetic, no division). */
export function formatMinor(minor: number, currency: Currency): string {
  const exponent = EXPONENTS[currency];
  const digits = String(minor).padStart(exponent + 1, "0");
  if (exponent === 0) return digits;
  return `${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}
