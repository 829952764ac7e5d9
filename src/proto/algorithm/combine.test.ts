import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";

import type { LeapIndicator } from "../packet/types.js";
import { initialSystemState, rootDispersionAt } from "../system/system-state.js";
import { NtpTimestamp } from "../time.js";
import { combine, fuse, systemStateFrom, voteLeap, type CombineInput } from "./combine.js";
import { diag, mat2, maxAbsDiff, vec2 } from "./matrix.js";

function input(
  id: number,
  offset: number,
  varOffset: number,
  extra: Partial<CombineInput> = {},
): CombineInput {
  return {
    id,
    state: vec2(offset, 0),
    covariance: diag(varOffset, 1e-12),
    delay: 0.01,
    rootDelay: 0.01,
    rootDispersion: 1e-3,
    leap: 0,
    stratum: 2,
    referenceId: 0xc0000200 + id,
    wander: 1e-16,
    ...extra,
  };
}

const NO_DISP = { ignoreServerDispersion: true };
const DISP = { ignoreServerDispersion: false };

test("nothing to combine", () => {
  assert.equal(combine([], DISP), null);
});

test("one source: its estimate plus the server dispersion", () => {
  const c = combine([input(1, 0, 1e-6)], DISP);
  assert.ok(c !== null);
  assert.ok(Math.abs(c.covariance[0] - 2e-6) < 1e-15);
  const n = combine([input(1, 0, 1e-6)], NO_DISP);
  assert.ok(n !== null && Math.abs(n.covariance[0] - 1e-6) < 1e-15);
});

test("equal covariances: the mean, with half the variance", () => {
  const c = combine([input(1, 0, 1e-6), input(2, 1e-3, 1e-6)], DISP);
  assert.ok(c !== null);
  assert.ok(Math.abs(c.offset - 5e-4) < 1e-12);
  assert.ok(Math.abs(c.frequency) < 1e-12);
  assert.ok(Math.abs(c.covariance[0] - 1e-6) < 1e-15); // (1e-6 + 1e-6) / 2
  assert.ok(Math.abs(c.covariance[3] - 5e-13) < 1e-20);
  const n = combine([input(1, 0, 1e-6), input(2, 1e-3, 1e-6)], NO_DISP);
  assert.ok(n !== null && Math.abs(n.covariance[0] - 5e-7) < 1e-15);
});

test("unequal variances: inverse-variance weights, the surer source dominates", () => {
  const c = combine([input(1, 0.004, 4e-6), input(2, 0.001, 1e-6)], NO_DISP);
  assert.ok(c !== null);
  // (0.004/4 + 0.001/1) / (1/4 + 1) = 0.0016
  assert.ok(Math.abs(c.offset - 0.0016) < 1e-12);
  assert.ok(Math.abs(c.covariance[0] - 0.8e-6) < 1e-15);
  // Primary: smallest det P; sources ordered by it.
  assert.equal(c.primary.id, 2);
  assert.deepEqual(c.sources, [2, 1]);
});

test("fusion is symmetric and never less certain than either input", () => {
  const psd = fc
    .tuple(
      fc.double({ min: 1e-9, max: 1e-3, noNaN: true }),
      fc.double({ min: 1e-16, max: 1e-8, noNaN: true }),
      fc.double({ min: -0.9, max: 0.9, noNaN: true }),
    )
    .map(([a, d, rho]) => {
      const off = rho * Math.sqrt(a * d);
      return mat2(a, off, off, d);
    });
  const est = fc.record({
    state: fc.tuple(
      fc.double({ min: -0.1, max: 0.1, noNaN: true }),
      fc.double({ min: -1e-4, max: 1e-4, noNaN: true }),
    ),
    covariance: psd,
  });
  fc.assert(
    fc.property(est, est, (a, b) => {
      const ab = fuse(a, b);
      const ba = fuse(b, a);
      assert.ok(ab !== null && ba !== null);
      const scale = Math.max(a.covariance[0], b.covariance[0]);
      assert.ok(
        Math.abs(ab.state[0] - ba.state[0]) < 1e-6 * (1 + Math.abs(a.state[0] - b.state[0])),
      );
      assert.ok(maxAbsDiff(ab.covariance, ba.covariance) < 1e-6 * scale);
      assert.ok(ab.covariance[0] <= Math.min(a.covariance[0], b.covariance[0]) * (1 + 1e-6));
      assert.ok(ab.covariance[3] <= Math.min(a.covariance[3], b.covariance[3]) * (1 + 1e-6));
    }),
  );
});

test("root delay is the smallest delay + root delay; leap by strict majority", () => {
  const c = combine(
    [
      input(1, 0, 1e-6, { delay: 0.02, rootDelay: 0.001, leap: 1 }),
      input(2, 0, 1e-6, { delay: 0.005, rootDelay: 0.03, leap: 1 }),
      input(3, 0, 1e-6, { delay: 0.01, rootDelay: 0.012, leap: 0 }),
    ],
    DISP,
  );
  assert.ok(c !== null);
  assert.ok(Math.abs(c.rootDelay - 0.021) < 1e-15);
  assert.equal(c.leap, 1);
});

test("leap vote", () => {
  const v = (...l: LeapIndicator[]) => voteLeap(l);
  assert.equal(v(0, 0, 0), 0);
  assert.equal(v(2, 2, 2), 2);
  assert.equal(v(1, 1, 1), 1);
  assert.equal(v(1, 2), null);
  assert.equal(v(0, 1, 1), 1);
  assert.equal(v(0, 1, 2), null);
  // Unknown casts no vote.
  assert.equal(v(3, 3, 1), 1);
  assert.equal(v(3, 3), null);
  assert.equal(v(), null);
});

test("system state: stratum and reference id from the primary, root variance polynomial", () => {
  const wanderA = 4e-16;
  const c = combine(
    [
      input(1, 0.001, 4e-6, { stratum: 1, wander: wanderA }),
      {
        ...input(2, 0.002, 1e-6, { stratum: 3 }),
        state: vec2(0.002, 1e-6),
        covariance: mat2(1e-6, 1e-10, 1e-10, 1e-13),
      },
    ],
    DISP,
  );
  assert.ok(c !== null);
  assert.equal(c.primary.id, 2);
  const time = NtpTimestamp.fromUnix(1_700_000_000, 0);
  const prev = initialSystemState();
  const s = systemStateFrom(c, time, prev);
  assert.equal(s.stratum, 4);
  assert.equal(s.referenceId, 0xc0000202);
  assert.equal(s.leap, 0);
  assert.equal(s.precisionLog2, prev.precisionLog2);
  assert.ok(s.rootVarianceBaseTime.equals(time));
  assert.equal(s.rootVarianceCubic, wanderA);
  const P = c.covariance;
  for (const t of [0, 1, 16, 1000]) {
    const expected = Math.sqrt(P[0] + 2 * P[1] * t + P[3] * t * t + wanderA * t ** 3);
    const got = rootDispersionAt(s, time.addSeconds(t));
    assert.ok(Math.abs(got - expected) <= 1e-9 * expected + 1e-15, `t=${t}: ${got} vs ${expected}`);
  }
  // Without a leap majority the previous indicator stays.
  const split = combine([input(1, 0, 1e-6, { leap: 1 }), input(2, 0, 1e-6, { leap: 2 })], DISP);
  assert.ok(split !== null);
  assert.equal(systemStateFrom(split, time, prev).leap, 3);
  assert.equal(systemStateFrom(split, time, { ...prev, leap: 0 }).leap, 0);
});
