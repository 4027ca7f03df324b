import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { createApiClient, loadConfig, type RuntimeConfig } from "./api";
import { App } from "./App";
import type { CardProvider } from "./cards";
import { stripeCards } from "./stripeCards";
import { loadStandIn, stripeFor } from "./stripeJs";
import "./styles.css";

const root = createRoot(document.getElementById("root")!);

// The two builds (docs/checkout.md, "Build modes"). `import.meta.env.MODE` is replaced by a constant at build
// time, so the production build keeps only the Stripe branch: the simulated tokenizer is not in it at all (and
// vite.config.ts fails a production build that would include it). No config.json can turn it back on.
const DEVELOPMENT_BUILD = import.meta.env.MODE === "development";

async function cardsFor(config: RuntimeConfig): Promise<CardProvider> {
  if (config.stripe) {
    if (DEVELOPMENT_BUILD && config.stripe.standInUrl) await loadStandIn(config.stripe.standInUrl);
    return stripeCards(await stripeFor(config.stripe.publishableKey));
  }
  if (DEVELOPMENT_BUILD) return (await import("./CardFields")).simulatedCards;
  throw new Error(
    "config.json has no stripePublishableKey, and this production build takes cards only through Stripe " +
      "(the stack writes the key when PAYMENT_PROCESSOR=stripe)",
  );
}

async function start() {
  const config = await loadConfig();
  const cards = await cardsFor(config);
  root.render(
    <StrictMode>
      <App client={createApiClient({ baseUrl: config.apiBaseUrl })} cards={cards} path={window.location.pathname} />
    </StrictMode>,
  );
}

start().catch((error: unknown) =>
  root.render(
    <main className="page">
      <h1>Checkout unavailable</h1>
      <p role="alert">The checkout could not start: {error instanceof Error ? error.message : "error"}</p>
    </main>,
  ),
);
