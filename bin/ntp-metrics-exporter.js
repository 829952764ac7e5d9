#!/usr/bin/env node
// Entry point: the compiled program in dist/ (built by `npm run build`, which `npm ci` runs).
import("../dist/cli/ntp-metrics-exporter.js").catch((error) => {
  if (error && error.code === "ERR_MODULE_NOT_FOUND") {
    console.error("ntp-metrics-exporter: dist/ is missing; run `npm run build` first");
    process.exit(70);
  }
  throw error;
});
