import { defineConfig } from "vitest/config";

// The browser tests (`make web-e2e`, tools/dev/web_e2e.py): Node drives Debian's chromium through playwright-core
// against the production build served with CloudFront's headers and the real API. One file at a time, one
// browser; the harness bounds the whole run.
export default defineConfig({
  test: {
    environment: "node",
    include: ["e2e/**/*.e2e.ts"],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
