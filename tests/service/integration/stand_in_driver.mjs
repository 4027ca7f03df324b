// Runs the Stripe.js stand-in exactly as the emulator serves it (GET <emulator>/js.stripe.com/v3/) in Node, against
// that emulator, and prints what one call resolves to as JSON (undefined as null). The few DOM calls the stand-in makes
// outside mount() (its 3-D Secure box) land on a minimal document; the card element's value is what its inputs would
// hold after typing (the browser tests, web/e2e/localstripe.e2e.ts, type into the real inputs).
//
//   node stand_in_driver.mjs <emulator URL> create [<card number>]          createPaymentMethod({type: 'card', card})
//   node stand_in_driver.mjs <emulator URL> authenticate <client secret> <button>   confirmCardPayment + click a button
import vm from "node:vm";

const [base, scenario, ...args] = process.argv.slice(2);

function node(tag) {
  const listeners = {};
  return {
    tag,
    style: {},
    children: [],
    innerText: "",
    appendChild(child) {
      this.children.push(child);
      return child;
    },
    removeChild(child) {
      this.children = this.children.filter((other) => other !== child);
      return child;
    },
    addEventListener(type, listener) {
      listeners[type] = listener;
    },
    click() {
      listeners.click?.();
    },
    focus() {},
  };
}

const source = `${base}/js.stripe.com/v3/`;
const script = await (await fetch(source)).text();
const body = node("body");
const document = { currentScript: { src: source }, getElementsByTagName: () => [], createElement: node, body };
const quiet = { log() {}, warn() {}, error: (...values) => process.stderr.write(`${values.join(" ")}\n`) };
const context = vm.createContext({ document, window: {}, console: quiet, fetch, URLSearchParams });
vm.runInContext(script, context, { filename: source });
const stripe = vm.runInContext("Stripe", context)("pk_test_standInDriver");

async function press(label) {
  for (let tries = 0; tries < 100; tries += 1) {
    const button = body.children.flatMap((box) => box.children).find((child) => child.innerText === label);
    if (button) return button.click();
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`the stand-in showed no "${label}" button`);
}

let result;
if (scenario === "create") {
  const card = stripe.elements().create("card");
  if (args[0]) card.value = { card: { number: args[0], exp_month: "12", exp_year: "2034", cvc: "123" }, postal_code: "10001" };
  result = await stripe.createPaymentMethod({ type: "card", card });
} else if (scenario === "authenticate") {
  const [clientSecret, label] = args;
  const pending = stripe.confirmCardPayment(clientSecret);
  await press(label);
  result = await pending;
} else {
  throw new Error(`unknown scenario ${scenario}: create or authenticate`);
}
process.stdout.write(`${JSON.stringify(result ?? null)}\n`);
