// `npm run bench:accuracy`: how well our clock discipline tracks a clock whose
// offset from the system clock is KNOWN, side by side with chrony.
//
// Per scenario (scenarios.ts: constant offset, drift, jitter) a test NTP
// server on 127.0.0.1 (server.ts: our real server core, local stratum 1)
// serves system time + offset(t). Our daemon (--no-clock-control, one
// [[source]], minimum-agreeing-sources = 1, poll 2^0..2^4 s) and `chronyd -x`
// (minpoll 0 maxpoll 4 iburst) are started against it AT THE SAME TIME and
// both estimates of (true time − system clock) are sampled every second
// (daemons.ts says exactly what is read and why) and compared with offset(t);
// during the first 10 s every 200 ms as well, so the convergence times are
// resolved finer than a second (those extra samples count for convergence
// only, not for the error figures).
//
// Reported per scenario and daemon: time from start until the error stays
// within 1 ms and within 100 µs for the rest of the run; mean (bias), RMS,
// p95 and max error after convergence (common window: from the later of the
// two 1 ms convergence times, or the second half of the run if one never
// converged); the final frequency estimate against the truth; steps our
// discipline applied to its virtual clock ("Jumped offset" lines); then the
// ratios ours/chrony. "ntpd-ts raw" is our published system.offset as is,
// without extrapolating it from its update time with system.frequency.
//
// Note: on loopback both daemons also see the path's small residual asymmetry
// (user-space send of the reply vs kernel receive timestamps, ~10-40 µs), so
// neither error goes to zero; it is the same server for both.
//
//   npm run bench:accuracy -- [--quick] [--duration S] [--scenarios constant,drift,jitter]
//                             [--seed N] [--initial-poll N] [--json FILE]
//                             [--sample-ms 1000] [--dense-ms 200] [--dense-for 10]
//                             [--observation-poll-ms 100]
//
// --initial-poll sets our source's initial-poll-interval (default 0, so that
// like chrony's minpoll it starts at the bottom of the 0..4 range; ntpd-rs's
// default, 4, would make our daemon poll every 16 s straight after its
// start-up burst).
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { chronyUnavailable } from "../../test/helpers/chrony.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { startChronyDaemon, startOurs, type ChronyDaemon, type OurDaemon } from "./daemons.js";
import { SCENARIOS, type Scenario } from "./scenarios.js";
import { monoSeconds, startTestServer } from "./server.js";
import {
  convergenceTime,
  errorStats,
  finalFrequency,
  type ErrorStats,
  type Sample,
} from "./stats.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    duration: { type: "string" },
    scenarios: { type: "string" },
    seed: { type: "string", default: "1" },
    "initial-poll": { type: "string", default: "0" },
    "sample-ms": { type: "string", default: "1000" },
    "observation-poll-ms": { type: "string", default: "100" },
    "dense-ms": { type: "string", default: "200" },
    "dense-for": { type: "string", default: "10" },
    json: { type: "string" },
  },
});

const duration = Number(args.duration ?? (args.quick ? 35 : 120));
const sampleMs = Number(args["sample-ms"]);
const seed = Number(args.seed);
const initialPoll = Number(args["initial-poll"]);
const pollMs = Number(args["observation-poll-ms"]);
const denseMs = Number(args["dense-ms"]);
const denseFor = Number(args["dense-for"]);
for (const [name, v] of Object.entries({
  duration,
  sampleMs,
  seed,
  initialPoll,
  pollMs,
  denseMs,
  denseFor,
})) {
  if (!Number.isFinite(v)) throw new Error(`--${name}: not a number`);
}
const selected = args.scenarios
  ? args.scenarios.split(",").map((n) => {
      const s = SCENARIOS.find((x) => x.name === n.trim());
      if (!s) throw new Error(`unknown scenario ${n} (${SCENARIOS.map((x) => x.name).join(", ")})`);
      return s;
    })
  : SCENARIOS;
const noChrony = chronyUnavailable();

const TH_1MS = 1e-3;
const TH_100US = 100e-6;

interface DaemonResult {
  name: string;
  samples: Sample[];
  conv1ms: number | null;
  conv100us: number | null;
  window: number;
  stats: ErrorStats | null;
  finalFrequency: number | null;
  steps: number | null;
  slews: number | null;
}

interface ScenarioResult {
  scenario: Scenario;
  duration: number;
  server: { replies: number; dropped: number; meanExtraDelay: number; socket: string };
  /** Our daemon's log (stdout and stderr), for the JSON file. */
  oursLog: string;
  daemons: DaemonResult[];
}

function sleepUntil(mono: number): Promise<void> {
  const ms = (mono - monoSeconds()) * 1000;
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

async function runScenario(scenario: Scenario): Promise<ScenarioResult> {
  const server = await startTestServer(scenario, seed);
  const oursDir = await makeTempDir("ntpd-ts-accuracy-");
  const chronyDir = await makeTempDir("ntpd-ts-accuracy-chrony-");
  let ours: OurDaemon | null = null;
  let chrony: ChronyDaemon | null = null;
  const oursSamples: Sample[] = [];
  const rawSamples: Sample[] = [];
  const chronySamples: Sample[] = [];
  try {
    const t0 = monoSeconds();
    [ours, chrony] = await Promise.all([
      startOurs(oursDir, server.port, { initialPoll, pollMs }),
      noChrony === undefined ? startChronyDaemon(chronyDir, server.port) : Promise.resolve(null),
    ]);
    const daemon = ours;
    const chronyd = chrony;
    // The sampling grid: every denseMs during the first denseFor seconds (for
    // the convergence times; those samples are left out of the error
    // figures), then every sampleMs.
    const ticks: { at: number; dense: boolean }[] = [];
    for (let i = 1; (i * denseMs) / 1000 < Math.min(denseFor, duration) - 1e-9; i++) {
      ticks.push({ at: (i * denseMs) / 1000, dense: (i * denseMs) % sampleMs !== 0 });
    }
    for (let k = 1; k * (sampleMs / 1000) <= duration; k++) {
      const at = (k * sampleMs) / 1000;
      if (at >= denseFor - 1e-9) ticks.push({ at, dense: false });
    }
    for (const [k, { at, dense }] of ticks.entries()) {
      const tick = t0 + at;
      if (monoSeconds() > tick + 0.05) continue; // fell behind: skip
      await sleepUntil(tick);
      const exited = daemon.process.exitStatus();
      if (exited) {
        throw new Error(
          `ntp-daemon exited (${JSON.stringify(exited)}):\n${daemon.process.output()}`,
        );
      }
      const now = monoSeconds();
      const e = daemon.estimateAt(now);
      const truth = server.truthAtMono(now);
      const t = now - t0;
      const frequency = e?.frequency ?? null;
      oursSamples.push({ t, estimate: e?.estimate ?? null, truth, frequency, dense });
      rawSamples.push({ t, estimate: e?.raw ?? null, truth, frequency, dense });
      if (chronyd) {
        const c = await chronyd.sample();
        if (c) {
          chronySamples.push({
            t: c.at - t0,
            estimate: c.synced ? c.estimate : null,
            truth: server.truthAtMono(c.at),
            frequency: c.synced ? c.frequency : null,
            dense,
          });
        }
      }
      if (k % 20 === 0) process.stderr.write(".");
    }
    process.stderr.write("\n");
    const steps = daemon.steps();
    const slews = daemon.slews();
    const results: DaemonResult[] = [];
    const o1 = convergenceTime(oursSamples, TH_1MS);
    const c1 = convergenceTime(chronySamples, TH_1MS);
    // Common window for the error figures.
    const window =
      o1 !== null && (chronyd === null || c1 !== null) ? Math.max(o1, c1 ?? 0) : duration / 2;
    const make = (
      name: string,
      samples: Sample[],
      counts: { steps: number | null; slews: number | null },
    ): DaemonResult => {
      return {
        name,
        samples,
        conv1ms: convergenceTime(samples, TH_1MS),
        conv100us: convergenceTime(samples, TH_100US),
        window,
        // Chrony's sample of a tick is taken a few ms after ours.
        stats: errorStats(samples, window - 0.25),
        finalFrequency: finalFrequency(samples),
        ...counts,
      };
    };
    results.push(make("ntpd-ts", oursSamples, { steps, slews }));
    if (chronyd) results.push(make("chrony", chronySamples, { steps: null, slews: null }));
    results.push(make("ntpd-ts raw", rawSamples, { steps, slews }));
    const st = server.stats();
    return {
      scenario,
      duration,
      server: { ...st, socket: server.socketKind },
      oursLog: daemon.process.output(),
      daemons: results,
    };
  } finally {
    await Promise.allSettled([ours?.stop(), chrony?.stop()]);
    server.close();
    await oursDir.cleanup();
    await chronyDir.cleanup();
  }
}

// ---- output ----

const us = (s: number | null | undefined) =>
  s == null ? "-" : `${(s * 1e6).toFixed(s !== 0 && Math.abs(s) < 1e-5 ? 1 : 0)}`;
const sec = (s: number | null) => (s == null ? "never" : s.toFixed(1));
const ppm = (p: number | null) => (p == null ? "-" : p.toFixed(3));
const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? "-" : (a / b).toFixed(2);

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
    )
    .join("\n");
}

function report(r: ScenarioResult): string {
  const s = r.scenario;
  const lines: string[] = [];
  lines.push(
    `\n== ${s.name}: ${s.description}` +
      `\n   truth = ${s.offset0 * 1e3} ms + ${s.ppm} ppm·t; ${r.duration} s; server replies ${r.server.replies}` +
      (s.jitterMean > 0 ? `, mean extra delay ${us(r.server.meanExtraDelay)} µs` : "") +
      `; error window from t = ${r.daemons[0]!.window.toFixed(1)} s`,
  );
  const rows = [
    [
      "daemon",
      "conv≤1ms s",
      "conv≤100µs s",
      "mean µs",
      "RMS µs",
      "p95 µs",
      "max µs",
      "n",
      `freq ppm (truth ${s.ppm})`,
      "steps",
      "slews",
    ],
  ];
  for (const d of r.daemons) {
    rows.push([
      d.name,
      sec(d.conv1ms),
      sec(d.conv100us),
      us(d.stats?.mean),
      us(d.stats?.rms),
      us(d.stats?.p95),
      us(d.stats?.max),
      String(d.stats?.count ?? 0),
      ppm(d.finalFrequency),
      d.steps == null ? "-" : String(d.steps),
      d.slews == null ? "-" : String(d.slews),
    ]);
  }
  lines.push(table(rows));
  const ours = r.daemons.find((d) => d.name === "ntpd-ts")!;
  const chrony = r.daemons.find((d) => d.name === "chrony");
  if (chrony) {
    lines.push(
      `ours/chrony: conv≤1ms ${ratio(ours.conv1ms, chrony.conv1ms)}, conv≤100µs ${ratio(ours.conv100us, chrony.conv100us)}, ` +
        `RMS ${ratio(ours.stats?.rms, chrony.stats?.rms)}, p95 ${ratio(ours.stats?.p95, chrony.stats?.p95)}, ` +
        `max ${ratio(ours.stats?.max, chrony.stats?.max)}` +
        (s.ppm !== 0
          ? `, |freq error| ${ratio(
              ours.finalFrequency == null ? null : Math.abs(ours.finalFrequency - s.ppm),
              chrony.finalFrequency == null ? null : Math.abs(chrony.finalFrequency - s.ppm),
            )}`
          : ""),
    );
  }
  return lines.join("\n");
}

function summary(results: ScenarioResult[]): string {
  const rows = [
    [
      "scenario",
      "RMS ours/chrony µs",
      "p95 ours/chrony µs",
      "conv≤100µs ours/chrony s",
      "as accurate (RMS)",
      "as fast (100µs)",
    ],
  ];
  for (const r of results) {
    const o = r.daemons.find((d) => d.name === "ntpd-ts")!;
    const c = r.daemons.find((d) => d.name === "chrony");
    const acc =
      c?.stats && o.stats
        ? o.stats.rms <= c.stats.rms
          ? "yes"
          : `no (${ratio(o.stats.rms, c.stats.rms)}x)`
        : "-";
    const fast =
      c === undefined
        ? "-"
        : o.conv100us === null
          ? "no (never)"
          : c.conv100us === null || o.conv100us <= c.conv100us
            ? "yes"
            : `no (${ratio(o.conv100us, c.conv100us)}x)`;
    rows.push([
      r.scenario.name,
      `${us(o.stats?.rms)} / ${us(c?.stats?.rms)}`,
      `${us(o.stats?.p95)} / ${us(c?.stats?.p95)}`,
      `${sec(o.conv100us)} / ${c ? sec(c.conv100us) : "-"}`,
      acc,
      fast,
    ]);
  }
  return (
    "\n== summary (goal: ntpd-ts at least as accurate as chrony and converging at least as fast)\n" +
    table(rows)
  );
}

const results: ScenarioResult[] = [];
console.log(
  `accuracy bench: ${selected.map((s) => s.name).join(", ")}; ${duration} s each; sample every ${sampleMs} ms ` +
    `(every ${denseMs} ms for the first ${denseFor} s, for the convergence times); ` +
    `our initial-poll-interval ${initialPoll}; seed ${seed}` +
    (noChrony ? `\nchrony skipped: ${noChrony}` : ""),
);
for (const s of selected) {
  process.stderr.write(`running ${s.name} (${duration} s) `);
  const r = await runScenario(s);
  results.push(r);
  console.log(report(r));
}
console.log(summary(results));
if (args.json) {
  await writeFile(args.json, JSON.stringify({ duration, seed, initialPoll, results }, null, 2));
  console.log(`\nsamples written to ${args.json}`);
}
