import { test } from "node:test";
import assert from "node:assert/strict";

import type { Measurement } from "../source/types.js";
import { NtpTimestamp } from "../time.js";
import {
  MEASURED_SAMPLES,
  MeasuredInterval,
  correctnessRadius,
  driftBound,
} from "./measured-interval.js";

const BASE = NtpTimestamp.fromUnix(1_700_000_000, 0);

function sample(offset: number, delay: number, extra: Partial<Measurement> = {}): Measurement {
  return {
    offset,
    delay,
    t1: BASE,
    t2: BASE,
    t3: BASE,
    t4: BASE,
    version: 4,
    leap: 0,
    stratum: 1,
    referenceId: 0,
    rootDelay: 0,
    rootDispersion: 0,
    poll: 4,
    precision: -20,
    ...extra,
  };
}

const close = (a: number, b: number): boolean => Math.abs(a - b) < 1e-12;

test("λ = delay/2 + root delay/2 + root dispersion + both precisions", () => {
  const m = sample(0, 0.01, { rootDelay: 0.004, rootDispersion: 0.001, precision: -10 });
  assert.ok(close(correctnessRadius(m, -20), 0.005 + 0.002 + 0.001 + 2 ** -10 + 2 ** -20));
  // A nonsensical precision (above 1 s) counts as 1 s: the interval is wide, never NaN.
  assert.ok(close(correctnessRadius(sample(0, 0, { precision: 30 }), 0), 2));
});

test("the narrowest interval after widening by drift · age wins", () => {
  const mi = new MeasuredInterval();
  assert.equal(mi.at(BASE, 1e-4), null);
  mi.add(sample(0.01, 0.002), BASE, -30); // λ ≈ 1 ms, 10 s old at the look
  mi.add(sample(0.011, 0.006), BASE.addSeconds(9), -30); // λ ≈ 3 ms, 1 s old
  const now = BASE.addSeconds(10);
  // Without drift the older, narrower sample wins.
  const still = mi.at(now, 0)!;
  assert.ok(close((still.low + still.high) / 2, 0.01));
  assert.ok(Math.abs((still.high - still.low) / 2 - 0.001) < 1e-6);
  // With 500 ppm the old one has grown to 6 ms: the newer one (3.5 ms) wins.
  const drifting = mi.at(now, 500e-6)!;
  assert.ok(close((drifting.low + drifting.high) / 2, 0.011));
  assert.ok(Math.abs((drifting.high - drifting.low) / 2 - 0.0035) < 1e-6);
});

test("a step of the clock moves every sample; reset forgets them; only the last few count", () => {
  const mi = new MeasuredInterval();
  mi.add(sample(0.5, 0.002), BASE, -30);
  mi.applyOffsetSteer(0.5);
  const moved = mi.at(BASE.addSeconds(0.5), 0)!;
  assert.ok(Math.abs((moved.low + moved.high) / 2) < 1e-12);
  mi.reset();
  assert.equal(mi.at(BASE, 0), null);
  // A very narrow first sample is forgotten once MEASURED_SAMPLES newer ones came.
  mi.add(sample(0, 0), BASE, -30);
  for (let i = 1; i <= MEASURED_SAMPLES; i++) mi.add(sample(0.1, 0.01), BASE.addSeconds(i), -30);
  const latest = mi.at(BASE.addSeconds(MEASURED_SAMPLES), 0)!;
  assert.ok(close((latest.low + latest.high) / 2, 0.1));
  // A sample with a broken offset is not remembered.
  mi.reset();
  mi.add(sample(Number.NaN, 0.01), BASE, -30);
  assert.equal(mi.at(BASE, 0), null);
});

test("driftBound: the a-priori frequency uncertainty plus the largest steer", () => {
  assert.ok(
    close(
      driftBound({ initialFrequencyUncertainty: 100e-6, maximumFrequencySteer: 495e-6 }),
      595e-6,
    ),
  );
});

test("an estimate the samples do not support cuts the interval, down to nothing", () => {
  // Four samples 100 ms off, then four right: the newest sample is narrow and
  // right, but an average over all of them is not.
  const mi = new MeasuredInterval();
  for (let i = 0; i < 8; i++) mi.add(sample(i < 4 ? 0.1 : 0, 0.0002), BASE.addSeconds(2 * i), -30);
  const now = BASE.addSeconds(14);
  const best = mi.at(now, 595e-6)!;
  assert.ok(best.low < 0 && best.high > 0);
  // The widest sample (the oldest, 14 s at 595 ppm) allows 8.4 ms around the estimate.
  const mixed = mi.at(now, 595e-6, 0.05)!;
  assert.ok(mixed.low > mixed.high, JSON.stringify(mixed));
  // An estimate within that reach only narrows it: 8.35 ms leaves the lowest 0.08 ms.
  const near = mi.at(now, 595e-6, 0.00835)!;
  const widest = 0.0001 + 2 ** -20 + 2 ** -30 + 595e-6 * 14;
  assert.ok(near.low > best.low && near.low <= near.high);
  assert.ok(Math.abs(near.low - (0.00835 - widest)) < 1e-12);
  assert.equal(near.high, best.high);
});
