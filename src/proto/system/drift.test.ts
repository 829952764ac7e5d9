// The drift file's text: what is written reads back; anything else is refused
// with the line, never guessed at.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DRIFT_PRIOR_FLOOR_PPM, driftPrior, formatDriftFile, parseDriftFile } from "./drift.js";

test("a written record reads back (to the 6 decimals written)", () => {
  const text = formatDriftFile({ frequencyPpm: -12.3456789, uncertaintyPpm: 0.0042 });
  assert.match(text, /^# ntpd-ts drift file/);
  const r = parseDriftFile(text);
  assert.ok(r.ok);
  assert.deepEqual(r.record, { frequencyPpm: -12.345679, uncertaintyPpm: 0.0042 });
});

test("comments, blank lines and a missing final newline are fine", () => {
  const r = parseDriftFile("\n# kept\n  3.5   0.25");
  assert.ok(r.ok);
  assert.deepEqual(r.record, { frequencyPpm: 3.5, uncertaintyPpm: 0.25 });
});

test("a corrupt file is refused with its line", () => {
  const cases: [string, number | null, RegExp][] = [
    ["", null, /empty/],
    ["# only a comment\n", null, /empty/],
    ["# x\n12.5\n", 2, /two numbers/],
    ["12.5 abc\n", 1, /two numbers/],
    ["0x10 1\n", 1, /two numbers/],
    ["1 2 3\n", 1, /two numbers/],
    ["600 0.1\n", 1, /outside ±500/],
    ["1 -0.1\n", 1, />= 0/],
    ["1e999 1\n", 1, /outside/],
    ["1 1\n2 2\n", 2, /second record/],
    ["\u0000\u0001garbage", 1, /two numbers/],
  ];
  for (const [text, line, error] of cases) {
    const r = parseDriftFile(text);
    assert.ok(!r.ok, JSON.stringify(text));
    assert.equal(r.line, line, JSON.stringify(text));
    assert.match(r.error, error);
  }
  const long = parseDriftFile("#".repeat(5000));
  assert.ok(!long.ok && /larger than/.test(long.error));
});

test("the prior is never tighter than the floor", () => {
  assert.equal(driftPrior({ frequencyPpm: 1, uncertaintyPpm: 0 }), DRIFT_PRIOR_FLOOR_PPM);
  assert.ok(driftPrior({ frequencyPpm: 1, uncertaintyPpm: 4 }) > 4);
});
