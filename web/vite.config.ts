/// <reference types="vitest/config" />
import { defineConfig, type Plugin } from "vite";
import react from "@vitejs/plugin-react";

// Two builds (docs/checkout.md, "Build modes"):
// - production (`npm run build`, `vite build`): web/dist, what `make deploy-frontend` uploads. Cards only through
//   Stripe's card element; the simulated tokenizer is not in it.
// - development (`npm run build:dev`, `vite build --mode development`): web/dist-dev, what `make web` serves and the
//   simulator's browser tests use. Stripe's card element when config.json has stripePublishableKey, else the
//   simulated tokenizer.
// The build holds no API address: the app reads /config.json at run time (written next to the build by
// `make web` locally, by the stack when deployed).

/** The simulated tokenizer's modules: never part of a production build. */
export const SIMULATED_TOKENIZER = /\/src\/(CardFields\.tsx|tokenizer\.ts)$/;

/** Fails the production build if it would include the simulated tokenizer (main.tsx imports it only in development). */
function noSimulatedTokenizer(): Plugin {
  return {
    name: "no-simulated-tokenizer-in-production",
    apply: (_config, env) => env.command === "build" && env.mode === "production",
    // After tree-shaking (Rollup parses the dead branch's dynamic import too): what the bundle really holds.
    generateBundle(_options, bundle) {
      for (const output of Object.values(bundle)) {
        const included = output.type === "chunk" ? Object.keys(output.modules) : [];
        for (const id of included.filter((module) => SIMULATED_TOKENIZER.test(module))) {
          this.error(
            `${id} (the simulated tokenizer) is in the production build's ${output.fileName}: import it only under ` +
              'import.meta.env.MODE === "development" (src/main.tsx)',
          );
        }
      }
    },
  };
}

export default defineConfig(({ mode }) => ({
  plugins: [react(), noSimulatedTokenizer()],
  build: { outDir: mode === "development" ? "dist-dev" : "dist", sourcemap: false },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.{ts,tsx}"],
    restoreMocks: true,
  },
}));
