// Workload drivers: how to put load on a running server and what one
// measurement yields. "ntp" is plain NTP through loadgen.c; NTS requests can
// reuse it in template mode (RunningServer.loadOptions.requestsFile), and an
// NTS-KE driver would bring its own TLS load generator.
import { runLoadgen } from "./loadgen.js";
import type { RunningServer, WorkloadName } from "./targets.js";

export interface MeasureParams {
  durationMs: number;
  warmupMs: number;
  window: number;
  batch: number;
  /** CPUs for the load generator (taskset -c). */
  loadCpus: string;
  loadgenBin: string;
}

export interface Measurement {
  /** Operations (valid responses, handshakes...) per second. */
  rate: number;
  /** Server process CPU time per operation, microseconds. */
  cpuUsPerOp: number;
  /** Server process CPU use over the run, percent of one core. */
  serverCpuPct: number;
  /** Load generator process CPU use, percent of one core. */
  loadgenCpuPct: number;
  /** Per-CPU busy percent (all processes, softirq included). */
  coreBusyPct: number[];
  sent: number;
  ok: number;
  lost: number;
  invalid: number;
}

export interface WorkloadDriver {
  /** What one operation is, for the table header ("resp", "handshake"). */
  unit: string;
  measure(server: RunningServer, p: MeasureParams): Promise<Measurement>;
}

const ntp: WorkloadDriver = {
  unit: "resp",
  async measure(server, p) {
    const r = await runLoadgen(p.loadgenBin, {
      host: server.host,
      port: server.port,
      durationMs: p.durationMs,
      warmupMs: p.warmupMs,
      window: p.window,
      batch: p.batch,
      serverPid: server.pid,
      cpus: p.loadCpus,
      ...server.loadOptions,
    });
    return {
      rate: r.rate,
      cpuUsPerOp: r.valid > 0 && r.server_cpu_s >= 0 ? (r.server_cpu_s / r.valid) * 1e6 : NaN,
      serverCpuPct: r.server_cpu_s >= 0 ? (r.server_cpu_s / r.elapsed_s) * 100 : NaN,
      loadgenCpuPct: (r.loadgen_cpu_s / r.elapsed_s) * 100,
      coreBusyPct: r.cpu_busy.map((x) => x * 100),
      sent: r.sent,
      ok: r.valid,
      lost: r.lost,
      invalid: r.invalid + r.kod,
    };
  },
};

export const workloads: Record<WorkloadName, WorkloadDriver> = { ntp };
