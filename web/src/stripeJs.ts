import type { Stripe } from "@stripe/stripe-js";
import { loadStripe } from "@stripe/stripe-js/pure";

// Stripe.js, loaded only when Pay needs it, with the publishable key from /config.json. @stripe/stripe-js/pure
// injects nothing at import: loadStripe adds Stripe's own script (https://js.stripe.com/...), the only place
// Stripe.js may come from (Stripe does not support bundling or self-hosting it, and the CSP admits only it).

/**
 * The development build's stand-in (localstripe's `/js.stripe.com/v3/`, `stripeJsUrl` in config.json): loaded first,
 * so loadStripe finds `window.Stripe` and adds no script of its own. src/main.tsx calls it only in the development
 * build; the production build has no code path to a script other than Stripe's.
 */
export function loadStandIn(url: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = url;
    script.onload = () => resolve();
    script.onerror = () => reject(new Error(`the Stripe.js stand-in at ${url} did not load`));
    document.head.appendChild(script);
  });
}

export async function stripeFor(publishableKey: string): Promise<Stripe> {
  const stripe = await loadStripe(publishableKey);
  if (!stripe) throw new Error("Stripe.js did not load");
  return stripe;
}
