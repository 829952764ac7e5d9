// The two daemons under test, each a client of the same reference servers
// (same poll range, same minimum of agreeing sources), how their current
// estimate of (true time − system clock) is read, which sources they use, and
// how they are restarted.
//
// ntpd-ts: `ntp-daemon -c CONFIG --no-clock-control`, the compiled program
// (bin/ntp-daemon.js, as installed; run.ts compiles it first), or with
// `fromSource` the TypeScript sources through tsx. The observation socket's
// `system.offset` is the clock's error at the moment of the query (the
// discipline's estimate carried forward from its last update) and
// `system.frequency` its rate of change (s/s, as ntpd-rs's schema says; kept
// here in ppm). The socket is polled often (default every 100 ms) and the
// instant each new (offset, frequency) pair first shows is taken as its
// time, so the estimate at any instant t is
//     offset + frequency·1e-6·(t − that time)
// — the daemon's own prediction over at most one observation poll, as chrony
// reports it (below). The value as read, not extrapolated, is kept too.
//
// chrony (`chronyd -x`, test/helpers/chrony.ts): `chronyc tracking`'s
// `System time` line. With -x chronyd's null clock driver keeps the whole
// correction it would have applied (offset register plus frequency × time
// since) instead of slewing the system clock, and `System time` is that
// correction evaluated at the moment of the request: "X seconds slow of NTP
// time" means the system clock is X behind chrony's estimate of true time
// (+X in our sign), "fast" means −X. Checked against a server 25 ms ahead
// (reads "0.02498 seconds slow") and one drifting +10 ppm (the value moves
// 10 µs/s between updates while `Ref time` stays put: it is extrapolated).
// `Last offset` is only the residual of the last update (µs once locked),
// not the estimate. `Frequency` "F ppm slow" is +F ppm in our sign (the
// system clock runs slow), "fast" is −F.
//
// Which sources are in use: ours from the observation's `sources[].selected`
// (read with the estimate), chrony from `chronyc sources` ('*' selected, '+'
// combined), read only when a scenario has a falseticker (chronyc is not free).
//
// Restart: both are stopped (SIGTERM) and started again with the same config,
// each keeping the frequency it learnt in its drift file (written at exit), as
// an installed daemon does: ours `[synchronization] drift-file`, chronyd its
// `driftfile`. Neither ever corrected the system clock (--no-clock-control,
// -x), so both start over from the full offset.
import { writeFile } from "node:fs/promises";
import { readObservation } from "../../src/cli/observation-client.js";
import { startChrony, type Chrony } from "../../test/helpers/chrony.js";
import { spawnProcess, type Spawned } from "../../test/helpers/process.js";
import type { TempDir } from "../../test/helpers/tmp.js";
import { monoSeconds } from "./server.js";

const root = new URL("../..", import.meta.url).pathname;
export const DAEMON_ENTRY = `${root}src/cli/ntp-daemon.ts`;
/** The installed program: dist/ (compiled), with its heap tuning. */
export const BUILT_DAEMON_ENTRY = `${root}bin/ntp-daemon.js`;

/** A reference as both daemons are told about it. */
export interface SourceAddress {
  address: string;
  port: number;
}

/** What both daemons are configured with. */
export interface ClientSetup {
  sources: readonly SourceAddress[];
  minPoll: number;
  maxPoll: number;
  minAgreeing: number;
}

export interface OurEstimate {
  /** Extrapolated to the instant asked for (s). */
  estimate: number;
  /** As published (s). */
  raw: number;
  frequency: number;
}

/** How often a watched set of addresses (the falsetickers) was in use. */
export interface SelectionCount {
  /** Reads (ours) or samples (chrony) that listed the sources. */
  reads: number;
  /** Of those, how many had a watched address in use. */
  used: number;
  /** Seconds since the daemon's first start of the first such read, or null. */
  firstAt: number | null;
}

export interface OurDaemon {
  process(): Spawned;
  /** The estimate at CLOCK_MONOTONIC second `mono`, or null before the first update. */
  estimateAt(mono: number): OurEstimate | null;
  /** "Jumped offset" lines logged so far (all runs). */
  steps(): number;
  /** "Slewing by" lines logged so far (all runs). */
  slews(): number;
  /** Observation reads that failed (after the socket first answered). */
  readErrors(): number;
  selection(): SelectionCount;
  /** Both runs' output (stdout and stderr). */
  output(): string;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function ourConfig(
  paths: { observation: string; drift: string },
  setup: ClientSetup,
  initialPoll: number,
): string {
  const sources = setup.sources
    .map(
      (s) => `[[source]]
mode = "server"
address = "${s.address}:${s.port}"
poll-interval-limits = { min = ${setup.minPoll}, max = ${setup.maxPoll} }
initial-poll-interval = ${initialPoll}
`,
    )
    .join("\n");
  return `[observability]
log-level = "info"
observation-path = "${paths.observation}"

${sources}
[synchronization]
minimum-agreeing-sources = ${setup.minAgreeing}
drift-file = "${paths.drift}"
`;
}

export async function startOurs(
  dir: TempDir,
  setup: ClientSetup,
  opts: {
    fromSource: boolean;
    initialPoll: number;
    pollMs: number;
    watch: readonly string[];
    t0: number;
  },
): Promise<OurDaemon> {
  const observationPath = dir.file("observe");
  const configPath = dir.file("ntp.toml");
  await writeFile(
    configPath,
    ourConfig({ observation: observationPath, drift: dir.file("drift") }, setup, opts.initialPoll),
  );
  const spawn = () =>
    spawnProcess(
      process.execPath,
      [
        ...(opts.fromSource ? ["--import", "tsx", DAEMON_ENTRY] : [BUILT_DAEMON_ENTRY]),
        ...["-c", configPath, "--no-clock-control"],
      ],
      { cwd: root, name: "ntp-daemon" },
    );
  let proc = await spawn();
  let earlierOutput = "";
  let current: { offset: number; frequency: number; since: number } | null = null;
  let answered = false;
  let errors = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const selection: SelectionCount = { reads: 0, used: 0, firstAt: null };
  // Bumped by restart(): a read that was in flight then is the old daemon's.
  let generation = 0;
  const poll = async () => {
    const asked = monoSeconds();
    const readFor = generation;
    try {
      const o = await readObservation(observationPath, { timeoutMs: 1000 });
      if (readFor !== generation) throw new Error("read from before the restart");
      answered = true;
      const { offset, frequency } = o.system;
      if (offset !== undefined) {
        const f = (frequency ?? 0) * 1e6; // s/s → ppm
        if (current === null || current.offset !== offset || current.frequency !== f) {
          // First seen in this read: it happened after the previous read.
          current = { offset, frequency: f, since: (asked + monoSeconds()) / 2 };
        }
      }
      if (opts.watch.length > 0 && o.sources.length > 0) {
        selection.reads++;
        const host = (a: string) => a.slice(0, a.lastIndexOf(":"));
        if (o.sources.some((s) => s.selected === true && opts.watch.includes(host(s.address)))) {
          selection.used++;
          selection.firstAt ??= asked - opts.t0;
        }
      }
    } catch {
      if (answered) errors++;
    }
    if (!stopped) timer = setTimeout(() => void poll(), opts.pollMs);
  };
  void poll();
  const output = () => earlierOutput + proc.output();
  const count = (re: RegExp) => (output().match(re) ?? []).length;
  return {
    process: () => proc,
    estimateAt(mono) {
      if (current === null) return null;
      return {
        estimate: current.offset + current.frequency * 1e-6 * (mono - current.since),
        raw: current.offset,
        frequency: current.frequency,
      };
    },
    steps: () => count(/Jumped offset/g),
    slews: () => count(/Slewing by/g),
    readErrors: () => errors,
    selection: () => selection,
    output,
    async restart() {
      await proc.stop(3000);
      earlierOutput += proc.output() + "\n---- restarted ----\n";
      generation++;
      current = null;
      answered = false;
      proc = await spawn();
    },
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      await proc.stop(3000);
    },
  };
}

/** chrony's estimate (s) and frequency (ppm) in our sign, from `chronyc tracking`. */
export function parseChronyTracking(
  t: Record<string, string>,
): { estimate: number; frequency: number } | null {
  const sys = /^([0-9.]+) seconds (slow|fast) of NTP time/.exec(t["System time"] ?? "");
  const freq = /^([0-9.]+) ppm (slow|fast)/.exec(t["Frequency"] ?? "");
  if (sys === null || freq === null) return null;
  return {
    estimate: Number(sys[1]) * (sys[2] === "slow" ? 1 : -1),
    frequency: Number(freq[1]) * (freq[2] === "slow" ? 1 : -1),
  };
}

/** chronyd's config lines for `setup` (startChrony adds the per-instance ones). */
export function chronyConfig(setup: ClientSetup): string[] {
  return [
    "port 0",
    "bindacqaddress 127.0.0.1",
    ...setup.sources.map(
      (s) =>
        `server ${s.address} port ${s.port} iburst minpoll ${setup.minPoll} maxpoll ${setup.maxPoll}`,
    ),
    `minsources ${setup.minAgreeing}`,
  ];
}

export interface ChronyDaemon {
  /** Reads tracking now; `at` is the CLOCK_MONOTONIC midpoint of the request. */
  sample(): Promise<{ at: number; estimate: number; frequency: number; synced: boolean } | null>;
  selection(): SelectionCount;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startChronyDaemon(
  dir: TempDir,
  setup: ClientSetup,
  opts: { watch: readonly string[]; t0: number },
): Promise<ChronyDaemon> {
  const start = () => startChrony({ config: chronyConfig(setup), dir, name: "chronyd -x" });
  let chrony: Chrony | null = await start();
  const selection: SelectionCount = { reads: 0, used: 0, firstAt: null };
  return {
    async sample() {
      if (chrony === null) return null;
      const before = monoSeconds();
      let t: Record<string, string>;
      try {
        t = await chrony.tracking();
      } catch {
        return null;
      }
      const at = (before + monoSeconds()) / 2;
      if (opts.watch.length > 0) {
        try {
          const sources = await chrony.sources();
          selection.reads++;
          if (
            sources.some((s) => (s.state === "*" || s.state === "+") && opts.watch.includes(s.name))
          ) {
            selection.used++;
            selection.firstAt ??= at - opts.t0;
          }
        } catch {
          // counted as not read
        }
      }
      const parsed = parseChronyTracking(t);
      if (parsed === null) return null;
      // Before its first update chronyd reports reference id 0 and leap status
      // "Not synchronised", with a zero correction: no estimate yet.
      const synced = (t["Leap status"] ?? "") !== "Not synchronised";
      return { at, ...parsed, synced };
    },
    selection: () => selection,
    async restart() {
      const old = chrony;
      chrony = null;
      await old?.stop();
      chrony = await start();
    },
    async stop() {
      await chrony?.stop();
    },
  };
}
