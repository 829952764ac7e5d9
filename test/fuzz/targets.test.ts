// Smoke run of every fuzz target (npm run fuzz does the long campaigns): a
// few thousand coverage-guided inputs each from a fixed seed, no crasher, and
// the seeds and mutations reach code of the parser under test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BlockCoverage } from "../../fuzz/engine/coverage.js";
import { fuzz } from "../../fuzz/engine/fuzzer.js";
import { TARGETS } from "../../fuzz/targets/index.js";

const srcUrl = new URL("../../src/", import.meta.url).href;
const SEED = 20261207;
/** Slow targets (TOML parsing, JSON observations and requests) get fewer inputs. */
const RUNS: Record<string, number> = {
  config: 200,
  "observation-client": 500,
  "control-request": 300,
};

for (const target of TARGETS) {
  test(`fuzz target ${target.name}: no crasher in a short run`, () => {
    const coverage = new BlockCoverage((url) => url.startsWith(srcUrl));
    coverage.start();
    try {
      const runs = RUNS[target.name] ?? 1500;
      const result = fuzz(target, coverage, { runs, seed: SEED });
      const s = result.stats;
      console.log(
        `${target.name} seed ${SEED}: ${s.inputs} inputs, ${s.points}/${s.knownPoints} points, corpus ${s.corpus}`,
      );
      assert.equal(
        result.crasher,
        null,
        result.crasher === null
          ? ""
          : `crasher ${Buffer.from(result.crasher.input).toString("hex")}: ${String(result.crasher.error)}`,
      );
      assert.equal(s.inputs, runs);
      assert.ok(s.points > 0, "no coverage of src/ reached");
    } finally {
      coverage.stop();
    }
  });
}
