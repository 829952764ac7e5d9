// Where our server spends its time under NTS load: one extra run of our
// daemon under `node --cpu-prof`, first with NTS requests (loadgen.c, template
// mode) and then with NTS-KE exchanges (ke-client.ts), each for a few
// seconds; the daemon's profile is then cut into those two intervals and
// summarized as the top functions (and files) by self time.
//
// V8 stamps profile samples with the monotonic clock in microseconds, the
// clock of process.hrtime here, so the intervals are taken in this process.
// The profiler sees JavaScript (and the native calls JavaScript makes, under
// the calling function), GC, and "(program)"; native work that no JavaScript
// called — most of a TLS handshake, run by node:tls from libuv callbacks —
// it counts as idle. Hence each interval also reports the server's CPU time
// from /proc next to the profile's busy time: the difference is that native
// work (plus the kernel's share of syscalls).
import { readdir, readFile } from "node:fs/promises";
import type { TempDir } from "../test/helpers/tmp.js";
import { runKeLoad } from "./ke-load.js";
import { runLoadgen } from "./loadgen.js";
import { buildNtsTemplates, type BenchPki } from "./nts.js";
import { processCpuSeconds } from "./procstat.js";
import { repoRoot, type BenchTarget } from "./targets.js";

export interface ProfileOptions {
  target: BenchTarget;
  daemonEntry: string;
  dir: TempDir;
  pki: BenchPki;
  serverCpus: string;
  loadCpus: string;
  loadgenBin: string;
  /** Seconds of each load. */
  seconds: number;
  window: number;
  batch: number;
  aead: number;
  keConcurrency: number;
  keloadBin?: string;
  /** Sampling interval, microseconds. */
  intervalUs?: number;
}

export interface ProfileEntry {
  name: string;
  /** Percent of the interval's non-idle samples. */
  selfPct: number;
}

export interface ProfileSection {
  load: string;
  /** Non-idle samples in the interval. */
  samples: number;
  /** Percent of the interval's sampled time marked idle by V8. */
  idlePct: number;
  /** Time of the busy samples (JS, GC, "(program)"), seconds. */
  busyS: number;
  /** The server's CPU time over the interval (/proc), seconds. */
  cpuS: number;
  functions: ProfileEntry[];
  files: ProfileEntry[];
}

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const nowUs = () => Number(process.hrtime.bigint() / 1000n);

export async function profileOurs(o: ProfileOptions): Promise<ProfileSection[]> {
  const profDir = o.dir.file("cpu-prof");
  const server = await o.target.start({
    dir: o.dir,
    serverCpus: o.serverCpus,
    daemonEntry: o.daemonEntry,
    nts: o.pki,
    nodeOptions: [
      "--cpu-prof",
      "--cpu-prof-dir",
      profDir,
      "--cpu-prof-interval",
      String(o.intervalUs ?? 250),
    ],
  });
  const intervals: { load: string; from: number; to: number; cpuS: number }[] = [];
  const warmupMs = 300;
  const durationMs = Math.round(o.seconds * 1000);
  try {
    const t = await buildNtsTemplates({
      host: server.host,
      kePort: server.kePort!,
      ntpPort: server.port,
      caPath: o.pki.caPath,
      aead: o.aead,
      count: o.window,
      file: o.dir.file("profile-requests.bin"),
    });
    // The measured part of each load starts after the load generator's warm-up.
    let from = nowUs();
    let cpuFrom = NaN;
    const atWarmupEnd = () => {
      from = nowUs();
      cpuFrom = processCpuSeconds(server.pid);
    };
    let warm = setTimeout(atWarmupEnd, warmupMs);
    await runLoadgen(o.loadgenBin, {
      host: server.host,
      port: server.port,
      durationMs,
      warmupMs,
      window: o.window,
      batch: o.batch,
      cpus: o.loadCpus,
      requestsFile: t.file,
      requestLength: t.requestLength,
      nts: true,
    });
    clearTimeout(warm);
    intervals.push({
      load: "NTS requests",
      from,
      to: nowUs(),
      cpuS: processCpuSeconds(server.pid) - cpuFrom,
    });
    // keload.c starts at once; ke-client.ts (the fallback) needs about half a
    // second more, which only adds idle time to the interval.
    warm = setTimeout(atWarmupEnd, warmupMs);
    await runKeLoad({
      host: server.host,
      port: server.kePort!,
      caPath: o.pki.caPath,
      durationMs,
      warmupMs,
      concurrency: o.keConcurrency,
      aead: o.aead,
      cpus: o.loadCpus,
      keloadBin: o.keloadBin,
    });
    clearTimeout(warm);
    intervals.push({
      load: "NTS-KE exchanges",
      from,
      to: nowUs(),
      cpuS: processCpuSeconds(server.pid) - cpuFrom,
    });
  } finally {
    await server.stop(); // SIGTERM: the daemon exits normally and node writes the profile
  }
  const files = (await readdir(profDir)).filter((f) => f.endsWith(".cpuprofile"));
  if (files.length === 0) throw new Error(`no .cpuprofile written in ${profDir}`);
  // One profile per thread (tsx's module hooks run on a thread of their own):
  // the main thread's is the one with the most busy samples.
  let profile: CpuProfile | undefined;
  let best = -1;
  for (const f of files) {
    const p = JSON.parse(await readFile(`${profDir}/${f}`, "utf8")) as CpuProfile;
    const idle = new Set(
      p.nodes.filter((n) => n.callFrame.functionName === "(idle)").map((n) => n.id),
    );
    const busy = p.samples.filter((id) => !idle.has(id)).length;
    if (busy > best) [profile, best] = [p, busy];
  }
  return intervals.map((iv) => ({
    ...summarize(profile!, iv.load, iv.from, iv.to),
    cpuS: iv.cpuS,
  }));
}

function shortUrl(url: string): string {
  const root = `file://${repoRoot}/`;
  if (url.startsWith(root)) return url.slice(root.length);
  if (url.startsWith("file://")) return url.slice("file://".length);
  return url;
}

/** Self time of each function and file over [from, to) (monotonic µs). */
export function summarize(
  p: CpuProfile,
  load: string,
  from: number,
  to: number,
  top = 12,
): Omit<ProfileSection, "cpuS"> {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const fnTime = new Map<string, number>();
  const fileTime = new Map<string, number>();
  let t = p.startTime;
  let busy = 0;
  let idle = 0;
  let samples = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    if (t < from || t >= to) continue;
    // A sample stands for the time until the next one.
    const dt = p.timeDeltas[i + 1] ?? 0;
    const frame = byId.get(p.samples[i]!)?.callFrame;
    if (!frame) continue;
    if (frame.functionName === "(idle)") {
      idle += dt;
      continue;
    }
    busy += dt;
    samples++;
    const url = shortUrl(frame.url);
    // Line numbers of TypeScript run through tsx are those of the emitted code: left out.
    const where = !url ? "" : url.endsWith(".ts") ? ` ${url}` : ` ${url}:${frame.lineNumber + 1}`;
    const fn = (frame.functionName || "(anonymous)") + where;
    fnTime.set(fn, (fnTime.get(fn) ?? 0) + dt);
    const file = url || frame.functionName;
    fileTime.set(file, (fileTime.get(file) ?? 0) + dt);
  }
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfPct: busy > 0 ? (us / busy) * 100 : 0 }));
  return {
    load,
    samples,
    idlePct: busy + idle > 0 ? (idle / (busy + idle)) * 100 : 0,
    busyS: busy / 1e6,
    functions: rank(fnTime),
    files: rank(fileTime).slice(0, 8),
  };
}
