// Builds and runs the C load generator (bench/loadgen.c). See the comment at
// the top of loadgen.c for what it sends and counts.
import { runCommand } from "../test/helpers/process.js";
import { buildCProgram } from "./build-c.js";

/** Compiles bench/loadgen.c into bench/build/ unless the binary is up to date; throws if cc fails. */
export async function buildLoadgen(): Promise<string> {
  const built = await buildCProgram("loadgen");
  if ("error" in built) throw new Error(built.error);
  return built.bin;
}

export interface LoadgenOptions {
  port: number;
  /** Loopback IPv4 address (default 127.0.0.1). */
  host?: string;
  /** Measured duration. */
  durationMs: number;
  /** Load before measuring starts (JIT warm-up, queues filled). */
  warmupMs?: number;
  /** Requests kept outstanding (default 64). */
  window?: number;
  /** sendmmsg/recvmmsg batch (default 16). */
  batch?: number;
  /** A request unanswered this long is lost and its slot reused (default 500 ms). */
  timeoutMs?: number;
  /** Source sockets (ports) the requests are spread over (default 1). */
  sockets?: number;
  /** Server PID whose CPU time (utime+stime, all threads) is measured. */
  serverPid?: number;
  /** Prebuilt requests (template mode, e.g. NTS): file and length of each. */
  requestsFile?: string;
  requestLength?: number;
  /**
   * Template mode with NTS requests: a reply counts as valid only if it also
   * echoes the request's Unique Identifier and carries an NTS Authenticator.
   */
  nts?: boolean;
  /** CPUs to pin the load generator to (taskset -c). */
  cpus?: string;
  /** At most this many requests a second (default: as fast as the window allows). */
  rate?: number;
  /** Loopback source address (default: the kernel's choice, 127.0.0.1). */
  bind?: string;
  /** Send only datagrams a server must drop (see loadgen.c); every reply is "invalid". */
  garbage?: boolean;
}

/** What loadgen.c prints. */
export interface LoadgenResult {
  sent: number;
  valid: number;
  /** Valid but kiss-o'-death (stratum 0). */
  kod: number;
  /** Replies that were not mode 4 or matched no request. */
  invalid: number;
  /** Replies to requests already counted lost. */
  late: number;
  /** With `nts`: replies that match a request but lack its UID or an NTS Authenticator. */
  nts_bad: number;
  lost: number;
  send_errors: number;
  elapsed_s: number;
  /** valid / elapsed_s. */
  rate: number;
  /** Server CPU seconds over the interval (-1 without serverPid). */
  server_cpu_s: number;
  loadgen_cpu_s: number;
  window: number;
  batch: number;
  /** Per-CPU fraction busy over the interval (from /proc/stat). */
  cpu_busy: number[];
  /** Per-CPU fraction in softirq (loopback packet delivery lands here, not in any process). */
  cpu_softirq: number[];
  /** With `garbage`: sent datagrams by kind [short, wrong mode, bad framing, oversize]. */
  garbage_sent: [number, number, number, number];
}

export async function runLoadgen(bin: string, o: LoadgenOptions): Promise<LoadgenResult> {
  const args = [
    "--host",
    o.host ?? "127.0.0.1",
    "--port",
    String(o.port),
    "--duration-ms",
    String(o.durationMs),
    "--warmup-ms",
    String(o.warmupMs ?? 0),
    "--window",
    String(o.window ?? 64),
    "--batch",
    String(o.batch ?? 16),
    "--timeout-ms",
    String(o.timeoutMs ?? 500),
  ];
  if (o.serverPid !== undefined) args.push("--pid", String(o.serverPid));
  if (o.rate !== undefined) args.push("--rate", String(o.rate));
  if (o.bind !== undefined) args.push("--bind", o.bind);
  if (o.garbage) args.push("--garbage");
  if (o.sockets !== undefined) args.push("--sockets", String(o.sockets));
  if (o.requestsFile !== undefined) {
    args.push("--requests", o.requestsFile, "--req-len", String(o.requestLength ?? 48));
    if (o.nts) args.push("--nts");
  }
  if (o.rate !== undefined) args.push("--rate", String(o.rate));
  const r = await runCommand(bin, args, {
    cpus: o.cpus,
    timeoutMs: o.durationMs + (o.warmupMs ?? 0) + 10000,
  });
  if (r.timedOut || r.code !== 0) {
    throw new Error(`loadgen failed (${r.timedOut ? "timed out" : `code ${r.code}`}): ${r.stderr}`);
  }
  return JSON.parse(r.stdout) as LoadgenResult;
}
