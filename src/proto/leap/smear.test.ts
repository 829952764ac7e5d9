// The smear: 0 at both ends of its 24 hours, half a second in the middle of the
// leap second, continuous and monotonic through it, for insertions and deletions.
import { test } from "node:test";
import assert from "node:assert/strict";
import { LeapSmear, SMEAR_HALF_WINDOW, smearCorrection } from "./smear.js";

const L = 3_692_217_600; // 1 Jan 2017 00:00:00 UTC, NTP seconds
const insert = { at: L, insert: true };
const remove = { at: L, insert: false };
const near = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-6, `${what}: ${a} vs ${b}`);

test("the ends of the smear: no correction before noon before and after noon after", () => {
  for (const event of [insert, remove]) {
    assert.equal(smearCorrection(event, L - SMEAR_HALF_WINDOW - 1), 0);
    assert.equal(smearCorrection(event, L - SMEAR_HALF_WINDOW), 0);
    assert.equal(smearCorrection(event, L + SMEAR_HALF_WINDOW), 0);
    assert.equal(smearCorrection(event, L + SMEAR_HALF_WINDOW + 100), 0);
    // Just inside the window the correction is tiny: 1/86400 per second.
    near(
      smearCorrection(event, L - SMEAR_HALF_WINDOW + 1),
      event.insert ? -1 / 86_401 : 1 / 86_399,
      "start",
    );
  }
});

test("an insertion: -0.5 s at the start of the leap second, +0.5 s at its end", () => {
  near(smearCorrection(insert, L - 1e-3), -(43_200 - 1e-3) / 86_401, "first pass end");
  near(smearCorrection(insert, L - 1, true), 1 - 43_200 / 86_401, "second pass start");
  near(smearCorrection(insert, L), 43_200 / 86_401, "after the leap");
  // Noon before to noon after: the served time advances 86400 s over 86401 real s.
  const served = (u: number, after = false) => u + smearCorrection(insert, u, after);
  near(served(L + SMEAR_HALF_WINDOW - 1e-6) - served(L - SMEAR_HALF_WINDOW), 86_400, "span");
});

test("an insertion: the served time is continuous and increasing through the repeated second", () => {
  // Real time r since the start of the leap second's first pass; the UTC reading
  // repeats [L-1, L): first pass at r in [-1, 0), second pass at r in [0, 1).
  let previous = -Infinity;
  for (let r = -3; r <= 3; r += 0.125) {
    const u = r < 0 ? L + r : r < 1 ? L - 1 + r : L + r - 1;
    const served = u + smearCorrection(insert, u, r >= 0 && r < 1);
    assert.ok(served > previous, `r = ${r}: ${served} after ${previous}`);
    if (previous !== -Infinity) near(served - previous, 0.125 * (86_400 / 86_401), `step at ${r}`);
    previous = served;
  }
});

test("a deletion: +0.5 s before the skipped second, -0.5 s after it, continuous across it", () => {
  const served = (u: number) => u + smearCorrection(remove, u);
  // 23:59:58.999 is followed by 00:00:00 (23:59:59 does not exist).
  near(served(L) - served(L - 1 - 1e-3), (86_400 / 86_399) * 1e-3, "across the skip");
  near(smearCorrection(remove, L), 43_199 / 86_399 - 1, "after the skip");
  assert.ok(smearCorrection(remove, L - 2) > 0.49);
});

test("LeapSmear tells the second pass of 23:59:59 from the first by the monotonic clock", () => {
  const smear = new LeapSmear();
  const mono0 = 5000;
  // A call earlier in the day anchors it.
  smear.correction(insert, L - 3600, mono0);
  const first = smear.correction(insert, L - 0.5, mono0 + 3599.5);
  const second = smear.correction(insert, L - 0.5, mono0 + 3600.5);
  near(first, smearCorrection(insert, L - 0.5, false), "first pass");
  near(second, smearCorrection(insert, L - 0.5, true), "second pass");
  assert.ok(second - first > 0.99, "a second apart");
  assert.equal(smear.correction(null, L, mono0), 0, "no leap: no smear");
});
