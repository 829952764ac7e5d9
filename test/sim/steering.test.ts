// The system-level steering in the conditions of the accuracy bench's "fast"
// and "step" (issue #11), in the simulator: what the core publishes as the
// clock's error (TimeSystem.estimate(), what the observation and the bench
// read) and how the controller steers while a source is in start-up. Runs are
// deterministic; each test prints its seed in its failure messages.

import { test } from "node:test";
import assert from "node:assert/strict";

import { findScenario } from "../../sim/scenarios.js";
import type { Scenario } from "../../sim/scenario.js";
import { Simulation } from "../../sim/simulation.js";
import { summarize } from "../../sim/summary.js";

/** Fine enough to resolve convergence within a few seconds. */
const SAMPLE = 0.2;
const us = (s: number): string => `${(s * 1e6).toFixed(1)} µs`;

test("fast-reference: the published estimate is within 100 µs within 3 s and stays there", () => {
  // Before start-up sources reported the slope of their samples, a source in
  // its 8-sample start-up published frequency 0: the estimate fell behind the
  // 40 ppm by 40 µs every second until the filter left start-up (bench: 9 s to
  // 100 µs, chrony 1 s). Measured after: 2.2 s (the third sample gives the line).
  const scenario = findScenario("fast-reference")!;
  for (const seed of [12, 21, 34]) {
    const run = new Simulation(scenario, { seed, hours: 0.1, sampleInterval: SAMPLE }).run();
    const summary = summarize(run);
    const at = summary.estimate.within100us;
    assert.ok(at !== null && at <= 3, `seed ${seed}: within 100 µs from ${at} s`);
    assert.ok(summary.estimate.p95 < 10e-6, `seed ${seed}: p95 ${us(summary.estimate.p95)}`);
    assert.deepEqual(summary.steps, [], `seed ${seed}`);
  }
});

/** The bench's "step": one loopback server 25 ms ahead, its time 5 ms forward at STEP_AT. */
const STEP_AT = 300;
const STEP = 0.005;
const stepScenario: Scenario = {
  ...findScenario("fast-reference")!,
  name: "reference-step",
  description: "one loopback server 25 ms ahead whose time steps 5 ms forward after 5 min",
  clock: { initialOffset: 0.025, frequencyError: 0 },
  servers: [{ ...findScenario("fast-reference")!.servers[0]!, steps: [{ at: STEP_AT, by: STEP }] }],
};

test("reference step: the estimate follows the server within seconds; the filter's restart does not run the frequency away", () => {
  // Before: while the source re-did its start-up, it reported frequency 0 ±
  // 10 s/s; the controller "corrected" the running slew towards that 0 with
  // every sample (steer-frequency-threshold 0), running the clock up to
  // maximum-frequency-steer (495 ppm), and published that rate with the
  // estimate: the bench's estimate ran 2.7 ms off within 7 s of the step.
  for (const seed of [13, 22, 35]) {
    let maxPpm = 0;
    const after = { firstUpdate: null as number | null };
    const sim = new Simulation(stepScenario, {
      seed,
      hours: 0.2,
      sampleInterval: SAMPLE,
      onAction: (at, action) => {
        if (action.kind === "set-frequency") maxPpm = Math.max(maxPpm, Math.abs(action.ppm));
        if (action.kind === "update" && at > STEP_AT) after.firstUpdate ??= at;
      },
    });
    const run = sim.run();
    // The server is the reference: after the step it is STEP ahead of true time.
    const errorAt = (i: number): number =>
      run.estimateErrors[i]! - (i * SAMPLE >= STEP_AT ? STEP : 0);
    // The step shows with the first sample after it (up to a 16 s poll later):
    // from that update on the estimate is right and stays so.
    const firstUpdate = after.firstUpdate;
    assert.ok(firstUpdate !== null, `seed ${seed}: no update after the step`);
    const seen = firstUpdate - STEP_AT;
    let worst = 0;
    let back: number | null = null;
    for (let i = Math.ceil(STEP_AT / SAMPLE); i < run.estimateErrors.length; i++) {
      const e = Math.abs(errorAt(i));
      if (i * SAMPLE >= firstUpdate + SAMPLE) worst = Math.max(worst, e);
      if (e > 100e-6) back = null;
      else back ??= i * SAMPLE - STEP_AT;
    }
    assert.ok(
      back !== null && back <= seen + SAMPLE,
      `seed ${seed}: back within 100 µs ${back} s after the step, first update after it ${seen} s`,
    );
    assert.ok(worst < 30e-6, `seed ${seed}: max |error| after the first update ${us(worst)}`);
    // A 5 ms slew runs at slew-maximum-frequency-offset (200 ppm) at most.
    assert.ok(maxPpm <= 200 + 1, `seed ${seed}: largest frequency correction ${maxPpm} ppm`);
  }
});
