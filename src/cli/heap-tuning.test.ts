// The daemon's V8 heap tuning takes effect when set at run time: in a fresh
// process that imports it, an allocation loop that makes V8 grow the young
// generation by default (tested: the same loop without the import must grow
// it, or this test would prove nothing) leaves it at its initial size.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const tuning = fileURLToPath(new URL("./heap-tuning.ts", import.meta.url));

/** new_space size (bytes) before and after an allocation loop, in a child process. */
function youngGeneration(withTuning: boolean): { before: number; after: number } {
  const script = `
    ${withTuning ? `await import(${JSON.stringify(tuning)});` : ""}
    const { getHeapSpaceStatistics } = await import("node:v8");
    const size = () => getHeapSpaceStatistics().find((s) => s.space_name === "new_space").space_size;
    const before = size();
    // Objects that survive a scavenge or two, as requests in flight do.
    let keep = [];
    for (let i = 0; i < 3000000; i++) {
      keep.push({ i, a: [i, i] });
      if (keep.length > 20000) keep = [];
    }
    console.log(JSON.stringify({ before, after: size() }));
  `;
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
    encoding: "utf8",
    timeout: 60000,
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { before: number; after: number };
}

test("without the tuning the allocation loop grows V8's young generation", () => {
  const { before, after } = youngGeneration(false);
  assert.ok(after > before, `new space ${before} -> ${after}: the loop no longer makes it grow`);
});

test("with the tuning the young generation stays at its initial size", () => {
  const { before, after } = youngGeneration(true);
  assert.equal(after, before, `new space grew ${before} -> ${after}`);
});
