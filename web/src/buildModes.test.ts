// @vitest-environment node
// The two build modes (vite.config.ts): the production build holds no trace of the simulated tokenizer or of card
// number handling, so no config.json can make the deployed page collect card numbers; the development build does
// hold them (which shows this grep finds them when they are there).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "vite";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const WEB = join(import.meta.dirname, "..");
const scratch = mkdtempSync(join(tmpdir(), "web-build-"));

/** What the simulated tokenizer and its card inputs leave in a bundle, minified or not. */
const CARD_MARKERS = [
  "cc-number", // the card number input's autocomplete
  "cc-csc",
  "cc-exp",
  "Card number",
  "4242424242424242", // the tokenizer's test cards
  "pm_card_",
  "simulated tokenizer",
];

function bundle(dir: string): string {
  const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /\.(js|html|css)$/.test(f));
  return files.map((f) => readFileSync(join(dir, f), "utf8")).join("\n");
}

async function built(mode: "production" | "development"): Promise<string> {
  const outDir = join(scratch, mode);
  await build({ root: WEB, mode, logLevel: "silent", build: { outDir, emptyOutDir: true } });
  return bundle(outDir);
}

let production = "";
let development = "";

beforeAll(async () => {
  production = await built("production");
  development = await built("development");
}, 120_000);

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("build modes", () => {
  it("the production build has no simulated tokenizer and no card-number handling", () => {
    for (const marker of CARD_MARKERS) expect(production, marker).not.toContain(marker);
    expect(production).not.toMatch(/\\d\{13,19\}/);
  });

  it("the development build has them (the grep above would see them)", () => {
    for (const marker of CARD_MARKERS) expect(development, marker).toContain(marker);
  });

  it("both builds load Stripe.js from https://js.stripe.com only, and only the development one knows a stand-in", () => {
    expect(production).toContain("https://js.stripe.com");
    expect(production).not.toContain("the Stripe.js stand-in at"); // loadStandIn: development only
    expect(development).toContain("the Stripe.js stand-in at");
  });
});
