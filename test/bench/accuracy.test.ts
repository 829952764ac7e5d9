// The accuracy bench's pure pieces (bench/accuracy/scenarios.ts, stats.ts,
// daemons.ts's config and chronyc parsing): the truth it judges both daemons
// against, the emulated path, the reply schedule, the figures. The bench
// itself is not run here (it takes minutes and needs chrony and dumpcap).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { chronyConfig, ourConfig, parseChronyTracking } from "../../bench/accuracy/daemons.js";
import type { DaemonResult, ScenarioResult } from "../../bench/accuracy/report.js";
import { acrossRuns, medianOf, runFigures } from "../../bench/accuracy/runs.js";
import {
  drawPath,
  eventAt,
  exponential,
  pathBias,
  referenceClock,
  replySchedule,
  SCENARIOS,
  seededRandom,
  truthAt,
  type PathModel,
} from "../../bench/accuracy/scenarios.js";
import {
  convergenceTime,
  errorStats,
  finalFrequency,
  nearestRank,
  type Sample,
} from "../../bench/accuracy/stats.js";

const scenario = (name: string) => SCENARIOS.find((s) => s.name === name)!;

test("the scenarios cover issue #11's conditions, each name once", () => {
  const names = SCENARIOS.map((s) => s.name);
  assert.equal(new Set(names).size, names.length);
  for (const n of [
    "clean",
    "jitter",
    "spikes",
    "fast",
    "slow",
    "step",
    "falseticker",
    "loss",
    "asymmetry",
    "poll",
    "restart",
  ]) {
    assert.ok(names.includes(n), n);
  }
  assert.equal(scenario("fast").clock.ppm, 40);
  assert.equal(scenario("slow").clock.ppm, -40);
  const f = scenario("falseticker");
  assert.deepEqual([f.honest, f.falsetickers.length, f.minAgreeing], [3, 1, 3]);
  assert.deepEqual(scenario("poll").poll, { min: 1, max: 4 });
});

test("truth: offset plus drift, and a step from its instant on", () => {
  assert.equal(truthAt({ offset0: 0.025, ppm: 0 }, 1000), 0.025);
  assert.ok(Math.abs(truthAt({ offset0: -0.002, ppm: 40 }, 100) - (-0.002 + 0.004)) < 1e-15);
  const step = referenceClock(scenario("step"), 100);
  assert.deepEqual(step.step, { at: 50, by: 0.005 });
  assert.equal(truthAt(step, 49.999), 0.025);
  assert.ok(Math.abs(truthAt(step, 50) - 0.03) < 1e-15);
  assert.equal(eventAt(scenario("step"), 100), 50);
  assert.equal(eventAt(scenario("restart"), 80), 40);
  assert.equal(eventAt(scenario("clean"), 80), null);
  // Without a step the clock is the scenario's own.
  assert.equal(referenceClock(scenario("fast"), 100), scenario("fast").clock);
});

test("the path: fixed delays per direction, no noise when none is asked for", () => {
  const random = seededRandom(1);
  const clean: PathModel = { forward: 0, back: 0, jitterMean: 0, loss: 0 };
  for (let i = 0; i < 100; i++) {
    assert.deepEqual(drawPath(clean, random), { drop: false, forward: 0, back: 0 });
  }
  const asym = scenario("asymmetry").path;
  assert.deepEqual(drawPath(asym, random), { drop: false, forward: 0, back: 400e-6 });
});

test("errors are taken against what the path lets a client see: the asymmetry's half", () => {
  assert.equal(pathBias(scenario("clean").path), 0);
  assert.equal(pathBias(scenario("jitter").path), 0);
  assert.ok(Math.abs(pathBias(scenario("asymmetry").path) - -200e-6) < 1e-15);
  assert.ok(
    Math.abs(pathBias({ forward: 300e-6, back: 100e-6, jitterMean: 0, loss: 0 }) - 100e-6) < 1e-15,
  );
});

test("the path's statistics: loss rate, jitter mean per direction, spike rate and size", () => {
  const n = 20_000;
  const count = (path: PathModel, f: (d: ReturnType<typeof drawPath>) => number) => {
    const random = seededRandom(7);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += f(drawPath(path, random));
    return sum / n;
  };
  const loss = scenario("loss").path;
  assert.ok(Math.abs(count(loss, (d) => (d.drop ? 1 : 0)) - 0.3) < 0.015);
  const jitter = scenario("jitter").path;
  assert.ok(Math.abs(count(jitter, (d) => d.forward) - 100e-6) < 5e-6);
  assert.ok(Math.abs(count(jitter, (d) => d.back) - 100e-6) < 5e-6);
  const spikes = scenario("spikes").path;
  const spiked = count(spikes, (d) => (Math.max(d.forward, d.back) >= 1e-3 ? 1 : 0));
  assert.ok(Math.abs(spiked - 0.05) < 0.006, `spike rate ${spiked}`);
  const random = seededRandom(3);
  for (let i = 0; i < 2000; i++) {
    const d = drawPath(spikes, random);
    const big = Math.max(d.forward, d.back);
    // A spike is 1-10 ms on one direction; the other keeps its jitter only.
    if (big >= 1e-3) assert.ok(big < 10e-3 + 1e-3 && Math.min(d.forward, d.back) < 1e-3);
  }
});

test("exponential draws have the mean asked for and none for mean 0; the PRNG is reproducible", () => {
  const random = seededRandom(5);
  let sum = 0;
  for (let i = 0; i < 20_000; i++) sum += exponential(2, random);
  assert.ok(Math.abs(sum / 20_000 - 2) < 0.06);
  assert.equal(exponential(0, random), 0);
  const a = seededRandom(9);
  const b = seededRandom(9);
  const c = seededRandom(10);
  const xs = [a(), a(), a()];
  assert.deepEqual(xs, [b(), b(), b()]);
  assert.notDeepEqual(xs, [c(), c(), c()]);
  for (const x of xs) assert.ok(x >= 0 && x < 1);
});

test("reply schedule: T2 after the forward delay, T3 no earlier than now + lead, leaves back later", () => {
  fc.assert(
    fc.property(
      fc.double({ min: 0, max: 1000, noNaN: true }),
      fc.double({ min: 0, max: 0.01, noNaN: true }),
      fc.double({ min: 0, max: 0.01, noNaN: true }),
      fc.double({ min: 0, max: 0.01, noNaN: true }),
      fc.double({ min: 0, max: 0.001, noNaN: true }),
      (received, handling, forward, back, lead) => {
        const now = received + handling;
        const w = replySchedule(received, now, { drop: false, forward, back }, lead);
        assert.equal(w.t2, received + forward);
        assert.ok(w.t3 >= w.t2 && w.t3 >= now + lead);
        assert.ok(w.t3 === w.t2 || w.t3 === now + lead);
        assert.equal(w.leave, w.t3 + back);
      },
    ),
  );
  // The client sees exactly the emulated asymmetry: with the reply leaving at
  // T3 + back, offset error = (forward − back) / 2.
  const w = replySchedule(10, 10, { drop: false, forward: 0, back: 400e-6 }, 300e-6);
  const t1 = 10;
  const t4 = w.leave;
  const offset = (w.t2 - t1 + (w.t3 - t4)) / 2;
  assert.ok(Math.abs(offset - -200e-6) < 1e-12);
});

const sample = (t: number, error: number | null, dense = false): Sample => ({
  t,
  estimate: error === null ? null : 1 + error,
  truth: 1,
  frequency: null,
  dense,
});

test("convergence: from the first sample after which all stay within the threshold", () => {
  const s = [
    sample(1, null),
    sample(2, 5e-3),
    sample(3, 5e-4),
    sample(4, 2e-3),
    sample(5, 5e-4),
    sample(6, 5e-5),
    sample(7, -9e-4),
  ];
  assert.equal(convergenceTime(s, 1e-3), 5);
  assert.equal(convergenceTime(s, 100e-6), null); // the last is out
  assert.equal(convergenceTime(s.slice(0, 6), 100e-6), 6);
  // From an event on: what happened before it does not count.
  assert.equal(convergenceTime(s, 1e-2, 3.5), 4);
  assert.equal(convergenceTime([sample(1, null)], 1), null);
});

test("error figures: median, p95 and max of |error|, the signed mean; dense samples left out", () => {
  const s: Sample[] = [];
  for (let i = 1; i <= 100; i++) s.push(sample(i, (i % 2 === 0 ? 1 : -1) * i * 1e-6));
  s.push(sample(50.5, 1, true)); // dense: not counted
  s.push(sample(0.5, 1)); // before the window
  const e = errorStats(s, 1)!;
  assert.equal(e.count, 100);
  assert.ok(Math.abs(e.median - 50e-6) < 1e-12);
  assert.ok(Math.abs(e.p95 - 95e-6) < 1e-12);
  assert.ok(Math.abs(e.max - 100e-6) < 1e-12);
  assert.ok(Math.abs(e.mean - 0.5e-6) < 1e-12);
  assert.equal(errorStats(s, 1000), null);
  assert.equal(nearestRank([], 0.5), NaN);
  assert.equal(nearestRank([1, 2, 3], 1), 3);
  assert.equal(nearestRank([1, 2, 3], 0.01), 1);
});

test("final frequency: the last sample that has one", () => {
  const s = [{ ...sample(1, 0), frequency: 3 }, { ...sample(2, 0), frequency: 4 }, sample(3, null)];
  assert.equal(finalFrequency(s), 4);
  assert.equal(finalFrequency([sample(1, 0)]), null);
});

test("both daemons get the same sources, poll range, minimum of agreeing sources and a drift file", () => {
  const setup = {
    sources: [
      { address: "127.0.0.11", port: 4001 },
      { address: "127.0.0.14", port: 4002 },
    ],
    minPoll: 1,
    maxPoll: 4,
    minAgreeing: 3,
  };
  const ours = ourConfig({ observation: "/tmp/x/observe", drift: "/tmp/x/drift" }, setup, 1);
  assert.equal(ours.match(/\[\[source\]\]/g)?.length, 2);
  assert.match(ours, /address = "127\.0\.0\.14:4002"/);
  assert.equal(ours.match(/poll-interval-limits = \{ min = 1, max = 4 \}/g)?.length, 2);
  assert.match(ours, /minimum-agreeing-sources = 3/);
  // Both keep their frequency across a restart (chrony: driftfile).
  assert.match(ours, /drift-file = "\/tmp\/x\/drift"/);
  const chrony = chronyConfig(setup);
  assert.ok(chrony.includes("server 127.0.0.14 port 4002 iburst minpoll 1 maxpoll 4"));
  assert.ok(chrony.includes("minsources 3"));
});

test("chronyc tracking: System time and Frequency in our sign", () => {
  assert.deepEqual(
    parseChronyTracking({
      "System time": "0.024980000 seconds slow of NTP time",
      Frequency: "10.000 ppm slow",
    }),
    { estimate: 0.02498, frequency: 10 },
  );
  assert.deepEqual(
    parseChronyTracking({
      "System time": "0.000001000 seconds fast of NTP time",
      Frequency: "2.500 ppm fast",
    }),
    { estimate: -0.000001, frequency: -2.5 },
  );
  assert.equal(parseChronyTracking({ "System time": "garbage", Frequency: "1 ppm slow" }), null);
});

/** A scenario's result with only what the across-runs summary reads. */
function result(
  name: string,
  event: number | null,
  figures: Record<string, { median: number; p95: number; conv: number | null; back?: number }>,
): ScenarioResult {
  const daemons = Object.entries(figures).map(
    ([daemon, f]) =>
      ({
        name: daemon,
        stats: { count: 100, mean: 0, rms: 0, median: f.median, p95: f.p95, max: f.p95 },
        conv100us: f.conv,
        back100us: f.back ?? null,
      }) as unknown as DaemonResult,
  );
  return { scenario: scenario(name), event, daemons } as unknown as ScenarioResult;
}

test("over several runs: the median of each run's figure, and how often ours was at most chrony's", () => {
  assert.equal(medianOf([3, 1, 2]), 2);
  // A run where a daemon never converged counts as later than any other.
  assert.equal(medianOf([1, null, 2]), 2);
  assert.equal(medianOf([null, null, 5]), null);
  assert.equal(medianOf([]), null);
  const runs = [5, 1, 3].map((k) => [
    result("jitter", null, {
      "ntpd-ts": { median: k * 1e-6, p95: 10e-6, conv: 1 },
      chrony: { median: 2e-6, p95: { 5: 10e-6, 1: 6e-6, 3: 8e-6 }[k]!, conv: k === 1 ? null : 3 },
    }),
    result("step", 55, {
      "ntpd-ts": { median: 1e-6, p95: 5e-6, conv: 1, back: 2 },
      chrony: { median: 1e-6, p95: 5e-6, conv: 1, back: 4 },
    }),
  ]);
  // For a step the time that counts is back after it.
  assert.deepEqual(runFigures(runs[0]![1]!, "ntpd-ts"), {
    median: 1e-6,
    p95: 5e-6,
    within100us: 2,
  });
  assert.equal(runFigures(runs[0]![1]!, "nobody"), null);
  const text = acrossRuns(runs);
  const row = (name: string) =>
    text
      .split("\n")
      .find((l) => l.startsWith(name))!
      .split(/ {2,}/);
  // jitter: ours' medians 5, 1, 3 µs → 3; chrony's 2 → ratio 1.50, ours at most
  // chrony's in 1 run of 3; p95 10 against 10, 6, 8 → 10 / 8, at most in 1 of 3;
  // to 100 µs: chrony never in one run, so 2 runs compared.
  assert.deepEqual(row("jitter"), [
    "jitter",
    "3.0 / 2.0",
    "10 / 8.0",
    "1.0 / 3.0",
    "1.50",
    "1.25",
    "0.33",
    "1/3, 1/3, 2/2",
  ]);
  assert.deepEqual(row("step (after)").slice(3), [
    "2.0 / 4.0",
    "1.00",
    "1.00",
    "0.50",
    "3/3, 3/3, 3/3",
  ]);
  assert.match(text, /over 3 runs/);
});
