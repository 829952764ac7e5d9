// `npm run bench`: server throughput, chrony vs ours, on loopback, for three
// workloads (workloads.ts):
//
//   ntp     plain NTP requests (C load generator, loadgen.c);
//   nts     NTS-protected NTP requests: one NTS-KE with each server from this
//           process, then loadgen.c replays requests built with the returned
//           keys and cookies, counting only replies with mode 4, matching
//           origin, non-zero stratum, our UID and an NTS authenticator (one
//           reply per request is first verified cryptographically, nts.ts);
//   nts-ke  full NTS-KE exchanges (TLS 1.3) from a client process
//           (ke-client.ts) with a few in flight.
//
// Each server is started once (with a throw-away PKI when an NTS workload is
// selected), pinned to CPU 0 (taskset -c 0), and the load generators to CPU
// 1; the runs are interleaved (A B A B ...) so slow phases of this shared
// 2-core VM hit all targets alike. Reported per row: median (min-max)
// operations per second, and server CPU per operation (utime+stime from
// /proc/PID/stat) — the steadier figure, since end-to-end rates here swing by
// 2x between runs, and for NTS-KE the client is often the bottleneck. Then
// the ratios ours/chrony, and (with --profile S > 0) where our server spends
// its time under NTS load, from a short extra run under node --cpu-prof.
// The opt-in target openssl-floor (bench/ke-floor.c, NTS-KE only) shows what
// OpenSSL alone costs per exchange.
//
// Besides throughput, for the same servers in the same run (docs/benchmark.md):
//
//   T3 to wire  for ntp and nts, on an idle server (--idle-rate requests a
//               second) and at half load (half the row's median ops/s from
//               the throughput runs): median and p99 of (the reply's capture
//               time on lo - the transmit timestamp T3 inside it), from
//               dumpcap (wire.ts); once per run, interleaved like the rest;
//   memory      each server's VmRSS after start (before any load), its peak
//               during the throughput runs (VmHWM, reset after start; and the
//               largest of samples every 0.5 s), and VmRSS 2 s after them
//               (memory.ts);
//   soak        with --soak-minutes N: our daemon, started afresh, under full
//               load for N minutes, VmRSS sampled every --soak-sample seconds;
//               flat or not (soak.ts).
//
// One summary table closes the output: every figure for each server side by
// side and the ratio ours/reference.
//
//   npm run bench -- [--duration 3] [--runs 3] [--warmup 0.5] [--window 64]
//                    [--batch 16] [--targets chrony,ntpd-ts[,openssl-floor,gnutls-floor]]
//                    [--workloads ntp,nts,nts-ke] [--ke-concurrency 8]
//                    [--ke-client auto|openssl|node] [--aead 15] [--profile 2]
//                    [--cert-key p256|rsa2048|ed25519] [--ke-prewarm 3]
//                    [--wire-seconds 2] [--idle-rate 20] [--wire-packets 20000]
//                    [--soak-minutes 0] [--soak-sample 2]
//                    [--daemon PATH] [--node PATH] [--json FILE]
//                    [--server-threads N] [--server-cpus 0] [--client-sockets 1]
//
// Several serving threads (--server-threads, ours only) share the load only when it comes
// from several source ports (--client-sockets): the kernel picks a thread's SO_REUSEPORT
// socket by source address and port. On a 2-core machine, --server-cpus 0,1 lets the
// threads use both cores, one of them shared with the load generator (CPU 1).
//
// Our daemon is bin/ntp-daemon.js (the compiled dist/, rebuilt first if older
// than src/), as it ships; --daemon src/cli/ntp-daemon.ts runs the sources
// through tsx instead (more memory: tsx's loader thread).
import { availableParallelism } from "node:os";
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { LEAF_KEY_TYPES, type LeafKeyType } from "../test/helpers/pki.js";
import { which } from "../test/helpers/process.js";
import { makeTempDir, type TempDir } from "../test/helpers/tmp.js";
import { ensureDistBuilt } from "./dist.js";
import { buildKeload } from "./ke-load.js";
import { buildLoadgen } from "./loadgen.js";
import { makeBenchPki, type BenchPki } from "./nts.js";
import { readMemory, resetPeak, RssSampler, type MemorySample } from "./memory.js";
import { profileOurs, type ProfileSection } from "./profile.js";
import { soak, type SoakResult } from "./soak.js";
import {
  SkipTarget,
  defaultDaemonEntry,
  targets,
  workloadNames,
  type BenchTarget,
  type RunningServer,
  type WorkloadName,
} from "./targets.js";
import { measureT3ToWire, quantile, wireUnavailable } from "./wire.js";
import { workloads, type MeasureParams, type Measurement, type Prepared } from "./workloads.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "3" },
    runs: { type: "string", default: "3" },
    warmup: { type: "string", default: "0.5" },
    window: { type: "string", default: "64" },
    batch: { type: "string", default: "16" },
    targets: { type: "string" },
    workloads: { type: "string" },
    "ke-concurrency": { type: "string", default: "8" },
    "ke-client": { type: "string", default: "auto" },
    aead: { type: "string", default: "15" },
    "cert-key": { type: "string", default: "p256" },
    "ke-prewarm": { type: "string", default: "3" },
    profile: { type: "string", default: "2" },
    "wire-seconds": { type: "string", default: "2" },
    "idle-rate": { type: "string", default: "20" },
    "wire-packets": { type: "string", default: "20000" },
    "soak-minutes": { type: "string", default: "0" },
    "soak-sample": { type: "string", default: "2" },
    daemon: { type: "string" },
    node: { type: "string" },
    "server-threads": { type: "string" },
    "server-cpus": { type: "string", default: "0" },
    "client-sockets": { type: "string", default: "1" },
    json: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});

if (args.help) {
  console.log(
    "usage: npm run bench -- [--duration S] [--runs N] [--warmup S] [--window N] [--batch N]\n" +
      `                      [--targets ${targets.map((t) => t.name).join(",")}]\n` +
      `                      [--workloads ${workloadNames.join(",")}] [--ke-concurrency N]\n` +
      "                      [--ke-client auto|openssl|node]\n" +
      "                      [--aead ID] [--profile S (0: off)] [--daemon PATH] [--node PATH] [--json FILE]\n" +
      `                      [--cert-key ${LEAF_KEY_TYPES.join("|")}] [--ke-prewarm S]\n` +
      "                      [--wire-seconds S (0: off)] [--idle-rate N] [--wire-packets N]\n" +
      "                      [--soak-minutes M (0: off)] [--soak-sample S]\n" +
      "                      [--server-threads N (ours: [daemon] server-threads)]\n" +
      "                      [--server-cpus LIST (taskset -c of every server, default 0)]\n" +
      "                      [--client-sockets N (UDP load from N source ports, default 1)]",
  );
  process.exit(0);
}

function num(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) {
    console.error(`--${name} must be a number in [${min}, ${max}], not ${v}`);
    process.exit(2);
  }
  return n;
}

function list<T extends string>(name: string, v: string | undefined, known: readonly T[]): T[] {
  if (v === undefined) return [...known];
  const wanted = v.split(",").map((s) => s.trim());
  for (const w of wanted) {
    if (!known.includes(w as T)) {
      console.error(`unknown ${name} ${w}; known: ${known.join(", ")}`);
      process.exit(2);
    }
  }
  return known.filter((k) => wanted.includes(k));
}

const durationS = num("duration", args.duration, 0.1, 60);
const runs = Math.round(num("runs", args.runs, 1, 20));
const warmupS = num("warmup", args.warmup, 0, 10);
const window = Math.round(num("window", args.window, 1, 4096));
const batch = Math.round(num("batch", args.batch, 1, 256));
const keConcurrency = Math.round(num("ke-concurrency", args["ke-concurrency"], 1, 256));
const aead = Math.round(num("aead", args.aead, 0, 65535));
const profileS = num("profile", args.profile, 0, 30);
const certKey = list<LeafKeyType>("certificate key type", args["cert-key"], LEAF_KEY_TYPES)[0]!;
const kePrewarmS = num("ke-prewarm", args["ke-prewarm"], 0, 60);
const wireS = num("wire-seconds", args["wire-seconds"], 0, 60);
const idleRate = num("idle-rate", args["idle-rate"], 1, 1000);
const wirePackets = Math.round(num("wire-packets", args["wire-packets"], 100, 1000000));
const soakMinutes = num("soak-minutes", args["soak-minutes"], 0, 120);
const soakSampleS = num("soak-sample", args["soak-sample"], 0.5, 60);
const keClient = list("NTS-KE client", args["ke-client"], ["auto", "openssl", "node"])[0]!;
const selectedNames = list(
  "target",
  args.targets ??
    targets
      .filter((t) => !t.optIn)
      .map((t) => t.name)
      .join(","),
  targets.map((t) => t.name),
);
const selected = targets.filter((t) => selectedNames.includes(t.name));
const selectedWorkloads = list<WorkloadName>("workload", args.workloads, workloadNames);
const daemonEntry = resolve(args.daemon ?? defaultDaemonEntry);
/** Runs our daemon under another node (e.g. 24, whose OpenSSL 3.5 handshakes are cheaper). */
const nodeBinary = args.node === undefined ? undefined : resolve(args.node);
const serverThreads =
  args["server-threads"] === undefined
    ? undefined
    : Math.round(num("server-threads", args["server-threads"], 1, 256));

// Ctrl-C / SIGTERM: exit through process.exit so the helpers' exit hook
// kills every server we started (by PID) and removes the temp dirs.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping`);
    process.exit(130);
  });
}

const cpus = availableParallelism();
const clientSockets = Math.round(num("client-sockets", args["client-sockets"], 1, 64));
const serverCpus = args["server-cpus"];
if (!/^\d+([-,]\d+)*$/.test(serverCpus)) {
  console.error(`--server-cpus must be a taskset CPU list like 0 or 0,1, not ${serverCpus}`);
  process.exit(2);
}
const loadCpus = cpus >= 2 ? "1" : "0";
if (cpus < 2) console.warn("only one CPU: server and load generator share it; numbers mean little");

/** Busy fraction of all CPUs together over `ms`, from /proc/stat. */
async function systemBusy(ms: number): Promise<number> {
  const sample = async () => {
    const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = v.reduce((a, b) => a + b, 0);
    return { total, idle: v[3]! + v[4]! };
  };
  const a = await sample();
  await new Promise((r) => setTimeout(r, ms));
  const b = await sample();
  const dt = b.total - a.total;
  return dt > 0 ? 1 - (b.idle - a.idle) / dt : 0;
}

interface Server {
  target: BenchTarget;
  dir?: TempDir;
  running?: RunningServer;
  skipped?: string;
  memory: ServerMemory;
}

/** A server's memory over the bench (memory.ts), MiB. */
interface ServerMemory {
  /** After start, before any load. */
  start?: MemorySample;
  /** Peak during the throughput runs: VmHWM (reset after start) and the largest sample. */
  peakHwmMiB?: number;
  peakSampledMiB?: number;
  /** False if VmHWM could not be reset (then the peak includes start-up). */
  peakResetOk?: boolean;
  /** 2 s after the throughput runs. */
  after?: MemorySample;
  sampler?: RssSampler;
}

/** Loads of the T3-to-wire measurement. */
const wireLoads = ["idle", "half"] as const;
type WireLoad = (typeof wireLoads)[number];

interface WireCell {
  server: Server;
  workload: WorkloadName;
  load: WireLoad;
  /** Requests a second asked of loadgen (each run; half load from the throughput median). */
  rate: number;
  achievedRates: number[];
  us: number[];
  unreadable: number;
  skipped?: string;
  failed?: string;
}

interface Row {
  server: Server;
  workload: WorkloadName;
  prepared?: Prepared;
  /** Not measured: a tool is missing or the server did not start. */
  skipped?: string;
  /** Measured badly or not at all because the server misbehaved (NTS replies that do not verify...). */
  failed?: string;
  results: Measurement[];
}

function median(xs: number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const fmtInt = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "-");
const fmt = (x: number, d: number) => (Number.isFinite(x) ? x.toFixed(d) : "-");
const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Server CPU per operation in the workload's unit ("5.21 us", "0.231 ms"). */
function fmtCpu(wl: WorkloadName, us: number): string {
  return workloads[wl].cpuUnit === "ms" ? `${fmt(us / 1000, 3)} ms` : `${fmt(us, 2)} us`;
}

/** Aligned columns: the first `leftColumns` left-aligned (labels), the rest right-aligned (figures). */
function table(rows: string[][], leftColumns = 2): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
    )
    .join("\n");
}

/**
 * T3 to wire (wire.ts) for every server's ntp and nts rows, idle and at half
 * its measured capacity: `runs` captures of each, interleaved like the
 * throughput runs, samples pooled per cell.
 */
async function measureWire(rows: Row[], params: MeasureParams): Promise<WireCell[]> {
  if (wireS <= 0) return [];
  const cells: WireCell[] = [];
  const missing = wireUnavailable();
  for (const row of rows) {
    if (row.workload === "nts-ke") continue;
    const capacity = median(row.results.map((m) => m.rate));
    for (const load of wireLoads) {
      const cell: WireCell = {
        server: row.server,
        workload: row.workload,
        load,
        rate: load === "idle" ? idleRate : Math.max(idleRate, Math.round(capacity / 2)),
        achievedRates: [],
        us: [],
        unreadable: 0,
      };
      if (row.skipped !== undefined || row.failed !== undefined || !Number.isFinite(capacity)) {
        cell.skipped = row.skipped ?? row.failed ?? "no throughput measured";
      } else if (missing) cell.skipped = missing;
      cells.push(cell);
    }
  }
  if (cells.every((c) => c.skipped !== undefined)) return cells;
  console.log(
    `\nT3 to wire: ${runs} capture(s) x ${wireS} s per cell (idle: ${idleRate}/s, half: half the median ops/s)`,
  );
  const rowOf = (c: WireCell) =>
    rows.find((r) => r.server === c.server && r.workload === c.workload)!;
  for (let run = 1; run <= runs; run++) {
    for (const cell of cells) {
      if (cell.skipped !== undefined || cell.failed !== undefined) continue;
      const label = `${cell.server.target.name}/${cell.workload}/${cell.load}`;
      try {
        const w = await measureT3ToWire({
          server: cell.server.running!,
          loadgenBin: params.loadgenBin,
          rate: cell.rate,
          warmupMs: Math.max(300, params.warmupMs),
          seconds: wireS,
          maxPackets: wirePackets,
          window: params.window,
          cpus: params.loadCpus,
          file: cell.server.dir!.file("t3-wire.pcapng"),
          loadOptions: rowOf(cell).prepared?.loadOptions,
        });
        cell.us.push(...w.us);
        cell.achievedRates.push(w.achievedRate);
        cell.unreadable += w.unreadable;
        console.log(
          `run ${run}/${runs} ${label.padEnd(20)} asked ${fmtInt(cell.rate)}/s got ${fmtInt(w.achievedRate)}/s  ` +
            `${w.us.length} replies  median ${fmt(quantile(w.us, 0.5), 1)} us  p99 ${fmt(quantile(w.us, 0.99), 1)} us`,
        );
      } catch (e) {
        cell.failed = `run ${run}: ${message(e)}`;
        console.log(`FAIL T3 to wire ${label}: ${cell.failed}`);
      }
    }
  }
  return cells;
}

/** The larger of the peak figures (VmHWM, sampled), NaN if neither was read. */
function peakMiB(m: ServerMemory): number {
  const xs = [m.peakHwmMiB, m.peakSampledMiB].filter((x): x is number => Number.isFinite(x));
  return xs.length ? Math.max(...xs) : NaN;
}

/** What the summary table needs of a throughput row's summary. */
interface RowFigures {
  target: string;
  workload: WorkloadName;
  unit: string;
  runs: number;
  failed?: string;
  medianRate: number;
  medianCpuUsPerOp: number;
}

/**
 * The closing table: one line per figure, one column per server, and the
 * ratio of the first of ours to the first reference.
 */
function summaryTable(
  servers: Server[],
  rows: RowFigures[],
  wire: WireCell[],
  soaked?: SoakResult,
): string {
  const lines: { figure: string; values: (s: Server) => number; show: (x: number) => string }[] =
    [];
  const rowOf = (s: Server, wl: WorkloadName) =>
    rows.find((r) => r.target === s.target.name && r.workload === wl && r.runs > 0 && !r.failed);
  for (const wl of selectedWorkloads) {
    const unit = workloads[wl].unit;
    lines.push({
      figure: `${wl}: ${unit}/s (median)`,
      values: (s) => rowOf(s, wl)?.medianRate ?? NaN,
      show: fmtInt,
    });
    lines.push({
      figure: `${wl}: server CPU/${unit}`,
      values: (s) => rowOf(s, wl)?.medianCpuUsPerOp ?? NaN,
      show: (x) => fmtCpu(wl, x),
    });
  }
  const cellOf = (s: Server, wl: WorkloadName, load: WireLoad) =>
    wire.find((c) => c.server === s && c.workload === wl && c.load === load && c.us.length > 0);
  for (const wl of selectedWorkloads) {
    if (wl === "nts-ke" || wireS <= 0) continue;
    for (const load of wireLoads) {
      for (const [q, name] of [
        [0.5, "median"],
        [0.99, "p99"],
      ] as const) {
        lines.push({
          figure: `${wl}: T3 to wire, ${load}, ${name}`,
          values: (s) => quantile(cellOf(s, wl, load)?.us ?? [], q),
          show: (x) => (Number.isFinite(x) ? `${fmt(x, 1)} us` : "-"),
        });
      }
    }
  }
  const mib = (x: number) => (Number.isFinite(x) ? `${fmt(x, 1)} MiB` : "-");
  lines.push(
    { figure: "RSS after start", values: (s) => s.memory.start?.rssMiB ?? NaN, show: mib },
    {
      figure: "RSS peak under load",
      values: (s) => peakMiB(s.memory),
      show: mib,
    },
    { figure: "RSS after load", values: (s) => s.memory.after?.rssMiB ?? NaN, show: mib },
  );
  if (soaked) {
    const of = (s: Server, x: number) => (s.target.name === soaked.target ? x : NaN);
    lines.push(
      {
        figure: `soak ${soaked.minutes} min: RSS max, 1st half`,
        values: (s) => of(s, soaked.firstHalfMaxMiB),
        show: mib,
      },
      {
        figure: `soak ${soaked.minutes} min: RSS max, 2nd half`,
        values: (s) => of(s, soaked.secondHalfMaxMiB),
        show: mib,
      },
    );
  }
  const ours = servers.find((s) => s.target.ours && s.running);
  const ref = servers.find((s) => !s.target.ours && s.running);
  const header = ["figure", ...servers.map((s) => s.target.name)];
  if (ours && ref) header.push(`${ours.target.name}/${ref.target.name}`);
  const body = lines.map((l) => {
    const cells = [l.figure, ...servers.map((s) => l.show(l.values(s)))];
    if (ours && ref) {
      const r = l.values(ours) / l.values(ref);
      cells.push(Number.isFinite(r) ? `${fmt(r, 2)}x` : "-");
    }
    return cells;
  });
  return table([header, ...body], 1);
}

/** The command line that started this run (as `npm run bench -- ...` when npm did). */
function commandLine(): string {
  const q = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, "'\\''")}'`);
  const args = process.argv.slice(2).map(q).join(" ");
  if (process.env.npm_lifecycle_event === "bench") return `npm run bench -- ${args}`;
  return [process.execPath, ...process.execArgv, process.argv[1]!].map(q).join(" ") + ` ${args}`;
}

async function main(): Promise<number> {
  console.log(`$ ${commandLine()}`);
  if (args.daemon === undefined) {
    if ((await ensureDistBuilt()) === "built") console.log("built dist/ (it was older than src/)");
  }
  const loadgenBin = await buildLoadgen();
  const params: MeasureParams = {
    durationMs: Math.round(durationS * 1000),
    warmupMs: Math.round(warmupS * 1000),
    window,
    batch,
    loadCpus,
    clientSockets,
    loadgenBin,
    aead,
    keConcurrency,
    kePrewarmMs: Math.round(kePrewarmS * 1000),
  };
  console.log(
    `bench: ${selectedWorkloads.join(", ")}; ${runs} run(s) x ${durationS} s (+${warmupS} s warm-up) per row, ` +
      `server on CPU ${serverCpus}, load on CPU ${loadCpus}; window ${window}, batch ${batch}, ` +
      (serverThreads === undefined ? "" : `ntpd-ts server-threads ${serverThreads}, `) +
      (clientSockets === 1 ? "" : `UDP load from ${clientSockets} sockets, `) +
      `NTS-KE concurrency ${keConcurrency}, AEAD ${aead}, server certificate key ${certKey}`,
  );

  if (nodeBinary) console.log(`our daemon runs under ${nodeBinary}`);
  const background = await systemBusy(1000);
  console.log(
    `background load before the bench: ${fmt(background * 100, 0)}% of ${cpus} CPUs busy` +
      (background > 0.1
        ? " -- other work is running; rates will be unreliable, CPU per op less so"
        : ""),
  );

  let pki: BenchPki | undefined;
  let pkiDir: TempDir | undefined;
  let noNts: string | undefined;
  if (selectedWorkloads.some((w) => workloads[w].nts)) {
    if (!which("openssl")) noNts = "openssl is not installed (needed for the NTS test PKI)";
    else pki = await makeBenchPki((pkiDir = await makeTempDir("ntpd-ts-bench-pki-")), certKey);
  }
  if (pki) params.caPath = pki.caPath;
  if (selectedWorkloads.includes("nts-ke")) {
    const k = keClient === "node" ? { error: "--ke-client node" } : await buildKeload();
    if ("bin" in k) {
      params.keloadBin = k.bin;
      console.log("NTS-KE load: bench/keload.c (OpenSSL; certificate not verified under load)");
    } else if (keClient === "openssl") {
      console.error(k.error);
      return 2;
    } else {
      console.log(`NTS-KE load: bench/ke-client.ts (node:tls, verifying), since ${k.error}`);
    }
  }

  const servers: Server[] = selected.map((target) => ({ target, memory: {} }));
  const rows: Row[] = [];
  for (const workload of selectedWorkloads)
    for (const server of servers) rows.push({ server, workload, results: [] });
  let profile: ProfileSection[] | undefined;
  let profileError: string | undefined;
  const wireCells: WireCell[] = [];
  try {
    for (const s of servers) {
      s.dir = await makeTempDir(`ntpd-ts-bench-${s.target.name}-`);
      try {
        s.running = await s.target.start({
          dir: s.dir,
          serverCpus,
          daemonEntry,
          nodeBinary,
          nts: pki,
          serverThreads,
        });
        console.log(
          `started ${s.target.name} (pid ${s.running.pid}): NTP on ${s.running.host}:${s.running.port}` +
            (s.running.kePort === undefined ? "" : `, NTS-KE on TCP ${s.running.kePort}`),
        );
        // Memory after start: once start-up work (JIT, first GCs) has settled.
        await new Promise((r) => setTimeout(r, 1000));
        s.memory.start = readMemory(s.running.pid);
      } catch (e) {
        if (!(e instanceof SkipTarget)) throw e;
        s.skipped = e.message;
        console.log(`SKIP ${s.target.name}: ${e.message}`);
      }
    }
    for (const row of rows) {
      const driver = workloads[row.workload];
      const server = row.server.running;
      const label = `${row.server.target.name}/${row.workload}`;
      if (!server) {
        row.skipped = row.server.skipped ?? "not started";
        continue;
      }
      if (row.server.target.workloads && !row.server.target.workloads.includes(row.workload)) {
        row.skipped = `${row.server.target.name} serves ${row.server.target.workloads.join(", ")} only`;
        continue;
      }
      if (driver.nts && noNts) {
        row.skipped = noNts;
        continue;
      }
      if (!driver.prepare) continue;
      try {
        row.prepared = await driver.prepare(server, {
          ...params,
          file: (name) => row.server.dir!.file(name),
        });
        if (row.prepared.note) console.log(`${label}: ${row.prepared.note}`);
      } catch (e) {
        row.failed = `set-up failed: ${message(e)}`;
        console.log(`FAIL ${label}: ${row.failed}`);
      }
    }
    for (const s of servers) {
      if (!s.running) continue;
      s.memory.peakResetOk = resetPeak(s.running.pid);
      s.memory.sampler = new RssSampler(s.running.pid, 500);
    }
    for (let run = 1; run <= runs; run++) {
      for (const row of rows) {
        if (row.skipped !== undefined || row.failed !== undefined) continue;
        const driver = workloads[row.workload];
        const label = `${row.server.target.name}/${row.workload}`;
        let m: Measurement;
        try {
          m = await driver.measure(row.server.running!, params, row.prepared ?? {});
        } catch (e) {
          row.failed = `run ${run} failed: ${message(e)}`;
          console.log(`FAIL ${label}: ${row.failed}`);
          continue;
        }
        row.results.push(m);
        console.log(
          `run ${run}/${runs} ${label.padEnd(15)} ${fmtInt(m.rate).padStart(9)} ${driver.unit}/s  ` +
            `${fmtCpu(row.workload, m.cpuUsPerOp)}/${driver.unit}  server ${fmt(m.serverCpuPct, 0)}%  ` +
            `load ${fmt(m.loadgenCpuPct, 0)}%  cores ${m.coreBusyPct.map((x) => `${fmt(x, 0)}%`).join("/")}  ` +
            `lost ${m.lost}  invalid ${m.invalid}` +
            (m.errors?.length ? `  (${m.errors[0]})` : ""),
        );
      }
    }
    for (const s of servers) {
      if (!s.running || !s.memory.sampler) continue;
      s.memory.peakSampledMiB = s.memory.sampler.stop();
      s.memory.peakHwmMiB = readMemory(s.running.pid)?.hwmMiB;
    }
    await new Promise((r) => setTimeout(r, 2000));
    for (const s of servers) if (s.running) s.memory.after = readMemory(s.running.pid);
    wireCells.push(...(await measureWire(rows, params)));
  } finally {
    for (const s of servers) {
      await s.running?.stop();
      await s.dir?.cleanup();
    }
  }

  const oursTarget = selected.find((t) => t.ours);
  if (profileS > 0 && pki && oursTarget && selectedWorkloads.some((w) => workloads[w].nts)) {
    console.log(`\nprofiling ${oursTarget.name} under NTS load (${profileS} s each)...`);
    const dir = await makeTempDir("ntpd-ts-bench-profile-");
    try {
      profile = await profileOurs({
        target: oursTarget,
        daemonEntry,
        dir,
        pki,
        serverCpus,
        loadCpus,
        loadgenBin,
        seconds: profileS,
        window,
        batch,
        aead,
        keConcurrency,
        keloadBin: params.keloadBin,
      });
    } catch (e) {
      if (e instanceof SkipTarget) profileError = e.message;
      else profileError = message(e);
      console.log(`profile failed: ${profileError}`);
    } finally {
      await dir.cleanup();
    }
  }

  // ---- the table ----
  const header = [
    "target",
    "workload",
    "runs",
    "median ops/s",
    "min-max ops/s",
    "server CPU/op",
    "server CPU",
    "load CPU",
    "core0/core1 busy",
    "lost",
    "invalid",
  ];
  const body: string[][] = [];
  interface Summary {
    target: string;
    workload: WorkloadName;
    unit: string;
    ours: boolean;
    runs: number;
    medianRate: number;
    minRate: number;
    maxRate: number;
    medianCpuUsPerOp: number;
    medianServerCpuPct: number;
    medianLoadgenCpuPct: number;
    medianCoreBusyPct: number[];
    lost: number;
    invalid: number;
    note?: string;
    skipped?: string;
    failed?: string;
    results: Measurement[];
  }
  const summary: Summary[] = [];
  for (const row of rows) {
    const t = row.server.target;
    const rs = row.results;
    const rates = rs.map((m) => m.rate);
    const s: Summary = {
      target: t.name,
      workload: row.workload,
      unit: workloads[row.workload].unit,
      ours: t.ours,
      runs: rs.length,
      medianRate: median(rates),
      minRate: rs.length ? Math.min(...rates) : NaN,
      maxRate: rs.length ? Math.max(...rates) : NaN,
      medianCpuUsPerOp: median(rs.map((m) => m.cpuUsPerOp)),
      medianServerCpuPct: median(rs.map((m) => m.serverCpuPct)),
      medianLoadgenCpuPct: median(rs.map((m) => m.loadgenCpuPct)),
      medianCoreBusyPct: [0, 1].map((i) => median(rs.map((m) => m.coreBusyPct[i] ?? NaN))),
      lost: rs.reduce((a, m) => a + m.lost, 0),
      invalid: rs.reduce((a, m) => a + m.invalid, 0),
      note: row.prepared?.note,
      skipped: row.skipped,
      failed: row.failed,
      results: rs,
    };
    summary.push(s);
    const status = row.skipped !== undefined ? "skipped" : row.failed !== undefined ? "FAILED" : "";
    body.push([
      t.name,
      `${row.workload} (${s.unit})`,
      status || String(s.runs),
      fmtInt(s.medianRate),
      rs.length ? `${fmtInt(s.minRate)}-${fmtInt(s.maxRate)}` : "-",
      rs.length ? fmtCpu(row.workload, s.medianCpuUsPerOp) : "-",
      rs.length ? `${fmt(s.medianServerCpuPct, 0)}%` : "-",
      rs.length ? `${fmt(s.medianLoadgenCpuPct, 0)}%` : "-",
      rs.length ? s.medianCoreBusyPct.map((x) => `${fmt(x, 0)}%`).join("/") : "-",
      rs.length ? String(s.lost) : "-",
      rs.length ? String(s.invalid) : "-",
    ]);
  }
  console.log("\n" + table([header, ...body]));

  // ---- ratios ours/reference per workload ----
  const ratios: Record<string, unknown>[] = [];
  let ratioRows = 0;
  for (const wl of selectedWorkloads) {
    const measured = summary.filter((s) => s.workload === wl && s.runs > 0 && !s.failed);
    for (const o of measured.filter((s) => s.ours)) {
      for (const r of measured.filter((s) => !s.ours)) {
        const rate = o.medianRate / r.medianRate;
        const cpu = o.medianCpuUsPerOp / r.medianCpuUsPerOp;
        ratios.push({ workload: wl, ours: o.target, reference: r.target, rate, cpuPerOp: cpu });
        ratioRows++;
      }
    }
  }
  if (ratioRows === 0) console.log("\nno ratio (need both our server and a reference measured)");

  for (const s of summary) {
    if (s.runs > 0 && s.medianServerCpuPct < 85) {
      const cores = s.medianCoreBusyPct.map((x) => `${fmt(x, 0)}%`).join("/");
      const loadCore = s.medianCoreBusyPct[Number(loadCpus)] ?? NaN;
      const why =
        loadCore >= 90
          ? `the load CPU was saturated (load generator ${fmt(s.medianLoadgenCpuPct, 0)}%, the rest ` +
            `its kernel work or other processes; cores ${cores})`
          : `the window (or NTS-KE concurrency) kept too little in flight, or other work interfered (cores ${cores})`;
      console.log(
        `\n${s.target}/${s.workload}: the server was busy only ${fmt(s.medianServerCpuPct, 0)}% of the time, ` +
          `so ops/s is not the server's limit: ${why}`,
      );
    }
    if (s.skipped) console.log(`\n${s.target}/${s.workload}: skipped: ${s.skipped}`);
    if (s.failed) console.log(`\n${s.target}/${s.workload}: FAILED: ${s.failed}`);
    const errors = s.results.flatMap((m) => m.errors ?? []);
    if (s.invalid > 0 || errors.length > 0) {
      console.log(
        `\n${s.target}/${s.workload}: ${s.invalid} invalid answers or failed operations` +
          (errors.length ? `, e.g. ${errors[0]}` : ""),
      );
    }
  }

  if (profile) {
    for (const sec of profile) {
      console.log(
        `\n${oursTarget!.name} profile, ${sec.load}: server CPU ${fmt(sec.cpuS * 1000, 0)} ms, of which the ` +
          `profiler saw ${fmt(sec.busyS * 1000, 0)} ms busy (${sec.samples} samples; the rest: native work ` +
          "no JavaScript called, e.g. TLS handshakes, and samples missed). Top functions by self time, % of busy:",
      );
      console.log(
        table([
          ["self %", "function"],
          ...sec.functions.map((f) => [fmt(f.selfPct, 1), f.name]),
        ]).replace(/^/gm, "  "),
      );
      console.log(
        "  by file: " + sec.files.map((f) => `${f.name} ${fmt(f.selfPct, 0)}%`).join(", "),
      );
    }
  }

  let soakResult: SoakResult | undefined;
  let soakError: string | undefined;
  if (soakMinutes > 0 && oursTarget) {
    console.log(
      `\nsoak: ${oursTarget.name} under full load (${selectedWorkloads.join(", ")} in turns of 10 s) ` +
        `for ${soakMinutes} min, VmRSS every ${soakSampleS} s...`,
    );
    const dir = await makeTempDir("ntpd-ts-bench-soak-");
    try {
      soakResult = await soak({
        target: oursTarget,
        daemonEntry,
        dir,
        nts: noNts ? undefined : pki,
        serverCpus,
        params,
        workloads: selectedWorkloads.filter((w) => !(workloads[w].nts && noNts)),
        minutes: soakMinutes,
        sampleS: soakSampleS,
        turnS: 10,
        log: (line) => console.log(line),
      });
      const r = soakResult;
      console.log(
        `soak: VmRSS at start ${fmt(r.startRssMiB, 1)} MiB; median of the first minute ` +
          `${fmt(r.firstMinuteMedianMiB, 1)}, of the last ${fmt(r.lastMinuteMedianMiB, 1)}; ` +
          `max of the first half ${fmt(r.firstHalfMaxMiB, 1)}, of the second ${fmt(r.secondHalfMaxMiB, 1)} ` +
          `(VmHWM ${fmt(r.hwmMiB, 1)}): ${r.flat ? "flat" : "GROWING"}; ` +
          Object.entries(r.ops)
            .map(([w, n]) => `${fmtInt(n)} ${w}`)
            .join(", ") +
          (r.failures.length ? `; failures: ${r.failures.join("; ")}` : ""),
      );
    } catch (e) {
      soakError = message(e);
      console.log(`soak failed: ${soakError}`);
    } finally {
      await dir.cleanup();
    }
  }

  console.log("\n" + summaryTable(servers, summary, wireCells, soakResult));
  console.log(
    "(ratio ours/reference. ops/s: higher is better; CPU/op, T3 to wire, RSS: lower is better.\n" +
      " CPU/op is steadier than ops/s on a shared machine; for nts-ke the client is often the bottleneck.\n" +
      " T3 to wire: reply frame time on lo - its transmit timestamp, median/p99 of n replies.)",
  );

  if (args.json) {
    await writeFile(
      args.json,
      JSON.stringify(
        {
          command: commandLine(),
          params: {
            ...params,
            runs,
            serverCpus,
            serverThreads,
            workloads: selectedWorkloads,
            daemonEntry,
            wireSeconds: wireS,
            idleRate,
            wirePackets,
            soakMinutes,
            soakSampleS,
          },
          summary,
          ratios,
          profile: profile ?? profileError ?? null,
          t3ToWire: wireCells.map((c) => ({
            target: c.server.target.name,
            workload: c.workload,
            load: c.load,
            askedRate: c.rate,
            achievedRates: c.achievedRates,
            replies: c.us.length,
            medianUs: quantile(c.us, 0.5),
            p99Us: quantile(c.us, 0.99),
            unreadable: c.unreadable,
            skipped: c.skipped,
            failed: c.failed,
          })),
          memory: servers.map((s) => ({
            target: s.target.name,
            start: s.memory.start ?? null,
            peakHwmMiB: s.memory.peakHwmMiB ?? null,
            peakSampledMiB: s.memory.peakSampledMiB ?? null,
            peakResetOk: s.memory.peakResetOk ?? null,
            after: s.memory.after ?? null,
          })),
          soak: soakResult ?? soakError ?? null,
        },
        null,
        2,
      ) + "\n",
    );
    console.log(`\nwrote ${args.json}`);
  }
  await pkiDir?.cleanup();
  return summary.some((s) => s.failed !== undefined) || wireCells.some((c) => c.failed) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
