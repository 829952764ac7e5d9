// A frequency kept from an earlier run (the drift file) seeds a filter's first
// start-up as a prior: a noisy burst no longer sets the frequency on its own.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig } from "../config/parse.js";
import type { Measurement } from "../source/types.js";
import { NtpTimestamp } from "../time.js";
import { exchange } from "../../../test/helpers/measurement.js";
import { STARTUP_SAMPLES, SourceFilter } from "./source-filter.js";

const BASE = NtpTimestamp.fromUnix(1_700_000_000, 0);
const ALGO = defaultConfig().synchronization.algorithm;

/** A sample at local time `t` of a server in step with us, seen `error` s off, over a `delay`. */
function sample(t: number, error: number, delay: number): Measurement {
  return exchange(BASE, { at: t, offset: error, out: delay / 2, back: delay / 2 }, { poll: 1 });
}

/** The frequency and its σ (ppm) a filter starts with after one burst of queueing noise. */
function seeded(prior: number | undefined): { frequency: number; sigma: number } {
  const f = new SourceFilter(ALGO, { min: 4, max: 10 }, { frequencyPrior: prior });
  // Queueing on one leg or the other: offsets that a line reads as a slope.
  const errors = [0, 0.4e-3, -0.2e-3, 0.6e-3, 0.1e-3, 0.9e-3, 0.3e-3, 1.1e-3];
  const delays = [30e-3, 31e-3, 30.5e-3, 31.2e-3, 30.2e-3, 31.8e-3, 30.6e-3, 32.2e-3];
  for (let i = 0; i < STARTUP_SAMPLES; i++) {
    const t = 2 * i;
    f.update(sample(t, errors[i]!, delays[i]!), {
      wall: BASE.addSeconds(t + 0.04),
      mono: 1000 + t + 0.04,
    });
  }
  const snap = f.snapshot();
  assert.ok(snap !== null && !snap.startup);
  return { frequency: snap.frequency * 1e6, sigma: snap.frequencyUncertainty * 1e6 };
}

test("with a prior the burst's apparent slope is mostly discounted, and the σ is the tighter", () => {
  const free = seeded(undefined);
  const kept = seeded(3e-6);
  // The burst alone reads tens of ppm into 1 ms of queueing over 14 s.
  assert.ok(Math.abs(free.frequency) > 20, `free ${free.frequency} ppm`);
  assert.ok(Math.abs(kept.frequency) < Math.abs(free.frequency) / 4, `kept ${kept.frequency} ppm`);
  assert.ok(kept.sigma < 3 && kept.sigma < free.sigma, `σ ${kept.sigma} vs ${free.sigma}`);
  // A prior of 0 (or none) leaves the filter as it was.
  assert.deepEqual(seeded(0), free);
});
