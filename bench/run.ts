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
//   npm run bench -- [--duration 3] [--runs 3] [--warmup 0.5] [--window 64]
//                    [--batch 16] [--targets chrony,ntpd-ts[,openssl-floor]]
//                    [--workloads ntp,nts,nts-ke] [--ke-concurrency 8]
//                    [--ke-client auto|openssl|node] [--aead 15] [--profile 2]
//                    [--cert-key p256|rsa2048|ed25519] [--ke-prewarm 3]
//                    [--daemon PATH] [--node PATH] [--json FILE]
//                    [--server-threads N] [--server-cpus 0] [--client-sockets 1]
//
// Several serving threads (--server-threads, ours only) share the load only when it comes
// from several source ports (--client-sockets): the kernel picks a thread's SO_REUSEPORT
// socket by source address and port. On a 2-core machine, --server-cpus 0,1 lets the
// threads use both cores, one of them shared with the load generator (CPU 1).
import { availableParallelism } from "node:os";
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { LEAF_KEY_TYPES, type LeafKeyType } from "../test/helpers/pki.js";
import { which } from "../test/helpers/process.js";
import { makeTempDir, type TempDir } from "../test/helpers/tmp.js";
import { buildKeload } from "./ke-load.js";
import { buildLoadgen } from "./loadgen.js";
import { makeBenchPki, type BenchPki } from "./nts.js";
import { profileOurs, type ProfileSection } from "./profile.js";
import {
  SkipTarget,
  defaultDaemonEntry,
  targets,
  workloadNames,
  type BenchTarget,
  type RunningServer,
  type WorkloadName,
} from "./targets.js";
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

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
    )
    .join("\n");
}

async function main(): Promise<number> {
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

  const servers: Server[] = selected.map((target) => ({ target }));
  const rows: Row[] = [];
  for (const workload of selectedWorkloads)
    for (const server of servers) rows.push({ server, workload, results: [] });
  let profile: ProfileSection[] | undefined;
  let profileError: string | undefined;
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
  const ratioRows: string[][] = [];
  for (const wl of selectedWorkloads) {
    const measured = summary.filter((s) => s.workload === wl && s.runs > 0 && !s.failed);
    for (const o of measured.filter((s) => s.ours)) {
      for (const r of measured.filter((s) => !s.ours)) {
        const rate = o.medianRate / r.medianRate;
        const cpu = o.medianCpuUsPerOp / r.medianCpuUsPerOp;
        ratios.push({ workload: wl, ours: o.target, reference: r.target, rate, cpuPerOp: cpu });
        ratioRows.push([
          wl,
          `${o.target}/${r.target}`,
          `${fmt(rate, 2)}x`,
          `${fmt(cpu, 2)}x`,
          fmtCpu(wl, o.medianCpuUsPerOp),
          fmtCpu(wl, r.medianCpuUsPerOp),
        ]);
      }
    }
  }
  if (ratioRows.length > 0) {
    console.log(
      "\n" +
        table([
          ["workload", "ours/ref", "ops/s ratio", "CPU/op ratio", "ours CPU/op", "ref CPU/op"],
          ...ratioRows,
        ]),
    );
    console.log(
      "(ops/s ratio > 1: ours faster; CPU/op ratio < 1: ours cheaper. CPU/op is the reliable figure;\n" +
        " for nts-ke the client on the other core is usually the bottleneck of ops/s.)",
    );
  } else {
    console.log("\nno ratio (need both our server and a reference measured)");
  }

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

  if (args.json) {
    await writeFile(
      args.json,
      JSON.stringify(
        {
          params: { ...params, runs, serverCpus, serverThreads, workloads: selectedWorkloads },
          summary,
          ratios,
          profile: profile ?? profileError ?? null,
        },
        null,
        2,
      ) + "\n",
    );
    console.log(`\nwrote ${args.json}`);
  }
  await pkiDir?.cleanup();
  return summary.some((s) => s.failed !== undefined) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
