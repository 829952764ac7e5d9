// What a filter reports while still in start-up: the line through its samples
// once there is one (issue #11, "fast"), with the clock's frequency changes
// folded in; before that the mean offset at an unknown frequency.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig } from "../config/parse.js";
import type { Measurement } from "../source/types.js";
import { NtpTimestamp } from "../time.js";
import { exchange } from "../../../test/helpers/measurement.js";
import { STARTUP_FREQUENCY_VARIANCE, SourceFilter } from "./source-filter.js";

const BASE = NtpTimestamp.fromUnix(1_700_000_000, 0);
const ALGO = defaultConfig().synchronization.algorithm;
const DELAY = 50e-6;

/** A sample at local time `t` of a server `offset` s ahead of us. */
function sample(t: number, offset: number): Measurement {
  return exchange(BASE, { at: t, offset, out: DELAY / 2, back: DELAY / 2 }, { poll: 0 });
}

const at = (t: number) => ({ wall: BASE.addSeconds(t + DELAY), mono: 1000 + t });

test("start-up: from the third sample the snapshot is the line (offset at the last sample, slope)", () => {
  const f = new SourceFilter(ALGO, { min: 0, max: 4 });
  // A server 2 ms behind, running 40 ppm ahead of the local clock, a little noise.
  const noise = [1e-6, -1e-6, 0.5e-6, -0.5e-6];
  const offsetAt = (t: number) => -2e-3 + 40e-6 * t;
  f.update(sample(0, offsetAt(0) + noise[0]!), at(0));
  f.update(sample(1, offsetAt(1) + noise[1]!), at(1));
  const two = f.snapshot()!;
  assert.ok(two.startup);
  // Two samples: no line yet, the frequency is unknown.
  assert.equal(two.frequency, 0);
  assert.equal(two.frequencyUncertainty, Math.sqrt(STARTUP_FREQUENCY_VARIANCE));
  f.update(sample(2, offsetAt(2) + noise[2]!), at(2));
  f.update(sample(3, offsetAt(3) + noise[3]!), at(3));
  const four = f.snapshot()!;
  assert.ok(four.startup);
  assert.ok(Math.abs(four.frequency - 40e-6) < 2e-6, `${four.frequency * 1e6} ppm`);
  assert.ok(four.frequencyUncertainty < 10e-6, `σ ${four.frequencyUncertainty * 1e6} ppm`);
  assert.ok(Math.abs(four.offset - offsetAt(3)) < 3e-6, `${four.offset}`);
  assert.deepEqual(four.state, [four.offset, four.frequency]);
  // The offset uncertainty stays the start-up placeholder (√ of the largest delay).
  assert.equal(four.offsetUncertainty, Math.sqrt(DELAY));
});

test("start-up: a frequency change of the clock is folded into the reported slope", () => {
  const slope = (steer: boolean): number => {
    const f = new SourceFilter(ALGO, { min: 0, max: 4 });
    for (let t = 0; t < 3; t++) f.update(sample(t, 40e-6 * t), at(t));
    // With `steer` the local clock runs 40 ppm faster from 2.5 s on: the server no
    // longer gains on it.
    if (steer) f.applyFrequencySteer(BASE.addSeconds(2.5), 40e-6);
    f.update(sample(3, 40e-6 * (steer ? 2.5 : 3)), at(3));
    const snap = f.snapshot()!;
    assert.ok(snap.startup);
    return snap.frequency;
  };
  const free = slope(false);
  const steered = slope(true);
  assert.ok(Math.abs(free - 40e-6) < 1e-6, `unsteered ${free * 1e6} ppm`);
  assert.ok(Math.abs(steered) < 1e-6, `steered ${steered * 1e6} ppm`);
});

test("start-up: a slope within twice its σ is the scatter: the mean offset at frequency 0", () => {
  // A still server 1 ms ahead, samples scattered by ±20 µs: the line through
  // four of them has a slope of a few ppm, well inside its σ. Extrapolated to
  // the last sample it would publish an offset off by the scatter's slope.
  const f = new SourceFilter(ALGO, { min: 0, max: 4 });
  const scatter = [20e-6, -20e-6, -20e-6, 20e-6, 15e-6];
  scatter.forEach((e, t) => f.update(sample(t, 1e-3 + e), at(t)));
  const view = f.snapshot()!;
  assert.ok(view.startup);
  assert.equal(view.frequency, 0);
  const mean = 1e-3 + scatter.reduce((a, b) => a + b, 0) / scatter.length;
  assert.ok(Math.abs(view.offset - mean) < 1e-9, `${view.offset} vs mean ${mean}`);
  // The slope's σ stays what the line says (it is not known better for being small).
  assert.ok(view.frequencyUncertainty > 2e-6, `σ ${view.frequencyUncertainty * 1e6} ppm`);
});

test("start-up: a frequency change of the clock moves the reported time only by what it changes", () => {
  // The scattered still server above. The clock's frequency then changes:
  // what the filter reports, carried to the instant of the change, must not
  // move. Judged against a slope of 0, a series steered by ±50 ppm was re-read
  // as a line, and the mean of a slightly steered one was taken at frequency
  // 0: in the simulator's internet-jitter a source's reported offset jumped by
  // 242 µs when another source's sample made the core change the frequency.
  const scatter = [20e-6, -20e-6, -20e-6, 20e-6, 15e-6];
  for (const change of [50e-6, -50e-6, 3e-6]) {
    const f = new SourceFilter(ALGO, { min: 0, max: 4 });
    scatter.forEach((e, t) => f.update(sample(t, 1e-3 + e), at(t)));
    const when = BASE.addSeconds(4.5);
    const reported = (): number => {
      const view = f.snapshot()!;
      assert.ok(view.startup);
      return view.offset + view.frequency * when.diffSeconds(view.time);
    };
    const before = reported();
    f.applyFrequencySteer(when, change);
    const after = reported();
    assert.ok(
      Math.abs(after - before) < 1e-12,
      `${change * 1e6} ppm: ${before * 1e6} → ${after * 1e6} µs`,
    );
    // And the still server now runs `change` behind the clock.
    assert.ok(Math.abs(f.snapshot()!.frequency + change) < 1e-12, `${f.snapshot()!.frequency}`);
  }
});
