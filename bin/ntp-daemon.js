#!/usr/bin/env node
// Entry point: the compiled program in dist/ (built by `npm run build`, which `npm ci` runs).
// The heap tuning goes first, on its own: loading the program's ~90 modules is
// itself enough allocation for V8 to grow the young generation (to 8 MiB on
// Node 24, 4 on Node 20) before any of their code runs. docs/benchmark.md, "Memory".
import("../dist/cli/heap-tuning.js")
  .then(() => import("../dist/cli/ntp-daemon.js"))
  .catch((error) => {
    if (error && error.code === "ERR_MODULE_NOT_FOUND") {
      console.error("ntp-daemon: dist/ is missing; run `npm run build` first");
      process.exit(70);
    }
    throw error;
  });
