// The two daemons under test, each a client of the same test server, and how
// their current estimate of (true time − system clock) is read.
//
// ntpd-ts: `ntp-daemon -c CONFIG --no-clock-control`. The observation socket's
// `system.offset` is the estimate at the discipline's LAST UPDATE (it stays
// put until the next one) and `system.frequency` its rate of change (s/s, as
// ntpd-rs's schema says; kept here in ppm). The
// socket is polled often (default every 100 ms) and the instant each new
// (offset, frequency) pair first shows is taken as its update time, so the
// estimate at any instant t is
//     offset + frequency·1e-6·(t − update time)
// — the daemon's own prediction, and what chrony reports (below). The raw,
// not extrapolated, value is kept too.
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
import { writeFile } from "node:fs/promises";
import { readObservation } from "../../src/cli/observation-client.js";
import { startChronyClient, type Chrony } from "../../test/helpers/chrony.js";
import { spawnProcess, type Spawned } from "../../test/helpers/process.js";
import type { TempDir } from "../../test/helpers/tmp.js";
import { monoSeconds } from "./server.js";

const root = new URL("../..", import.meta.url).pathname;
export const DAEMON_ENTRY = `${root}src/cli/ntp-daemon.ts`;

export interface OurEstimate {
  /** Extrapolated to the instant asked for (s). */
  estimate: number;
  /** As published (s). */
  raw: number;
  frequency: number;
}

export interface OurDaemon {
  readonly process: Spawned;
  /** The estimate at CLOCK_MONOTONIC second `mono`, or null before the first update. */
  estimateAt(mono: number): OurEstimate | null;
  /** "Jumped offset" lines logged so far. */
  steps(): number;
  /** "Slewing by" lines logged so far. */
  slews(): number;
  /** Observation reads that failed (after the socket first answered). */
  readErrors(): number;
  stop(): Promise<void>;
}

export function ourConfig(
  observationPath: string,
  serverPort: number,
  initialPoll: number,
): string {
  return `[observability]
log-level = "info"
observation-path = "${observationPath}"

[[source]]
mode = "server"
address = "127.0.0.1:${serverPort}"
poll-interval-limits = { min = 0, max = 4 }
initial-poll-interval = ${initialPoll}

[synchronization]
minimum-agreeing-sources = 1
`;
}

export async function startOurs(
  dir: TempDir,
  serverPort: number,
  opts: { initialPoll: number; pollMs: number },
): Promise<OurDaemon> {
  const observationPath = dir.file("observe");
  const configPath = dir.file("ntp.toml");
  await writeFile(configPath, ourConfig(observationPath, serverPort, opts.initialPoll));
  const proc = await spawnProcess(
    process.execPath,
    ["--import", "tsx", DAEMON_ENTRY, "-c", configPath, "--no-clock-control"],
    { cwd: root, name: "ntp-daemon" },
  );
  let current: { offset: number; frequency: number; since: number } | null = null;
  let answered = false;
  let errors = 0;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  const poll = async () => {
    const asked = monoSeconds();
    try {
      const o = await readObservation(observationPath, { timeoutMs: 1000 });
      answered = true;
      const { offset, frequency } = o.system;
      if (offset !== undefined) {
        const f = (frequency ?? 0) * 1e6; // s/s → ppm
        if (current === null || current.offset !== offset || current.frequency !== f) {
          // First seen in this read: it happened after the previous read.
          current = { offset, frequency: f, since: (asked + monoSeconds()) / 2 };
        }
      }
    } catch {
      if (answered) errors++;
    }
    if (!stopped) timer = setTimeout(() => void poll(), opts.pollMs);
  };
  void poll();
  const count = (re: RegExp) => (proc.output().match(re) ?? []).length;
  return {
    process: proc,
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

export interface ChronyDaemon {
  readonly chrony: Chrony;
  /** Reads tracking now; `at` is the CLOCK_MONOTONIC midpoint of the request. */
  sample(): Promise<{ at: number; estimate: number; frequency: number; synced: boolean } | null>;
  stop(): Promise<void>;
}

export async function startChronyDaemon(dir: TempDir, serverPort: number): Promise<ChronyDaemon> {
  const chrony = await startChronyClient({
    serverPort,
    sourceOptions: "iburst minpoll 0 maxpoll 4",
    dir,
    name: "chronyd -x",
  });
  return {
    chrony,
    async sample() {
      const before = monoSeconds();
      let t: Record<string, string>;
      try {
        t = await chrony.tracking();
      } catch {
        return null;
      }
      const at = (before + monoSeconds()) / 2;
      const parsed = parseChronyTracking(t);
      if (parsed === null) return null;
      // Before its first update chronyd reports reference id 0 and leap status
      // "Not synchronised", with a zero correction: no estimate yet.
      const synced = (t["Leap status"] ?? "") !== "Not synchronised";
      return { at, ...parsed, synced };
    },
    stop: () => chrony.stop(),
  };
}
