// The loopback offset check fails beyond half the delay plus its margin, and only there.
import { test } from "node:test";
import assert from "node:assert/strict";
import { assertLoopbackOffset, LOOPBACK_OFFSET_MARGIN_S } from "./loopback-offset.js";

test("an offset within half the delay passes, even on a loaded machine", () => {
  assertLoopbackOffset(-0.0077, 0.015, "the guide walk-through's failure at load 20");
  assertLoopbackOffset(0.014, 0.028, "the other one");
  assertLoopbackOffset(0.0002, 0, "a zero delay leaves the margin");
});

test("an offset beyond half the delay plus the margin fails", () => {
  const delay = 0.004;
  assert.throws(
    () => assertLoopbackOffset(delay / 2 + LOOPBACK_OFFSET_MARGIN_S + 1e-5, delay, "line"),
    /offset too large: 2\.510 ms.*: line/,
  );
  assert.throws(() => assertLoopbackOffset(-0.01, 0.001, "x"), /offset too large/);
  assert.throws(() => assertLoopbackOffset(0, -0.001, "x"), /negative delay/);
  assert.throws(() => assertLoopbackOffset(NaN, 0.001, "x"), /not a measurement/);
});
