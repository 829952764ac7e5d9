// `npm run bench:accuracy`: how well our clock discipline tracks a clock whose
// offset from the system clock is KNOWN, side by side with chrony, in every
// condition of issue #11.
//
// Per scenario (scenarios.ts: clean, jitter, spikes, fast, slow, fast-spikes,
// step, falseticker, loss, asymmetry, poll, restart) reference servers on
// 127.0.0.11, .12, ... (server.ts: our real server core, local stratum 1)
// serve system time + offset(t) through an emulated path (delays per
// direction, jitter, spikes, loss). Our daemon (--no-clock-control) and
// `chronyd -x` get the same sources, poll range and minimum of agreeing
// sources, are started AT THE SAME TIME, and both estimates of (true time −
// system clock) are sampled every second (daemons.ts says exactly what is
// read and why) and compared with offset(t) (plus the path's fixed asymmetry,
// which no client can tell from an offset: scenarios.ts, pathBias); during the first 10 s, and the
// 10 s after a step or restart, every 200 ms as well, so the convergence
// times are resolved finer than a second (those extra samples count for
// convergence only, not for the error figures).
//
// Reported per scenario and daemon: time from start until the error stays
// within 1 ms and within 100 µs for the rest of the run (for a step or a
// restart: until that event, and again from it on, "back≤"); median, p95 and
// max |error| and the mean (bias) over a common window (from the later of the
// two 1 ms convergence times, or the second half of the run if one never
// converged; it includes a step's or restart's transient); the final
// frequency estimate against the truth; how often a falseticker was in use;
// steps our discipline applied to its virtual clock; then ratios ours/chrony.
// "ntpd-ts raw" is our published system.offset as is, without extrapolating it
// from its update time with system.frequency.
//
// And the reference's own quality (it must not be the noise): how late its
// replies reached the wire after their scheduled departure, from a capture on
// lo (capture.ts), and in process.
//
//   npm run bench:accuracy -- [--quick] [--duration S] [--scenarios clean,jitter,...]
//                             [--seed N] [--runs N] [--initial-poll N] [--json FILE] [--no-capture]
//                             [--sample-ms 1000] [--dense-ms 200] [--dense-for 10]
//                             [--observation-poll-ms 100] [--from-source]
//
// Our daemon runs as installed: the compiled program (bin/ntp-daemon.js, dist/),
// which the bench compiles first (tsc, ~25 s) so that it is the working tree's
// code. Run from the TypeScript sources through tsx (--from-source) it spends
// seconds compiling its ~90 modules at every start — up to 5 s on a loaded
// machine, which chronyd, a C program, does not — and every convergence time,
// after a restart above all, measured that.
//
// --runs N repeats the whole set N times with seeds seed, seed + 1, ... (the
// references' paths and clocks drawn anew) and ends with the median over the
// runs of each figure per scenario (runs.ts): a single run's ratios near 1 are
// within the run-to-run noise of both daemons.
//
// --initial-poll sets our sources' initial-poll-interval (default: the
// scenario's minimum poll, where chrony starts too; ntpd-rs's default, 4,
// would make our daemon poll every 16 s straight after its start-up burst).
import { spawnSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { chronyUnavailable } from "../../test/helpers/chrony.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { captureUnavailable, startCapture, type ReferenceLatency } from "./capture.js";
import {
  startChronyDaemon,
  startOurs,
  type ChronyDaemon,
  type ClientSetup,
  type OurDaemon,
  type SelectionCount,
} from "./daemons.js";
import { report, summary, type DaemonResult, type ScenarioResult } from "./report.js";
import { acrossRuns } from "./runs.js";
import {
  eventAt,
  pathBias,
  referenceClock,
  SCENARIOS,
  truthAt,
  type Scenario,
} from "./scenarios.js";
import { startReferences, type References } from "./references.js";
import { monoSeconds, TimeBase } from "./server.js";
import { convergenceTime, errorStats, finalFrequency, type Sample } from "./stats.js";

const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    duration: { type: "string" },
    scenarios: { type: "string" },
    seed: { type: "string", default: "1" },
    runs: { type: "string", default: "1" },
    "initial-poll": { type: "string" },
    "sample-ms": { type: "string", default: "1000" },
    "observation-poll-ms": { type: "string", default: "100" },
    "dense-ms": { type: "string", default: "200" },
    "dense-for": { type: "string", default: "10" },
    "no-capture": { type: "boolean", default: false },
    json: { type: "string" },
    "from-source": { type: "boolean", default: false },
  },
});

const duration = Number(args.duration ?? (args.quick ? 40 : 110));
const sampleMs = Number(args["sample-ms"]);
const seed = Number(args.seed);
const runs = Number(args.runs);
const initialPoll = args["initial-poll"] === undefined ? null : Number(args["initial-poll"]);
const pollMs = Number(args["observation-poll-ms"]);
const denseMs = Number(args["dense-ms"]);
const denseFor = Number(args["dense-for"]);
for (const [name, v] of Object.entries({
  duration,
  sampleMs,
  seed,
  runs,
  initialPoll: initialPoll ?? 0,
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
const fromSource = args["from-source"];
if (!fromSource) buildDaemon();
const noChrony = chronyUnavailable();
const noCapture = args["no-capture"] ? "--no-capture" : captureUnavailable();

/** Compiles src/ into dist/ (what bin/ntp-daemon.js runs); exits on a failed build. */
function buildDaemon(): void {
  const root = new URL("../..", import.meta.url).pathname;
  console.log("compiling the daemon (tsc -p tsconfig.build.json; --from-source skips this) ...");
  const tsc = spawnSync(`${root}node_modules/.bin/tsc`, ["-p", "tsconfig.build.json"], {
    cwd: root,
    stdio: "inherit",
  });
  if (tsc.status !== 0) {
    console.error("accuracy bench: the daemon did not compile");
    process.exit(1);
  }
}

const TH_1MS = 1e-3;
const TH_100US = 100e-6;

function sleepUntil(mono: number): Promise<void> {
  const ms = (mono - monoSeconds()) * 1000;
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/**
 * The sampling grid (seconds from start): every denseMs during the first
 * denseFor seconds and the denseFor seconds after the event (for the
 * convergence times; those samples count for nothing else), every sampleMs
 * otherwise.
 */
function ticks(event: number | null): { at: number; dense: boolean }[] {
  const dense = (at: number) =>
    at < denseFor || (event !== null && at >= event && at < event + denseFor);
  const out: { at: number; dense: boolean }[] = [];
  for (let i = 1; (i * denseMs) / 1000 <= duration + 1e-9; i++) {
    const at = (i * denseMs) / 1000;
    const regular = (i * denseMs) % sampleMs === 0;
    if (regular || dense(at)) out.push({ at, dense: !regular });
  }
  return out;
}

async function runScenario(s: Scenario, seed: number): Promise<ScenarioResult> {
  const base = TimeBase.now();
  const clock = referenceClock(s, duration);
  // What an ideal client would estimate: the truth, and a fixed path asymmetry
  // that no client can tell from an offset (pathBias).
  const truthAtMono = (mono: number) => truthAt(clock, mono - base.mono0) + pathBias(s.path);
  const oursDir = await makeTempDir("ntpd-ts-accuracy-");
  const chronyDir = await makeTempDir("ntpd-ts-accuracy-chrony-");
  let references: References;
  try {
    references = await startReferences(s, duration, base, seed, oursDir);
  } catch (e) {
    await oursDir.cleanup();
    await chronyDir.cleanup();
    throw e;
  }
  const { servers, falseAddresses } = references;
  const capture =
    noCapture === undefined
      ? await startCapture(
          servers.map((r) => r.port),
          oursDir.file("reference.pcapng"),
        )
      : null;
  let ours: OurDaemon | null = null;
  let chrony: ChronyDaemon | null = null;
  const oursSamples: Sample[] = [];
  const rawSamples: Sample[] = [];
  const chronySamples: Sample[] = [];
  const setup: ClientSetup = {
    sources: servers.map((r) => ({ address: r.address, port: r.port })),
    minPoll: s.poll.min,
    maxPoll: s.poll.max,
    minAgreeing: s.minAgreeing,
  };
  let latency: ReferenceLatency | null = null;
  try {
    const t0 = monoSeconds();
    // Seconds since t0 (both daemons' start) of the step or restart. The
    // references' clock started earlier, at base.mono0 (before the servers and
    // the capture): their step is that much earlier in t0's terms.
    const placed = eventAt(s, duration);
    const event = placed !== null && s.step !== undefined ? placed - (t0 - base.mono0) : placed;
    [ours, chrony] = await Promise.all([
      startOurs(oursDir, setup, {
        fromSource,
        initialPoll: initialPoll ?? s.poll.min,
        pollMs,
        watch: falseAddresses,
        t0,
      }),
      noChrony === undefined
        ? startChronyDaemon(chronyDir, setup, { watch: falseAddresses, t0 })
        : Promise.resolve(null),
    ]);
    const daemon = ours;
    const chronyd = chrony;
    let restarted = s.restartAt === undefined;
    for (const [k, { at, dense }] of ticks(event).entries()) {
      const tick = t0 + at;
      if (monoSeconds() > tick + 0.05) continue; // fell behind: skip
      await sleepUntil(tick);
      if (!restarted && event !== null && at >= event) {
        restarted = true;
        process.stderr.write("(restart)");
        // Both stopped at the event's tick; sampled again at once.
        await Promise.all([daemon.restart(), chronyd?.restart()]);
      }
      const exited = daemon.process().exitStatus();
      if (exited) {
        throw new Error(`ntp-daemon exited (${JSON.stringify(exited)}):\n${daemon.output()}`);
      }
      const now = monoSeconds();
      const e = daemon.estimateAt(now);
      const truth = truthAtMono(now);
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
            truth: truthAtMono(c.at),
            frequency: c.synced ? c.frequency : null,
            dense,
          });
        }
      }
      if (k % 20 === 0) process.stderr.write(".");
    }
    process.stderr.write("\n");
    // With a step or a restart, convergence from the start is judged on the
    // samples before it, and again from the event on (back≤...).
    const before = (samples: Sample[]) =>
      event === null ? samples : samples.filter((x) => x.t < event);
    const o1 = convergenceTime(before(oursSamples), TH_1MS);
    const c1 = convergenceTime(before(chronySamples), TH_1MS);
    // Common window for the error figures.
    const window =
      o1 !== null && (chronyd === null || c1 !== null) ? Math.max(o1, c1 ?? 0) : duration / 2;
    const after = (th: number, samples: Sample[]) => {
      if (event === null) return null;
      const back = convergenceTime(samples, th, event);
      return back === null ? null : back - event;
    };
    const make = (
      name: string,
      samples: Sample[],
      counts: { steps: number | null; selection: SelectionCount | null },
    ): DaemonResult => ({
      name,
      samples,
      conv1ms: convergenceTime(before(samples), TH_1MS),
      conv100us: convergenceTime(before(samples), TH_100US),
      back1ms: after(TH_1MS, samples),
      back100us: after(TH_100US, samples),
      window,
      // Chrony's sample of a tick is taken a few ms after ours.
      stats: errorStats(samples, window - 0.25),
      finalFrequency: finalFrequency(samples),
      ...counts,
    });
    const selection = falseAddresses.length > 0;
    const results: DaemonResult[] = [
      make("ntpd-ts", oursSamples, {
        steps: daemon.steps(),
        selection: selection ? daemon.selection() : null,
      }),
    ];
    if (chronyd) {
      results.push(
        make("chrony", chronySamples, {
          steps: null,
          selection: selection ? chronyd.selection() : null,
        }),
      );
    }
    results.push(make("ntpd-ts raw", rawSamples, { steps: daemon.steps(), selection: null }));
    const oursLog = daemon.output();
    await Promise.allSettled([ours.stop(), chrony?.stop()]);
    ours = null;
    chrony = null;
    const served = await references.finish();
    if (capture) latency = await capture.finish(new Map(served.departures), base);
    return {
      scenario: s,
      seed,
      duration,
      event: eventAt(s, duration),
      clock,
      references: served.servers,
      latency,
      normalPriority: references.normalPriority,
      oursLog,
      daemons: results,
    };
  } finally {
    await Promise.allSettled([ours?.stop(), chrony?.stop()]);
    if (latency === null) await capture?.abort();
    await references.stop();
    await oursDir.cleanup();
    await chronyDir.cleanup();
  }
}

if (!Number.isInteger(runs) || runs < 1) throw new Error("--runs: a whole number of at least 1");
console.log(
  `accuracy bench: ${selected.map((s) => s.name).join(", ")}; ${duration} s each; sample every ${sampleMs} ms ` +
    `(every ${denseMs} ms for the first ${denseFor} s and after a step or restart, for the convergence times); ` +
    `our initial-poll-interval ${initialPoll ?? "= the scenario's minimum poll"}; ` +
    (runs === 1 ? `seed ${seed}` : `${runs} runs, seeds ${seed}..${seed + runs - 1}`) +
    (noChrony ? `\nchrony skipped: ${noChrony}` : "") +
    (noCapture ? `\nreference latency capture skipped: ${noCapture}` : ""),
);
const byRun: ScenarioResult[][] = [];
for (let k = 0; k < runs; k++) {
  const runSeed = seed + k;
  const results: ScenarioResult[] = [];
  if (runs > 1) console.log(`\n==== run ${k + 1} of ${runs}, seed ${runSeed}`);
  for (const s of selected) {
    process.stderr.write(
      `running ${s.name} (${duration} s${runs > 1 ? `, seed ${runSeed}` : ""}) `,
    );
    const r = await runScenario(s, runSeed);
    results.push(r);
    console.log(report(r));
  }
  console.log(summary(results));
  byRun.push(results);
}
if (runs > 1) console.log(acrossRuns(byRun));
if (args.json) {
  await writeFile(
    args.json,
    JSON.stringify({ duration, seed, runs, initialPoll, results: byRun.flat() }),
  );
  console.log(`\nsamples written to ${args.json}`);
}
