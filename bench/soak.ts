// The memory soak (`npm run bench -- --soak-minutes 10`): our daemon, freshly
// started, under full load for N minutes — the selected workloads in turns of
// `turnS` seconds — while its VmRSS is sampled every few seconds.
//
// Flat or not: RSS under load is a saw-tooth (garbage piles up in the old
// generation until a full collection, minutes apart under this load), so the
// medians of the first and the last minute are reported but depend on where
// in a tooth each falls. The verdict compares the peaks instead: flat if the
// largest sample of the second half is within 5% (or 2 MiB) of the largest of
// the first half. A leak raises every tooth; a saw-tooth does not.
import type { TempDir } from "../test/helpers/tmp.js";
import { readMemory, RssSampler } from "./memory.js";
import type { BenchTarget, RunningServer, WorkloadName } from "./targets.js";
import { workloads, type MeasureParams, type Prepared } from "./workloads.js";
import { quantile } from "./wire.js";
import type { NtsCredentials } from "./targets.js";

export interface SoakOptions {
  target: BenchTarget;
  daemonEntry: string;
  dir: TempDir;
  nts?: NtsCredentials;
  serverCpus: string;
  params: MeasureParams;
  workloads: WorkloadName[];
  minutes: number;
  /** Seconds between RSS samples. */
  sampleS: number;
  /** Seconds of each workload turn. */
  turnS: number;
  log(line: string): void;
}

export interface SoakResult {
  target: string;
  minutes: number;
  sampleS: number;
  startRssMiB: number;
  firstMinuteMedianMiB: number;
  lastMinuteMedianMiB: number;
  firstHalfMaxMiB: number;
  secondHalfMaxMiB: number;
  maxRssMiB: number;
  /** VmHWM at the end: the peak, start-up included. */
  hwmMiB: number;
  flat: boolean;
  /** Operations completed per workload over the soak. */
  ops: Record<string, number>;
  failures: string[];
  samples: { atS: number; rssMiB: number }[];
}

export async function soak(o: SoakOptions): Promise<SoakResult> {
  const server: RunningServer = await o.target.start({
    dir: o.dir,
    serverCpus: o.serverCpus,
    daemonEntry: o.daemonEntry,
    nts: o.nts,
  });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const startRss = readMemory(server.pid)?.rssMiB ?? NaN;
    const prepared = new Map<WorkloadName, Prepared>();
    const usable: WorkloadName[] = [];
    const failures: string[] = [];
    for (const wl of o.workloads) {
      const d = workloads[wl];
      if (d.nts && (server.kePort === undefined || o.params.caPath === undefined)) continue;
      try {
        prepared.set(
          wl,
          d.prepare ? await d.prepare(server, { ...o.params, file: (n) => o.dir.file(n) }) : {},
        );
        usable.push(wl);
      } catch (e) {
        failures.push(`${wl} set-up: ${(e as Error).message}`);
      }
    }
    if (usable.length === 0) throw new Error("no workload to soak with");
    const sampler = new RssSampler(server.pid, o.sampleS * 1000);
    const ops: Record<string, number> = {};
    const endAt = Date.now() + o.minutes * 60000;
    let lastReport = Date.now();
    try {
      for (let turn = 0; Date.now() < endAt; turn++) {
        const wl = usable[turn % usable.length]!;
        const ms = Math.max(1000, Math.min(o.turnS * 1000, endAt - Date.now()));
        try {
          const m = await workloads[wl].measure(
            server,
            { ...o.params, durationMs: ms, warmupMs: 0 },
            prepared.get(wl) ?? {},
          );
          ops[wl] = (ops[wl] ?? 0) + m.ok;
        } catch (e) {
          if (failures.length < 10) failures.push(`${wl}: ${(e as Error).message}`);
        }
        if (Date.now() - lastReport >= 60000) {
          lastReport = Date.now();
          const now = readMemory(server.pid);
          o.log(
            `soak: ${((Date.now() - (endAt - o.minutes * 60000)) / 60000).toFixed(1)} min, ` +
              `RSS ${now?.rssMiB.toFixed(1) ?? "-"} MiB`,
          );
        }
      }
    } finally {
      sampler.stop();
    }
    const samples = sampler.samples.map((s) => ({ atS: s.atMs / 1000, rssMiB: s.rssMiB }));
    const total = samples.at(-1)?.atS ?? 0;
    const window = Math.min(60, total / 3);
    const first = samples.filter((s) => s.atS <= window).map((s) => s.rssMiB);
    const last = samples.filter((s) => s.atS >= total - window).map((s) => s.rssMiB);
    const firstMedian = quantile(first, 0.5);
    const lastMedian = quantile(last, 0.5);
    const maxOf = (xs: { rssMiB: number }[]) => Math.max(...xs.map((x) => x.rssMiB));
    const firstHalfMax = maxOf(samples.filter((x) => x.atS < total / 2));
    const secondHalfMax = maxOf(samples.filter((x) => x.atS >= total / 2));
    return {
      target: o.target.name,
      minutes: o.minutes,
      sampleS: o.sampleS,
      startRssMiB: startRss,
      firstMinuteMedianMiB: firstMedian,
      lastMinuteMedianMiB: lastMedian,
      firstHalfMaxMiB: firstHalfMax,
      secondHalfMaxMiB: secondHalfMax,
      maxRssMiB: maxOf(samples),
      hwmMiB: readMemory(server.pid)?.hwmMiB ?? NaN,
      flat: secondHalfMax - firstHalfMax <= Math.max(2, 0.05 * firstHalfMax),
      ops,
      failures,
      samples,
    };
  } finally {
    await server.stop();
  }
}
