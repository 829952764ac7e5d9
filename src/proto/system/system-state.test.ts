import { test } from "node:test";
import assert from "node:assert/strict";
import { NtpTimestamp } from "../time.js";
import {
  initialSystemState,
  linearRootDispersion,
  PHI,
  rootDispersionAt,
  SystemStateCell,
  type SystemState,
} from "./system-state.js";

test("unsynchronized by default: LI 3, stratum 16, XNON, precision 2^-18", () => {
  const s = initialSystemState();
  assert.equal(s.leap, 3);
  assert.equal(s.stratum, 16);
  assert.equal(s.referenceId, 0x584e4f4e);
  assert.equal(s.precisionLog2, -18);
  assert.equal(s.rootDelay, 0);
  assert.equal(rootDispersionAt(s, new NtpTimestamp(0xe0000000, 0)), 0);
});

test("another local-stratum is served while unsynchronized, still LI 3", () => {
  const s = initialSystemState({ localStratum: 10 });
  assert.equal(s.leap, 3);
  assert.equal(s.stratum, 10);
});

test("local-stratum 1 serves as a primary: LI 0, stratum 1, space-padded reference-id", () => {
  const gps = initialSystemState({ localStratum: 1, referenceId: "GPS" });
  assert.equal(gps.leap, 0);
  assert.equal(gps.stratum, 1);
  assert.equal(gps.referenceId, 0x47505320);
  assert.equal(initialSystemState({ localStratum: 1 }).referenceId, 0x584e4f4e);
  assert.equal(initialSystemState({ localStratum: 1, precisionLog2: -24 }).precisionLog2, -24);
});

test("configuration errors", () => {
  assert.throws(() => initialSystemState({ localStratum: 0 }), /local-stratum/);
  assert.throws(() => initialSystemState({ localStratum: 17 }), /local-stratum/);
  assert.throws(() => initialSystemState({ localStratum: 1, referenceId: "TOOLONG" }), RangeError);
});

test("root dispersion grows with time since the last update", () => {
  const t0 = new NtpTimestamp(0xe0000000, 0);
  const s: SystemState = { ...initialSystemState(), ...linearRootDispersion(0.001, t0) };
  assert.ok(Math.abs(rootDispersionAt(s, t0) - 0.001) < 1e-15);
  assert.ok(Math.abs(rootDispersionAt(s, t0.addSeconds(1000)) - (0.001 + PHI * 1000)) < 1e-12);
  // Before the update time (clock stepped back): no shrinking below the base.
  assert.ok(Math.abs(rootDispersionAt(s, t0.addSeconds(-50)) - 0.001) < 1e-15);
  // The ntpd-rs cubic variance model.
  const cubic: SystemState = {
    ...s,
    rootVarianceBase: 1e-6,
    rootVarianceLinear: 1e-9,
    rootVarianceQuadratic: 1e-12,
    rootVarianceCubic: 1e-15,
  };
  const t = 100;
  const expected = Math.sqrt(1e-6 + 1e-9 * t + 1e-12 * t * t + 1e-15 * t * t * t);
  assert.ok(Math.abs(rootDispersionAt(cubic, t0.addSeconds(t)) - expected) < 1e-15);
  assert.equal(
    rootDispersionAt(
      { ...s, rootVarianceBase: -1, rootVarianceLinear: 0, rootVarianceQuadratic: 0 },
      t0,
    ),
    0,
  );
});

test("SystemStateCell", () => {
  const cell = new SystemStateCell(initialSystemState());
  assert.equal(cell.current().stratum, 16);
  cell.set({ ...cell.current(), stratum: 3 });
  assert.equal(cell.current().stratum, 3);
});
