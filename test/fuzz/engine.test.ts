// The fuzzing engine itself: coverage guidance finds a bug that blind
// mutation does not, within the same input budget and seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BlockCoverage } from "../../fuzz/engine/coverage.js";
import { fuzz } from "../../fuzz/engine/fuzzer.js";
import type { FuzzTarget } from "../../fuzz/engine/target.js";
import { plantedBug } from "./planted-bug.js";

const plantedUrl = new URL("./planted-bug.ts", import.meta.url).href;

const target: FuzzTarget = {
  name: "planted",
  description: "throws behind a 3-octet magic",
  kind: "bytes",
  maxLength: 16,
  seeds: () => [new Uint8Array(8)],
  run: plantedBug,
};

const RUNS = 400_000;
const SEED = 12345;

test("coverage guidance reaches a bug behind three nested checks", () => {
  const coverage = new BlockCoverage((url) => url === plantedUrl);
  coverage.start();
  try {
    const result = fuzz(target, coverage, { runs: RUNS, seed: SEED });
    console.log(`seed ${SEED}: ${result.stats.inputs} inputs, ${result.stats.points} points`);
    assert.ok(result.crasher !== null, "no crasher found");
    assert.match(String(result.crasher.error), /planted bug reached/);
    assert.deepEqual([...result.crasher.input.subarray(0, 3)], [0x4e, 0x54, 0x50]);
    assert.ok(
      result.stats.corpus >= 3,
      `corpus ${result.stats.corpus}: one entry per check passed`,
    );
  } finally {
    coverage.stop();
  }
});

test("without coverage feedback the same budget does not reach it", () => {
  // A coverage source that never reports anything new: mutation only.
  const blind = new BlockCoverage(() => false);
  blind.start();
  try {
    const result = fuzz(target, blind, { runs: RUNS, seed: SEED });
    assert.equal(result.crasher, null);
    assert.equal(result.stats.inputs, RUNS);
  } finally {
    blind.stop();
  }
});
