// Workload drivers: how to put load on a running server and what one
// measurement yields.
//
//   ntp     plain 48-octet NTP requests through loadgen.c;
//   nts     NTS-protected requests: loadgen.c in template mode replaying
//           requests prepared (and verified) by nts.ts from one NTS-KE with
//           the server, counting only replies that echo the request's UID
//           and carry an authenticator;
//   nts-ke  full NTS-KE exchanges (TLS 1.3 handshake, request, response, key
//           export) with a few in flight, from keload.c (OpenSSL) or, where
//           that does not compile, ke-client.ts (see ke-load.ts).
import { buildNtsTemplates } from "./nts.js";
import { runKeLoad } from "./ke-load.js";
import { runLoadgen, type LoadgenOptions } from "./loadgen.js";
import type { RunningServer, WorkloadName } from "./targets.js";

export interface MeasureParams {
  durationMs: number;
  warmupMs: number;
  window: number;
  batch: number;
  /** CPUs for the load generator (taskset -c). */
  loadCpus: string;
  /** Source sockets of the UDP load (several: a multi-threaded server gets them all). */
  clientSockets?: number;
  loadgenBin: string;
  /** CA certificate clients trust (NTS workloads). */
  caPath?: string;
  /** AEAD offered in NTS-KE. */
  aead: number;
  /** NTS-KE exchanges in flight. */
  keConcurrency: number;
  /** keload.c's binary; the Node NTS-KE client (ke-client.ts) without it. */
  keloadBin?: string;
  /**
   * NTS-KE load put on each server once, unmeasured, before its first run:
   * our daemon's JIT compiles the per-connection path in its first seconds
   * (TurboFan was ~10% of its CPU then), a cost a long-running server does
   * not pay per handshake.
   */
  kePrewarmMs?: number;
}

export interface PrepareParams extends MeasureParams {
  /** Where to put files (request templates). */
  file(name: string): string;
}

/** What prepare() set up, passed to every measure() of that server. */
export interface Prepared {
  loadOptions?: Partial<LoadgenOptions>;
  /** One line for the log (e.g. the negotiated AEAD and packet sizes). */
  note?: string;
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
  /** Requests never answered (NTP), exchanges that timed out (NTS-KE). */
  lost: number;
  /** Answers that did not count: bad, kiss-o'-death, not NTS (NTP); failed exchanges (NTS-KE). */
  invalid: number;
  /** What went wrong, if anything (first messages). */
  errors?: string[];
}

export interface WorkloadDriver {
  /** What one operation is ("resp", "KE"). */
  unit: string;
  /** Unit of the server CPU per operation in the table. */
  cpuUnit: "us" | "ms";
  /** Needs the server to serve NTS (certificate, NTS-KE port). */
  nts: boolean;
  /** One-time set-up against a started server; throws if the server cannot be measured. */
  prepare?(server: RunningServer, p: PrepareParams): Promise<Prepared>;
  measure(server: RunningServer, p: MeasureParams, prepared: Prepared): Promise<Measurement>;
}

async function udpLoad(
  server: RunningServer,
  p: MeasureParams,
  prepared: Prepared,
): Promise<Measurement> {
  const r = await runLoadgen(p.loadgenBin, {
    host: server.host,
    port: server.port,
    durationMs: p.durationMs,
    warmupMs: p.warmupMs,
    window: p.window,
    batch: p.batch,
    serverPid: server.pid,
    cpus: p.loadCpus,
    sockets: p.clientSockets,
    ...prepared.loadOptions,
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
    invalid: r.invalid + r.kod + r.nts_bad,
  };
}

const ntp: WorkloadDriver = {
  unit: "resp",
  cpuUnit: "us",
  nts: false,
  measure: udpLoad,
};

const nts: WorkloadDriver = {
  unit: "resp",
  cpuUnit: "us",
  nts: true,
  async prepare(server, p) {
    if (server.kePort === undefined || p.caPath === undefined) {
      throw new Error("the server was started without NTS");
    }
    const t = await buildNtsTemplates({
      host: server.host,
      kePort: server.kePort,
      ntpPort: server.port,
      caPath: p.caPath,
      aead: p.aead,
      count: p.window,
      file: p.file("nts-requests.bin"),
    });
    return {
      loadOptions: { requestsFile: t.file, requestLength: t.requestLength, nts: true },
      note:
        `AEAD ${t.aead}, ${t.cookies} cookies of ${t.cookieLength} octets, request ${t.requestLength} ` +
        `octets, reply ${t.replyLength} octets, ${t.verified}/${t.count} replies verified`,
    };
  },
  measure: udpLoad,
};

const ntsKe: WorkloadDriver = {
  unit: "KE",
  cpuUnit: "ms",
  nts: true,
  async prepare(server, p) {
    if (server.kePort === undefined || p.caPath === undefined) {
      throw new Error("the server was started without NTS");
    }
    if (!p.kePrewarmMs) return {};
    const r = await runKeLoad({
      host: server.host,
      port: server.kePort,
      caPath: p.caPath,
      durationMs: p.kePrewarmMs,
      concurrency: p.keConcurrency,
      aead: p.aead,
      cpus: p.loadCpus,
      keloadBin: p.keloadBin,
    });
    return { note: `warmed up with ${r.handshakes} exchanges in ${p.kePrewarmMs / 1000} s` };
  },
  async measure(server, p) {
    if (server.kePort === undefined || p.caPath === undefined) {
      throw new Error("the server was started without NTS");
    }
    const r = await runKeLoad({
      host: server.host,
      port: server.kePort,
      caPath: p.caPath,
      durationMs: p.durationMs,
      warmupMs: p.warmupMs,
      concurrency: p.keConcurrency,
      aead: p.aead,
      serverPid: server.pid,
      cpus: p.loadCpus,
      keloadBin: p.keloadBin,
    });
    const serverCpu = r.server_cpu_s ?? NaN;
    return {
      rate: r.rate,
      cpuUsPerOp: r.handshakes > 0 ? (serverCpu / r.handshakes) * 1e6 : NaN,
      serverCpuPct: (serverCpu / r.elapsed_s) * 100,
      loadgenCpuPct: (r.loadgen_cpu_s / r.elapsed_s) * 100,
      coreBusyPct: r.cpu_busy.map((x) => x * 100),
      sent: r.handshakes + r.failed,
      ok: r.handshakes,
      lost: r.timeouts,
      invalid: r.failed - r.timeouts,
      errors: r.errors,
    };
  },
};

export const workloads: Record<WorkloadName, WorkloadDriver> = { ntp, nts, "nts-ke": ntsKe };
