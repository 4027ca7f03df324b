import { describe, expect, it } from "vitest";
import { formatMinor, parseMajor } from "./money";

describe("parseMajor", () => {
  it.each([
    ["19.99", "EUR", 1999],
    ["19.9", "USD", 1990],
    ["19", "GBP", 1900],
    ["0.01", "CAD", 1],
    ["0.29", "AUD", 29],
    ["1.10", "EUR", 110],
    ["1999", "JPY", 1999],
    [" 42 ", "JPY", 42],
    ["999999.99", "USD", 99_999_999],
    ["0019.99", "EUR", 1999],
  ] as const)("%s %s -> %d minor units", (input, currency, minor) => {
    expect(parseMajor(input, currency)).toEqual({ ok: true, minor });
  });

  it("is exact where floating point is not (0.29 * 100 = 28.999...)", () => {
    expect(0.29 * 100).not.toBe(29);
    expect(parseMajor("0.29", "EUR")).toEqual({ ok: true, minor: 29 });
    expect(parseMajor("1.15", "USD")).toEqual({ ok: true, minor: 115 });
  });

  it.each([
    ["1.999", "EUR"],
    ["19.5", "JPY"],
    ["19.0", "JPY"],
    ["19.", "EUR"],
    [".5", "EUR"],
    ["1,99", "EUR"],
    ["-1", "USD"],
    ["1e3", "USD"],
    ["", "USD"],
    ["0", "USD"],
    ["0.00", "USD"],
    ["1000000.00", "USD"],
    ["100000000", "JPY"],
    ["12345678901234567890", "JPY"],
  ] as const)("refuses %j %s", (input, currency) => {
    expect(parseMajor(input, currency).ok).toBe(false);
  });

  it("says why an amount has too many decimals", () => {
    expect(parseMajor("1.999", "EUR")).toEqual({ ok: false, error: "EUR allows at most 2 decimal places." });
    expect(parseMajor("19.5", "JPY")).toEqual({ ok: false, error: "JPY has no minor unit: enter a whole number." });
  });
});

describe("formatMinor", () => {
  it.each([
    [1999, "EUR", "19.99"],
    [1, "USD", "0.01"],
    [100, "GBP", "1.00"],
    [1999, "JPY", "1999"],
  ] as const)("%d %s -> %s", (minor, currency, text) => {
    expect(formatMinor(minor, currency)).toBe(text);
  });
});
