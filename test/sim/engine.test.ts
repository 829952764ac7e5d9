// The simulator's parts: event queue, random numbers, the local clock's
// thermal term, network paths, a simulated server answering a real NtpSource,
// the summary, the text output and the CLI.

import { test } from "node:test";
import assert from "node:assert/strict";

import { NtpSource } from "../../src/proto/source/source.js";
import { main, type CliIo } from "../../sim/cli.js";
import { EventQueue } from "../../sim/event-queue.js";
import { formatSeconds, formatTime } from "../../sim/format.js";
import { SimLocalClock } from "../../sim/local-clock.js";
import { NetworkPath } from "../../sim/network.js";
import { Rng } from "../../sim/random.js";
import { SimServer } from "../../sim/server.js";
import { scenarios } from "../../sim/scenarios.js";
import { offsetStats, summarize } from "../../sim/summary.js";
import type { RunResult } from "../../sim/simulation.js";

test("event queue: time order, scheduling order among equal times", () => {
  const q = new EventQueue<string>();
  const input: [number, string][] = [
    [5, "e"],
    [1, "a"],
    [3, "c1"],
    [3, "c2"],
    [2, "b"],
    [3, "c3"],
    [0.5, "first"],
  ];
  for (const [at, e] of input) q.push(at, e);
  assert.equal(q.size, input.length);
  assert.equal(q.peekTime(), 0.5);
  const out: string[] = [];
  for (let e = q.pop(); e !== null; e = q.pop()) out.push(e.event);
  assert.deepEqual(out, ["first", "a", "b", "c1", "c2", "c3", "e"]);
  assert.equal(q.peekTime(), null);
  assert.throws(() => q.push(NaN, "x"), RangeError);
  // A larger random load comes out sorted.
  const rng = new Rng(3);
  for (let i = 0; i < 1000; i++) q.push(rng.uniform() * 100, String(i));
  let last = -1;
  for (let e = q.pop(); e !== null; e = q.pop()) {
    assert.ok(e.at >= last);
    last = e.at;
  }
});

test("random numbers: seeded, independent streams, sane distributions", () => {
  const draw = (seed: number, label: string) => {
    const r = new Rng(seed, label);
    return Array.from({ length: 5 }, () => r.nextU32());
  };
  assert.deepEqual(draw(1, "a"), draw(1, "a"));
  assert.notDeepEqual(draw(1, "a"), draw(2, "a"));
  assert.notDeepEqual(draw(1, "a"), draw(1, "b"));
  const r = new Rng(7, "stats");
  const n = 20000;
  let sum = 0;
  let sq = 0;
  let exp = 0;
  let chance = 0;
  for (let i = 0; i < n; i++) {
    const g = r.gaussian();
    sum += g;
    sq += g * g;
    exp += r.exponential(2);
    if (r.chance(0.25)) chance++;
    const u = r.uniform();
    assert.ok(u >= 0 && u < 1);
  }
  assert.ok(Math.abs(sum / n) < 0.05);
  assert.ok(Math.abs(sq / n - 1) < 0.05);
  assert.ok(Math.abs(exp / n - 2) < 0.1);
  assert.ok(Math.abs(chance / n - 0.25) < 0.02);
  assert.equal(new Rng(1).chance(0), false);
  assert.equal(new Rng(1).bytes(7).length, 7);
});

test("local clock: offset, frequency error and the thermal term integrate exactly", () => {
  const period = 1000;
  const clock = new SimLocalClock(
    { initialOffset: 0.002, frequencyError: 10, thermal: { amplitude: 2, period } },
    1,
  );
  assert.equal(clock.trueOffset(), 0.002);
  // Over whole periods the thermal term integrates to zero: 10 ppm × 2000 s = 20 ms.
  clock.advanceTo(2 * period);
  assert.ok(Math.abs(clock.trueOffset() - 0.022) < 1e-12, `${clock.trueOffset()}`);
  // A quarter period: 2 ppm · P/2π more.
  clock.advanceTo(2.25 * period);
  const thermal = (2e-6 * period) / (2 * Math.PI);
  assert.ok(Math.abs(clock.trueOffset() - (0.0245 + thermal)) < 1e-12);
  assert.ok(Math.abs(clock.oscillatorError() - 12) < 1e-9, "10 ppm + the thermal peak");
  // What the daemon reads lags true time by the offset, and a correction cancels the drift.
  const wall = clock.now();
  assert.ok(Math.abs(clock.trueNow().diffSeconds(wall) - clock.trueOffset()) < 1e-9);
  clock.setFrequency(clock.oscillatorError());
  assert.ok(Math.abs(clock.trueFrequency()) < 1e-9);
  clock.step(clock.trueOffset());
  assert.ok(Math.abs(clock.trueOffset()) < 1e-12);
  assert.equal(clock.inner.steps().length, 1);
  // The monotonic clock carries the same oscillator, but never steps.
  const mono = clock.monotonic();
  clock.advanceTo(2.25 * period + 10);
  assert.ok(Math.abs(clock.monotonic() - mono - 10) < 1e-6);
});

test("network path: delays, asymmetry and loss as specified", () => {
  const path = new NetworkPath(
    { delay: 0.01, asymmetry: 0.002, jitter: { kind: "exponential", mean: 0.001 }, loss: 0.2 },
    5,
    "p",
  );
  let out = 0;
  let back = 0;
  let lost = 0;
  const n = 20000;
  for (let i = 0; i < n; i++) {
    const a = path.request();
    const b = path.reply();
    if (a === null || b === null) {
      lost++;
      continue;
    }
    out += a;
    back += b;
    assert.ok(a >= 0.011 && b >= 0.009);
  }
  const kept = n - lost;
  assert.ok(Math.abs(out / kept - 0.012) < 2e-4, `request leg ${out / kept}`);
  assert.ok(Math.abs(back / kept - 0.01) < 2e-4, `reply leg ${back / kept}`);
  // A round trip survives with 0.8² = 0.64.
  assert.ok(Math.abs(kept / n - 0.64) < 0.02);
});

test("simulated server: a real NtpSource measures its offset through the real server core", () => {
  const rng = new Rng(1, "source");
  const server = new SimServer(
    { name: "s", path: { delay: 0.001 }, offset: 0.25, noise: 0, steps: [{ at: 100, by: -0.5 }] },
    1,
  );
  const clock = new SimLocalClock({ initialOffset: -0.1, frequencyError: 0 }, 1);
  const source = new NtpSource({ random: (n) => rng.bytes(n) });
  const measure = (at: number): number => {
    clock.advanceTo(at);
    const poll = source.poll(clock.now());
    assert.equal(poll.kind, "request");
    if (poll.kind !== "request") return NaN;
    const answer = server.receive(poll.request, at + 0.001);
    assert.ok(answer !== null);
    clock.advanceTo(answer.departs + 0.001);
    const event = source.handleResponse(answer.reply, answer.reply.length, clock.now());
    assert.equal(event.kind, "measurement");
    return event.kind === "measurement" ? event.measurement.offset : NaN;
  };
  // Server 250 ms ahead of true time, the clock 100 ms ahead (true − clock = -0.1):
  // θ = server − clock = 0.15 s.
  assert.ok(Math.abs(measure(10) - 0.15) < 1e-6);
  assert.ok(Math.abs(measure(200) - -0.35) < 1e-6, "after the server's -0.5 s step");
  assert.equal(server.error(50), 0.25);
  assert.equal(server.counters.replies, 2);
  const vanishing = new SimServer({ name: "v", path: { delay: 0.001 }, stopsAt: 60 }, 1);
  assert.equal(vanishing.answersAt(59), true);
  assert.equal(vanishing.receive(new Uint8Array(48), 61), null);
  assert.equal(vanishing.counters.unanswered, 1);
});

test("summary: convergence times hold for 5 minutes; statistics after convergence", () => {
  const dt = 2;
  const offsets = new Float64Array(2000);
  for (let i = 0; i < offsets.length; i++) {
    const t = i * dt;
    // 5 ms, below 1 ms at 100 s, a 2 ms blip at 200 s, below 100 µs from 1000 s.
    offsets[i] = t < 100 ? 5e-3 : t === 200 ? 2e-3 : t < 1000 ? 5e-4 : 5e-5;
  }
  // The estimate: none for 4 s, 300 µs off until 50 s, a 150 µs blip at 60 s,
  // then 20 µs off but 40 µs for 300 s from 3000 s (150 of the 1969 samples from 62 s on: the p95).
  const estimateErrors = new Float64Array(offsets.length);
  for (let i = 0; i < offsets.length; i++) {
    const t = i * dt;
    estimateErrors[i] =
      t < 4 ? NaN : t < 50 ? 3e-4 : t === 60 ? -1.5e-4 : t >= 3000 && t < 3300 ? -4e-5 : 2e-5;
  }
  const run: RunResult = {
    scenario: "x",
    seed: 1,
    duration: offsets.length * dt,
    sampleInterval: dt,
    offsets,
    estimateErrors,
    steps: [{ at: 1500, offset: 0.02, startup: false }],
    panics: [],
    noConsensus: [0, 3],
    meddling: 0,
    updates: 10,
    slews: 0,
    falsetickerSelections: [],
    servers: [],
    finalFrequencyError: 0.1,
    finalOffset: 5e-5,
  };
  const s = summarize(run);
  assert.equal(s.within1ms, 202, "the blip at 200 s restarts the 5 minutes");
  assert.equal(s.within100us, 1000);
  assert.deepEqual(s.estimate, { within100us: 62, median: 2e-5, p95: 4e-5, max: 4e-5 });
  assert.equal(s.lastAbove1ms, 200);
  assert.equal(s.stepsAfterConvergence, 1);
  assert.equal(s.lastNoConsensus, 3);
  assert.ok(s.afterConvergence !== null && s.afterConvergence.max === 5e-4);
  assert.deepEqual(offsetStats([3, 4]), { rms: Math.sqrt(12.5), p95: 4, max: 4 });
  assert.deepEqual(offsetStats([]), { rms: 0, p95: 0, max: 0 });
});

test("format: units that fit", () => {
  assert.equal(formatSeconds(17.4e-6), "17.4 µs");
  assert.equal(formatSeconds(-8.8e-4), "-880 µs");
  assert.equal(formatSeconds(0.0104), "10.4 ms");
  assert.equal(formatSeconds(5.2897), "5.290 s");
  assert.equal(formatSeconds(3e-8), "30.0 ns");
  assert.equal(formatTime(null), "never");
  assert.equal(formatTime(24.4), "24 s");
  assert.equal(formatTime(654), "10.9 min");
  assert.equal(formatTime(7200), "2.00 h");
});

function capture(): CliIo & { lines: string[]; errors: string[]; files: Map<string, string> } {
  const lines: string[] = [];
  const errors: string[] = [];
  const files = new Map<string, string>();
  return {
    lines,
    errors,
    files,
    out: (l) => lines.push(l),
    err: (l) => errors.push(l),
    writeFile: (p, t) => files.set(p, t),
  };
}

test("cli: one scenario's report, a table for several, JSON, CSV, usage errors", () => {
  const one = capture();
  assert.equal(main(["large-initial-offset", "--hours", "0.2", "--seed", "3"], one), 0);
  const report = one.lines.join("\n");
  assert.match(report, /^large-initial-offset \(seed 3, 0\.2 h simulated\)/);
  assert.match(report, /steps +1: \+5\.\d\d\d s at 0 s \(start-up\)\n/);
  assert.match(report, /falseticker selected +never/);

  const table = capture();
  assert.equal(main(["clean-lan", "falseticker", "--hours", "0.1"], table), 0);
  const rows = table.lines.join("\n").split("\n");
  assert.match(
    rows[0]!,
    /^scenario +<1 ms +<100 µs +RMS +p95 +max +est <100 µs +est p95 +freq err +steps/,
  );
  assert.match(rows[2]!, /^clean-lan /);
  assert.match(rows[3]!, /^falseticker /);

  const json = capture();
  assert.equal(main(["thermal", "--hours", "0.1", "--json"], json), 0);
  const parsed = JSON.parse(json.lines.join("\n")) as { scenario: string; hours: number }[];
  assert.equal(parsed[0]!.scenario, "thermal");
  assert.equal(parsed[0]!.hours, 0.1);

  const csv = capture();
  assert.equal(main(["clean-lan", "--hours", "0.01", "--csv", "out.csv"], csv), 0);
  const text = csv.files.get("out.csv")!;
  assert.equal(text.split("\n")[0], "t_s,offset_s");
  assert.equal(text.trim().split("\n").length, 1 + 19);

  const traced = capture();
  assert.equal(main(["large-initial-offset", "--hours", "0.01", "--trace"], traced), 0);
  assert.ok(
    traced.lines.some((l) => /large-initial-offset +0 s {2}Jumped offset by 5\d\d\d\./.test(l)),
  );

  const list = capture();
  assert.equal(main(["--list"], list), 0);
  assert.equal(list.lines.length, scenarios.length);

  for (const args of [[], ["nope"], ["all", "--hours", "-1"], ["all", "--seed", "1.5"], ["--x"]]) {
    const bad = capture();
    assert.equal(main(args, bad), 2, args.join(" "));
    assert.ok(bad.errors.length > 0);
  }
  const twoCsv = capture();
  assert.equal(main(["clean-lan", "lossy", "--csv", "f"], twoCsv), 2);
});
