// Runs an NTS-KE load generator as a child process pinned to the load CPU,
// and returns what it measured: bench/keload.c (OpenSSL, about 0.5 ms of
// client CPU per exchange here) when it compiles, else bench/ke-client.ts
// (our own NTS-KE client on node:tls, about 1.4 ms per exchange). Both print
// the same JSON object.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildCProgram } from "./build-c.js";
import { runCommand } from "../test/helpers/process.js";

const here = dirname(fileURLToPath(import.meta.url));
const NODE_CLIENT = join(here, "ke-client.ts");

/**
 * Compiles bench/keload.c (needs OpenSSL's headers: libssl-dev) into
 * bench/build/ unless the binary is up to date. Returns its path, or the
 * compiler's complaint.
 */
export function buildKeload(): Promise<{ bin: string } | { error: string }> {
  return buildCProgram("keload", ["-lssl", "-lcrypto"]);
}

export interface KeLoadOptions {
  host?: string;
  port: number;
  /** CA certificate (PEM); the Node client always verifies, keload.c with `verify`. */
  caPath: string;
  durationMs: number;
  warmupMs?: number;
  /** Exchanges in flight at once (default 8). */
  concurrency?: number;
  /** AEAD offered (default 15, AES-SIV-CMAC-256). */
  aead?: number;
  /** Server PID whose CPU time is measured. */
  serverPid?: number;
  /** CPUs to pin the client to (taskset -c). */
  cpus?: string;
  /** keload.c's path (from buildKeload); the Node client without it. */
  keloadBin?: string;
  /** keload.c: verify the server's certificate too (about 0.1 ms more client CPU). */
  verify?: boolean;
}

/** What ke-client.ts and keload.c print. */
export interface KeLoadResult {
  /** Exchanges completed within the measured interval. */
  handshakes: number;
  /** Failed exchanges, timeouts included. */
  failed: number;
  /** Exchanges not complete within the client's timeout. */
  timeouts: number;
  /** The first few failure messages. */
  errors: string[];
  elapsed_s: number;
  /** handshakes / elapsed_s. */
  rate: number;
  /** Server CPU seconds over the interval (null without serverPid). */
  server_cpu_s: number | null;
  loadgen_cpu_s: number;
  cpu_busy: number[];
  latency_ms: { p50: number | null; p99: number | null };
  concurrency: number;
  /** Which client ran. */
  client: string;
}

export async function runKeLoad(o: KeLoadOptions): Promise<KeLoadResult> {
  const common = [
    "--host",
    o.host ?? "127.0.0.1",
    "--port",
    String(o.port),
    "--duration-ms",
    String(o.durationMs),
    "--warmup-ms",
    String(o.warmupMs ?? 0),
    "--concurrency",
    String(o.concurrency ?? 8),
    "--aead",
    String(o.aead ?? 15),
  ];
  if (o.serverPid !== undefined) common.push("--pid", String(o.serverPid));
  const [cmd, args] =
    o.keloadBin !== undefined
      ? [o.keloadBin, [...common, ...(o.verify ? ["--ca", o.caPath] : [])]]
      : [process.execPath, ["--import", "tsx", NODE_CLIENT, ...common, "--ca", o.caPath]];
  const r = await runCommand(cmd, args, {
    cwd: join(here, ".."),
    cpus: o.cpus,
    // Start-up, the run, and (Node client) the last exchanges draining.
    timeoutMs: o.durationMs + (o.warmupMs ?? 0) + 20000,
  });
  if (r.timedOut || r.code !== 0) {
    throw new Error(
      `NTS-KE client failed (${r.timedOut ? "timed out" : `code ${r.code}`}): ${r.stderr}`,
    );
  }
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as KeLoadResult;
}
