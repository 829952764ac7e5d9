// `npm run bench`: plain-NTP server throughput, chrony vs ours, on loopback.
//
// Each server is pinned to CPU 0 (taskset -c 0) and the C load generator to
// CPU 1; every server is started first, then the runs are interleaved
// (A B A B ...) so slow phases of this shared 2-core VM hit all targets
// alike. Reported per target: median (min-max) responses per second, and
// server CPU microseconds per response (utime+stime from /proc/PID/stat) —
// the steadier figure, since end-to-end rates here swing by 2x between runs.
//
//   npm run bench -- [--duration 5] [--runs 3] [--warmup 0.5] [--window 64]
//                    [--batch 16] [--targets chrony,ntpd-ts] [--daemon PATH]
//                    [--json FILE]
import { availableParallelism } from "node:os";
import { readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { makeTempDir, type TempDir } from "../test/helpers/tmp.js";
import { buildLoadgen } from "./loadgen.js";
import {
  SkipTarget,
  defaultDaemonEntry,
  targets,
  type BenchTarget,
  type RunningServer,
} from "./targets.js";
import { workloads, type MeasureParams, type Measurement } from "./workloads.js";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    runs: { type: "string", default: "3" },
    warmup: { type: "string", default: "0.5" },
    window: { type: "string", default: "64" },
    batch: { type: "string", default: "16" },
    targets: { type: "string" },
    daemon: { type: "string" },
    json: { type: "string" },
    help: { type: "boolean", short: "h" },
  },
  strict: true,
});

if (args.help) {
  console.log(
    "usage: npm run bench -- [--duration S] [--runs N] [--warmup S] [--window N] [--batch N]\n" +
      `                      [--targets ${targets.map((t) => t.name).join(",")}] [--daemon PATH] [--json FILE]`,
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

const durationS = num("duration", args.duration, 0.1, 60);
const runs = Math.round(num("runs", args.runs, 1, 20));
const warmupS = num("warmup", args.warmup, 0, 10);
const window = Math.round(num("window", args.window, 1, 4096));
const batch = Math.round(num("batch", args.batch, 1, 256));
const wanted = args.targets?.split(",").map((s) => s.trim());
const selected = targets.filter((t) => !wanted || wanted.includes(t.name));
if (wanted) {
  for (const w of wanted) {
    if (!targets.some((t) => t.name === w)) {
      console.error(`unknown target ${w}; known: ${targets.map((t) => t.name).join(", ")}`);
      process.exit(2);
    }
  }
}
const daemonEntry = resolve(args.daemon ?? defaultDaemonEntry);

// Ctrl-C / SIGTERM: exit through process.exit so the helpers' exit hook
// kills every server we started (by PID) and removes the temp dirs.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: stopping`);
    process.exit(130);
  });
}

const cpus = availableParallelism();
const serverCpus = "0";
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

interface Row {
  target: BenchTarget;
  dir?: TempDir;
  server?: RunningServer;
  skipped?: string;
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

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
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
    loadgenBin,
  };
  console.log(
    `bench: ${runs} run(s) x ${durationS} s (+${warmupS} s warm-up) per target, server on CPU ${serverCpus}, ` +
      `load on CPU ${loadCpus}, window ${window}, batch ${batch}`,
  );

  const background = await systemBusy(1000);
  console.log(
    `background load before the bench: ${fmt(background * 100, 0)}% of ${cpus} CPUs busy` +
      (background > 0.1
        ? " -- other work is running; rates will be unreliable, CPU us/op less so"
        : ""),
  );

  const rows: Row[] = selected.map((target) => ({ target, results: [] }));
  try {
    for (const row of rows) {
      row.dir = await makeTempDir(`ntpd-ts-bench-${row.target.name}-`);
      try {
        row.server = await row.target.start({ dir: row.dir, serverCpus, daemonEntry });
        console.log(
          `started ${row.target.name} (pid ${row.server.pid}) on ${row.server.host}:${row.server.port}`,
        );
      } catch (e) {
        if (!(e instanceof SkipTarget)) throw e;
        row.skipped = e.message;
        console.log(`SKIP ${row.target.name} (${row.target.workload}): ${e.message}`);
      }
    }
    for (let run = 1; run <= runs; run++) {
      for (const row of rows) {
        if (!row.server) continue;
        const m = await workloads[row.target.workload].measure(row.server, params);
        row.results.push(m);
        console.log(
          `run ${run}/${runs} ${row.target.name.padEnd(8)} ${fmtInt(m.rate).padStart(9)} ${workloads[row.target.workload].unit}/s  ` +
            `${fmt(m.cpuUsPerOp, 2)} us/${workloads[row.target.workload].unit}  server ${fmt(m.serverCpuPct, 0)}%  ` +
            `cores ${m.coreBusyPct.map((x) => `${fmt(x, 0)}%`).join("/")}  lost ${m.lost}`,
        );
      }
    }
  } finally {
    for (const row of rows) {
      await row.server?.stop();
      await row.dir?.cleanup();
    }
  }

  const header = [
    "target",
    "workload",
    "runs",
    "median ops/s",
    "min-max ops/s",
    "CPU us/op",
    "server CPU",
    "load CPU",
    "core0/core1 busy",
    "lost",
    "invalid",
  ];
  const body: string[][] = [];
  const summary: Record<string, unknown>[] = [];
  for (const row of rows) {
    const t = row.target;
    if (row.skipped !== undefined) {
      body.push([t.name, t.workload, "skipped", "-", "-", "-", "-", "-", "-", "-", "-"]);
      summary.push({ target: t.name, workload: t.workload, skipped: row.skipped });
      continue;
    }
    const rs = row.results;
    const rates = rs.map((m) => m.rate);
    const s = {
      target: t.name,
      workload: t.workload,
      unit: workloads[t.workload].unit,
      runs: rs.length,
      medianRate: median(rates),
      minRate: Math.min(...rates),
      maxRate: Math.max(...rates),
      medianCpuUsPerOp: median(rs.map((m) => m.cpuUsPerOp)),
      medianServerCpuPct: median(rs.map((m) => m.serverCpuPct)),
      medianLoadgenCpuPct: median(rs.map((m) => m.loadgenCpuPct)),
      medianCoreBusyPct: [0, 1].map((i) => median(rs.map((m) => m.coreBusyPct[i] ?? NaN))),
      lost: rs.reduce((a, m) => a + m.lost, 0),
      invalid: rs.reduce((a, m) => a + m.invalid, 0),
      results: rs,
    };
    summary.push(s);
    body.push([
      t.name,
      t.workload,
      String(s.runs),
      fmtInt(s.medianRate),
      `${fmtInt(s.minRate)}-${fmtInt(s.maxRate)}`,
      fmt(s.medianCpuUsPerOp, 2),
      `${fmt(s.medianServerCpuPct, 0)}%`,
      `${fmt(s.medianLoadgenCpuPct, 0)}%`,
      s.medianCoreBusyPct.map((x) => `${fmt(x, 0)}%`).join("/"),
      String(s.lost),
      String(s.invalid),
    ]);
  }
  console.log("\n" + table([header, ...body]));
  for (const row of rows)
    if (row.skipped) console.log(`\n${row.target.name}: skipped: ${row.skipped}`);

  // Ratios ours/reference per workload.
  const ratios: Record<string, unknown>[] = [];
  for (const wl of new Set(rows.map((r) => r.target.workload))) {
    const stats = summary.filter((s) => s.workload === wl && !("skipped" in s)) as {
      target: string;
      medianRate: number;
      medianCpuUsPerOp: number;
    }[];
    const ours = stats.filter((s) => selected.find((t) => t.name === s.target)?.ours);
    const refs = stats.filter((s) => !selected.find((t) => t.name === s.target)?.ours);
    for (const o of ours) {
      for (const r of refs) {
        const rate = o.medianRate / r.medianRate;
        const cpu = o.medianCpuUsPerOp / r.medianCpuUsPerOp;
        ratios.push({ workload: wl, ours: o.target, reference: r.target, rate, cpuPerOp: cpu });
        console.log(
          `\n${wl}: ${o.target}/${r.target} throughput ${fmt(rate, 2)}x (median), ` +
            `CPU per op ${fmt(cpu, 2)}x (${fmt(o.medianCpuUsPerOp, 2)} vs ${fmt(r.medianCpuUsPerOp, 2)} us)`,
        );
      }
    }
    if (ours.length === 0 || refs.length === 0) {
      console.log(`\n${wl}: no ratio (need both our server and a reference measured)`);
    }
  }

  if (args.json) {
    await writeFile(
      args.json,
      JSON.stringify({ params: { ...params, runs, serverCpus }, summary, ratios }, null, 2) + "\n",
    );
    console.log(`\nwrote ${args.json}`);
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exit(1);
  },
);
