// Correctness bounds on the simulator's scenarios (sim/scenarios.ts): the real
// NtpSource, NtpServerCore and ClockController steering a SimulatedClock in
// simulated time. Every scenario runs once, with its own seed and duration (a
// few simulated hours each, about a second of CPU for all of them); the tests
// share the runs. Bounds describe correct behaviour of a time daemon, with
// room for noise, never the speed of the machine. Tests marked `todo` state
// correct behaviour the algorithm does not show yet (the failure is
// described in each); they run and report, without failing the suite.

import { test } from "node:test";
import assert from "node:assert/strict";

import type { ControllerAction } from "../../src/proto/algorithm/controller.js";
import { findScenario, scenarios } from "../../sim/scenarios.js";
import type { Scenario } from "../../sim/scenario.js";
import { Simulation, simulate, type RunResult } from "../../sim/simulation.js";
import { summarize, type Summary } from "../../sim/summary.js";

interface Selection {
  at: number;
  selected: string[];
}

interface Outcome {
  scenario: Scenario;
  run: RunResult;
  summary: Summary;
  /** Every controller update: when, and which servers it selected. */
  selections: Selection[];
}

const outcomes = new Map<string, Outcome>();

function outcome(name: string): Outcome {
  const cached = outcomes.get(name);
  if (cached !== undefined) return cached;
  const scenario = findScenario(name);
  assert.ok(scenario !== undefined, `no scenario ${name}`);
  const selections: Selection[] = [];
  const sim: Simulation = new Simulation(scenario, {
    onAction: (at: number, action: ControllerAction) => {
      if (action.kind !== "update") return;
      selections.push({ at, selected: action.selected.map((id) => sim.serverName(id) ?? "?") });
    },
  });
  const run = sim.run();
  const result = { scenario, run, summary: summarize(run), selections };
  outcomes.set(name, result);
  return result;
}

/** Largest |true offset| in [from, to) seconds of simulated time. */
function maxOffset(run: RunResult, from: number, to = Infinity): number {
  let max = 0;
  run.offsets.forEach((o, i) => {
    const t = i * run.sampleInterval;
    if (t >= from && t < to) max = Math.max(max, Math.abs(o));
  });
  return max;
}

/** Root mean square of the true offset in [from, end), seconds. */
function rmsOffset(run: RunResult, from: number): number {
  let sum = 0;
  let n = 0;
  run.offsets.forEach((o, i) => {
    if (i * run.sampleInterval >= from) {
      sum += o * o;
      n++;
    }
  });
  return Math.sqrt(sum / n);
}

const MINUTE = 60;
const HOUR = 3600;
/** Start-up: the burst, the first slews and the frequency settling. */
const STARTUP = 10 * MINUTE;

const us = (s: number): string => `${(s * 1e6).toFixed(1)} µs`;

for (const { name } of scenarios) {
  test(`${name}: converges within 5 min; no panic, no meddling, no falseticker selected`, () => {
    const { summary, run } = outcome(name);
    assert.deepEqual(summary.panics, []);
    assert.equal(summary.meddling, 0);
    assert.equal(run.duration, outcome(name).scenario.hours * HOUR);
    // Converged: |offset| < 1 ms, and held for the next 5 minutes.
    assert.ok(
      summary.within1ms !== null && summary.within1ms <= 5 * MINUTE,
      `${summary.within1ms}`,
    );
    assert.equal(summary.falsetickerSelected, 0, JSON.stringify(summary.firstFalsetickerSelection));
    // Every disagreement is part of start-up (a source or two answered, not three).
    assert.ok(
      summary.lastNoConsensus === null || summary.lastNoConsensus < MINUTE,
      `no consensus at ${summary.lastNoConsensus}`,
    );
    // No step once converged.
    assert.equal(summary.stepsAfterConvergence, 0, JSON.stringify(summary.steps));
  });
}

test("clean-lan: slewed (no step), then µs-level error and the frequency error cancelled", () => {
  const { summary, run } = outcome("clean-lan");
  assert.deepEqual(summary.steps, []);
  assert.ok(summary.within100us !== null && summary.within100us <= 5 * MINUTE);
  // Measured: max 17 µs, RMS 4 µs after start-up.
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 100e-6, `max |offset| after start-up ${us(max)}`);
  assert.ok(rmsOffset(run, STARTUP) < 20e-6, us(rmsOffset(run, STARTUP)));
  // 12 ppm, a random walk and a 0.2 ppm thermal swing: tracked within 0.1 ppm.
  assert.ok(Math.abs(summary.finalFrequencyError) < 0.1, `${summary.finalFrequencyError} ppm`);
  assert.ok(Math.abs(summary.finalOffset) < 100e-6);
});

test("internet-jitter: one start-up step of the 40 ms, then sub-ms tracking", () => {
  const { summary, run } = outcome("internet-jitter");
  assert.equal(summary.steps.length, 1, JSON.stringify(summary.steps));
  const step = summary.steps[0]!;
  assert.equal(step.startup, true);
  assert.ok(step.at < MINUTE, `step at ${step.at} s`);
  assert.ok(Math.abs(step.offset + 0.04) < 2e-3, `step ${step.offset}`);
  // Asymmetries up to 1.2 ms bias single servers by up to 0.6 ms; measured max 0.34 ms.
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 1e-3, `max |offset| after start-up ${us(max)}`);
  assert.ok(Math.abs(summary.finalFrequencyError) < 0.5, `${summary.finalFrequencyError} ppm`);
});

test("falseticker: both falsetickers outvoted, the clock unaffected", () => {
  const { summary, run, selections } = outcome("falseticker");
  const threshold = 0.01;
  const drift = findScenario("falseticker")!.servers.find((s) => s.name === "false-drift")!;
  for (const { at, selected } of selections) {
    assert.ok(!selected.includes("false-80ms"), `false-80ms selected at ${at}`);
    // Selected only while its clock is still within the threshold of true time.
    if (selected.includes("false-drift")) {
      assert.ok(drift.drift! * 1e-6 * at < threshold, `false-drift selected at ${at}`);
    }
    if (at > STARTUP) assert.deepEqual([...selected].sort(), ["lan-a", "lan-b", "lan-c"]);
  }
  assert.deepEqual(summary.steps, []);
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 100e-6, `max |offset| after start-up ${us(max)}`);
});

/** Seeds the start-up falseticker test runs (fixed: the test never goes red by chance). */
const STARTUP_SEEDS = [9, 1, 2, 3, 4, 5, 6, 7, 8, 10];

test(`falseticker-startup: the falseticker is never selected, from the first update (seeds ${STARTUP_SEEDS.join(", ")})`, (t) => {
  // Issue #11 item 3: with the start-up uncertainty every interval overlapped,
  // all four sources were combined and the clock stepped 23 ms toward the
  // falseticker at 0 s. Selection must rest on what the samples support.
  const base = findScenario("falseticker-startup")!;
  for (const seed of STARTUP_SEEDS) {
    t.diagnostic(`seed ${seed}`);
    const selections: Selection[] = [];
    const sim: Simulation = new Simulation(
      { ...base, seed, hours: 0.25 },
      {
        onAction: (at: number, action: ControllerAction) => {
          if (action.kind !== "update") return;
          selections.push({ at, selected: action.selected.map((id) => sim.serverName(id) ?? "?") });
        },
      },
    );
    const summary = summarize(sim.run());
    const first = selections[0];
    assert.ok(first !== undefined, `seed ${seed}: no update`);
    assert.deepEqual([...first.selected].sort(), ["noisy-a", "noisy-b", "noisy-c"], `seed ${seed}`);
    for (const { at, selected } of selections) {
      assert.ok(!selected.includes("false-50ms"), `seed ${seed}: false-50ms selected at ${at} s`);
    }
    assert.equal(summary.falsetickerSelected, 0, `seed ${seed}`);
    // 7 ms is below the step threshold: slewed, never stepped.
    assert.deepEqual(summary.steps, [], `seed ${seed}: ${JSON.stringify(summary.steps)}`);
  }
});

test("falseticker-startup: a server that corrects itself during our start-up does not pull the clock", (t) => {
  // 100 ms off for its first 3-4 samples, then right: its newest sample agrees
  // with the others but its start-up average does not, and combining that
  // average stepped the clock 13-26 ms (seeds 1-5).
  const base = findScenario("falseticker-startup")!;
  for (const seed of [1, 2, 3, 4, 5]) {
    t.diagnostic(`seed ${seed}`);
    const run = simulate({
      ...base,
      seed,
      hours: 0.25,
      clock: { ...base.clock, initialOffset: 0.002 },
      servers: base.servers.map((s) =>
        s.name === "false-50ms" ? { ...s, offset: 0.1, steps: [{ at: 7, by: -0.1 }] } : s,
      ),
    });
    const summary = summarize(run);
    assert.deepEqual(summary.steps, [], `seed ${seed}: ${JSON.stringify(summary.steps)}`);
    // It starts 2 ms behind and is slewed from there, never pulled further.
    const max = maxOffset(run, 0);
    assert.ok(max < 2.5e-3, `seed ${seed}: max |offset| ${us(max)}`);
  }
});

test("server-steps: the stepping server is outvoted while wrong and used again once right", () => {
  const { summary, selections } = outcome("server-steps");
  assert.deepEqual(summary.steps, []);
  const inUse = (from: number, to: number): Selection[] =>
    selections.filter((s) => s.at >= from && s.at < to && s.selected.includes("stepper"));
  // It steps 200 ms at 2 h and back at 4 h; a minute is plenty to notice (polls every 16-32 s).
  assert.deepEqual(inUse(2 * HOUR + MINUTE, 4 * HOUR), []);
  assert.ok(inUse(STARTUP, 2 * HOUR).length > 0);
  assert.ok(inUse(4 * HOUR + 10 * MINUTE, 6 * HOUR).length > 0);
  // The others carry on throughout.
  const honest = selections.filter((s) => s.at > STARTUP);
  assert.ok(honest.every((s) => ["lan-a", "lan-b", "lan-c"].every((n) => s.selected.includes(n))));
});

test("server-steps: |offset| stays below 1 ms", () => {
  const { run } = outcome("server-steps");
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 1e-3, `max |offset| after start-up ${us(max)}`);
});

test("server-steps: a server stepping back does not pull the clock (|offset| < 100 µs, as in clean-lan)", () => {
  const { run } = outcome("server-steps");
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 100e-6, `max |offset| after start-up ${us(max)}`);
});

test("server-vanishes: the remaining three keep the clock synchronized", () => {
  const { summary, run, selections } = outcome("server-vanishes");
  const stopsAt = findScenario("server-vanishes")!.servers.find(
    (s) => s.name === "vanishes",
  )!.stopsAt!;
  assert.deepEqual(summary.steps, []);
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 100e-6, `max |offset| after start-up ${us(max)}`);
  // Its stale estimate goes when the source is unreachable: 8 unanswered polls at the
  // 16-32 s these LAN sources use (measured: 4.5 min).
  const last = selections.filter((s) => s.selected.includes("vanishes")).at(-1)!;
  assert.ok(last.at > stopsAt - 5 * MINUTE && last.at < stopsAt + 10 * MINUTE, `${last.at}`);
  // And every update after that still has a majority of three.
  assert.ok(
    selections
      .filter((s) => s.at > stopsAt)
      .every((s) => ["lan-a", "lan-b", "lan-d"].every((n) => s.selected.includes(n))),
  );
  assert.ok(run.servers.find((s) => s.name === "vanishes")!.respawns > 0);
});

test("server-vanishes: a dead server is polled no more than once per minimum poll interval (16 s)", () => {
  // Replacements of a source that never answers wait 1, 2, 4 ... 64 s (as the
  // daemon's spawners): the start-up burst of each does not hammer the server.
  const { run, scenario } = outcome("server-vanishes");
  const stopsAt = scenario.servers.find((s) => s.name === "vanishes")!.stopsAt!;
  const unanswered = run.servers.find((s) => s.name === "vanishes")!.unanswered;
  const interval = (run.duration - stopsAt) / unanswered;
  assert.ok(interval >= 16, `one request every ${interval.toFixed(1)} s`);
});

test("large-initial-offset: stepped at start-up, then converged without another large step", () => {
  const { summary, run } = outcome("large-initial-offset");
  const first = summary.steps[0];
  assert.ok(first !== undefined);
  assert.equal(first.startup, true);
  assert.ok(first.at < MINUTE, `first step at ${first.at} s`);
  assert.ok(Math.abs(first.offset - 5.3) < 0.02, `first step ${first.offset}`);
  // Exactly one step flagged start-up, and nothing after the first minute.
  assert.equal(summary.steps.filter((s) => s.startup).length, 1);
  assert.ok(
    summary.steps.every((s) => s.at < MINUTE),
    JSON.stringify(summary.steps),
  );
  assert.ok(summary.within100us !== null && summary.within100us <= 5 * MINUTE);
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 100e-6, `max |offset| after start-up ${us(max)}`);
});

test("large-initial-offset: exactly one step in all", () => {
  // The start-up step corrects the whole offset: leaving the start-up σ
  // (≈ 10 ms here) uncorrected used to force a second step at 14 s.
  const { summary } = outcome("large-initial-offset");
  assert.equal(summary.steps.length, 1, JSON.stringify(summary.steps));
});

test("lossy: 25-40 % loss each way still converges and tracks within 1 ms, no step", () => {
  const { summary, run } = outcome("lossy");
  assert.deepEqual(summary.steps, []);
  // Offset noise per sample ≈ 0.7 ms here; measured max 0.77 ms, RMS 0.26 ms after start-up.
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 1e-3, `max |offset| after start-up ${us(max)}`);
  assert.ok(rmsOffset(run, STARTUP) < 400e-6, us(rmsOffset(run, STARTUP)));
  for (const s of run.servers) assert.ok(s.measurements > 100, `${s.name}: ${s.measurements}`);
});

test("thermal: a ±3 ppm swing every 40 min is tracked within 100 µs", () => {
  const { summary, run } = outcome("thermal");
  assert.deepEqual(summary.steps, []);
  const max = maxOffset(run, STARTUP);
  assert.ok(max < 100e-6, `max |offset| after start-up ${us(max)}`);
  // The frequency changes by up to 0.47 ppm/min; the residual lags behind it.
  assert.ok(Math.abs(summary.finalFrequencyError) < 1, `${summary.finalFrequencyError} ppm`);
});

test("determinism: the same seed gives the same run; another seed another", () => {
  const scenario = findScenario("internet-jitter")!;
  const a = simulate(scenario, { seed: 11, hours: 1 });
  const b = simulate(scenario, { seed: 11, hours: 1 });
  assert.deepEqual(summarize(a), summarize(b));
  assert.deepEqual(a.offsets, b.offsets);
  const lines: string[] = [];
  const traced = simulate(scenario, { seed: 11, hours: 1, trace: (_t, line) => lines.push(line) });
  assert.deepEqual(summarize(traced), summarize(a), "tracing changes nothing");
  assert.ok(lines.some((l) => l.startsWith("Jumped offset by")));
  const c = simulate(scenario, { seed: 12, hours: 1 });
  assert.notDeepEqual(summarize(c), summarize(a));
  // The shared runs above too: each scenario's own seed.
  const clean = findScenario("clean-lan")!;
  assert.deepEqual(summarize(simulate(clean)), outcome("clean-lan").summary);
});

test("a start-up step beyond startup-step-panic-threshold panics and ends the run", () => {
  const base = findScenario("large-initial-offset")!;
  const run = simulate({
    ...base,
    synchronization: { startupStepPanicThreshold: { forward: 1, backward: 1 } },
  });
  const summary = summarize(run);
  assert.equal(summary.panics.length, 1);
  assert.equal(summary.panics[0]!.threshold, "startup");
  assert.ok(Math.abs(summary.panics[0]!.offset - 5.3) < 0.02);
  assert.deepEqual(summary.steps, []);
  assert.ok(run.duration < MINUTE, `ran ${run.duration} s`);
  assert.ok(Math.abs(summary.finalOffset - 5.3) < 0.01, "the clock was left alone");
});

test("drifting-reference-spikes: the 40 ppm is found in the start-up burst, then the spikes do not show", () => {
  // Issue #11 item 1. Before the start-up fitted a line through its samples,
  // the filter began at frequency 0 ± 100 ppm with the mean offset of the burst
  // (which lags a 40 ppm drift by ~300 µs): |offset| still reached 150-1700 µs
  // between 20 s and 60 s.
  const { summary, run } = outcome("drifting-reference-spikes");
  assert.deepEqual(summary.steps, []);
  assert.ok(summary.within100us !== null && summary.within100us <= 30, `${summary.within100us}`);
  const settling = maxOffset(run, 20, MINUTE);
  assert.ok(settling < 50e-6, `max |offset| 20-60 s ${us(settling)}`);
  // 3 % of the exchanges are held 1-8 ms on one leg; measured max 7 µs after the first minute.
  const max = maxOffset(run, MINUTE);
  assert.ok(max < 20e-6, `max |offset| after 1 min ${us(max)}`);
  assert.ok(Math.abs(summary.finalFrequencyError) < 0.1, `${summary.finalFrequencyError} ppm`);
});

/**
 * One run of still-server-poll-step with `seed`: the largest slew, the largest
 * frequency correction apart from slews (the local clock is perfect, so every
 * ppm of it drives the clock away from the server), and the largest |offset|.
 */
function stillServerRun(seed: number): { slew: number; frequency: number; offset: number } {
  const scenario = findScenario("still-server-poll-step")!;
  let slew = 0;
  let frequency = 0;
  let slewRate = 0;
  const sim: Simulation = new Simulation(scenario, {
    seed,
    hours: 0.5,
    onAction: (_at, action) => {
      if (action.kind !== "set-frequency") return;
      if (action.reason === "slew-start" && action.slew !== null) {
        slew = Math.max(slew, Math.abs(action.slew.offset));
        slewRate = (action.slew.offset / action.slew.duration) * 1e6;
      } else if (action.reason === "slew-end") {
        slewRate = 0;
      }
      frequency = Math.max(frequency, Math.abs(action.ppm - slewRate));
    },
  });
  const run = sim.run();
  return { slew, frequency, offset: maxOffset(run, 0) };
}

test("still-server-poll-step: no slew away from a still source when the poll steps from 2 s to 16 s", () => {
  // Issue #11 item 4. The poll jumps from the 2 s burst to 16 s; the first
  // 16 s sample used to set the frequency alone ((its error)/16 s): with a
  // stall on that sample the clock was driven up to 37 ppm and 390 µs away
  // from the server, and then slewed back by up to 190 µs (seeds 2, 8, 10,
  // 13, 15 of 1-15). Measured now over those seeds: slews ≤ 21 µs, frequency
  // ≤ 0.8 ppm, |offset| ≤ 35 µs.
  for (let seed = 1; seed <= 15; seed++) {
    const r = stillServerRun(seed);
    assert.ok(r.slew < 50e-6, `seed ${seed}: slew of ${us(r.slew)}`);
    assert.ok(r.frequency < 2, `seed ${seed}: frequency correction ${r.frequency.toFixed(2)} ppm`);
    assert.ok(r.offset < 50e-6, `seed ${seed}: |offset| up to ${us(r.offset)}`);
  }
});

/**
 * RMS and mean over [from, end) of the error of the controller's estimate (the
 * combined offset each update reports against the true offset then): what the
 * accuracy bench compares with chrony. One run of `name` with `seed`, `hours` long.
 */
function estimateErrors(
  name: string,
  seed: number,
  hours: number,
  from: number,
): { rms: number; mean: number } {
  const scenario = findScenario(name)!;
  const sampleInterval = 0.25;
  const estimates: { at: number; offset: number }[] = [];
  const run = new Simulation(scenario, {
    seed,
    hours,
    sampleInterval,
    onAction: (at, action) => {
      if (action.kind === "update") estimates.push({ at, offset: action.offset });
    },
  }).run();
  let sum = 0;
  let sumOfSquares = 0;
  let n = 0;
  for (const e of estimates) {
    if (e.at < from) continue;
    const i = Math.min(run.offsets.length - 1, Math.round(e.at / sampleInterval));
    const error = e.offset - run.offsets[i]!;
    sum += error;
    sumOfSquares += error * error;
    n++;
  }
  return { rms: Math.sqrt(sumOfSquares / n), mean: sum / n };
}

const JITTER_SEEDS = [1, 2, 3, 4, 5, 6, 7, 8];

test(`loopback-jitter: exchanges are weighted by their queueing (seeds ${JITTER_SEEDS.join(", ")})`, () => {
  // One exchange's offset error is ±71 µs (σ); given its queueing δ (delay minus
  // the path's minimum) it lies within ±δ/2. Weighting every exchange alike (by
  // the delay window's variance) left a mean RMS error of 15.7 µs over these
  // seeds (12.7-18.2); weighting by δ²/12 over a floor gives 12.0 µs (9.1-14.4).
  const errors = JITTER_SEEDS.map((seed) => estimateErrors("loopback-jitter", seed, 1, MINUTE).rms);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  console.log(`estimate RMS error per seed: ${errors.map(us).join(", ")}; mean ${us(mean)}`);
  assert.ok(mean < 14e-6, `mean ${us(mean)}`);
});

const LATE_SEEDS = [14, 15, 16, 17, 18, 19];

test(`late-replies: offsets early by half their reply's lateness are moved back (seeds ${LATE_SEEDS.join(", ")})`, () => {
  // Each reply leaves Exp(20 µs) after its T3: its offset is low by half that,
  // and its delay high by all of it. Weighted by their queueing alone, the
  // offsets left the estimate 4.4-5.3 µs low on average (RMS 5.2-6.2 µs) over
  // these seeds; moved by the queueing split (queueing-split.ts) to the
  // window's second smallest round trip, 0.5-0.6 µs low (RMS 0.7-0.9 µs).
  const errors = LATE_SEEDS.map((seed) => estimateErrors("late-replies", seed, 1, MINUTE));
  console.log(
    `estimate error per seed (mean / RMS): ${errors.map((e) => `${us(e.mean)} / ${us(e.rms)}`).join(", ")}`,
  );
  for (const e of errors) {
    assert.ok(Math.abs(e.mean) < 1.5e-6, `mean ${us(e.mean)}`);
    assert.ok(e.rms < 2e-6, `RMS ${us(e.rms)}`);
  }
});

const NOISE_SEEDS = [12, 13, 14, 15];

test(`fast-reference: read noise no delay shows is not taken for a wandering frequency (seeds ${NOISE_SEEDS.join(", ")})`, () => {
  // The server's T2 and T3 readings carry 1 µs of noise each: it moves the
  // offset, not the delay. Before the filter learnt it (unseen-noise.ts) it took
  // each sample for nearly exact, voted the wander up 16 000-fold, polled every
  // second for the whole half hour (1729-1749 polls) and ended 0.10-1.95 ppm
  // off. Measured after: 429-1535 polls, |frequency error| ≤ 0.043 ppm.
  const scenario = findScenario("fast-reference")!;
  for (const seed of NOISE_SEEDS) {
    const run = new Simulation(scenario, { seed }).run();
    const summary = summarize(run);
    assert.ok(
      Math.abs(summary.finalFrequencyError) < 0.1,
      `seed ${seed}: ${summary.finalFrequencyError} ppm`,
    );
    const polls = run.servers[0]!.polls;
    assert.ok(polls < 1700, `seed ${seed}: ${polls} polls in half an hour`);
  }
});
