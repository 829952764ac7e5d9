// NTS-KE load generator for `npm run bench`, run as its own process (pinned
// to the load CPU by ke-load.ts): keeps `concurrency` full NTS-KE exchanges
// in flight against one server for a bounded time, each a fresh TLS 1.3
// connection (no session resumption) through our NTS-KE client
// (performKeyExchange: certificate check, ALPN ntske/1, request, response,
// key export), and counts the completed ones.
//
//   node --import tsx bench/ke-client.ts --port P --ca CA.pem [--host 127.0.0.1]
//        [--duration-ms 3000] [--warmup-ms 500] [--concurrency 8] [--aead 15]
//        [--timeout-ms 5000] [--pid SERVER_PID]
//
// Prints one JSON object (KeLoadResult in ke-load.ts): exchanges completed in
// the measured interval, failures (first messages kept), the server's CPU
// seconds over the interval (with --pid), own CPU, per-CPU busy fractions.
// Only loopback destinations are accepted.
import { isIPv4 } from "node:net";
import { parseArgs } from "node:util";
import { performKeyExchange, TrustStore } from "../src/daemon/nts-ke-client.js";
import { busyBetween, cpuTimes, processCpuSeconds } from "./procstat.js";

const { values: a } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string" },
    ca: { type: "string" },
    "duration-ms": { type: "string", default: "3000" },
    "warmup-ms": { type: "string", default: "500" },
    concurrency: { type: "string", default: "8" },
    aead: { type: "string", default: "15" },
    "timeout-ms": { type: "string", default: "5000" },
    pid: { type: "string" },
  },
  strict: true,
});

function usage(why: string): never {
  console.error(`ke-client: ${why}`);
  process.exit(2);
}

const host = a.host;
if (!isIPv4(host) || !host.startsWith("127.")) usage(`refusing non-loopback host ${host}`);
const port = Number(a.port);
const durationMs = Number(a["duration-ms"]);
const warmupMs = Number(a["warmup-ms"]);
const concurrency = Number(a.concurrency);
const aead = Number(a.aead);
const timeoutMs = Number(a["timeout-ms"]);
const pid = a.pid === undefined ? undefined : Number(a.pid);
if (!Number.isInteger(port) || port < 1 || port > 65535) usage("--port is required");
if (!a.ca) usage("--ca is required");
if (!(durationMs > 0 && durationMs <= 600_000)) usage("bad --duration-ms");
if (!(warmupMs >= 0 && warmupMs <= 600_000)) usage("bad --warmup-ms");
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256)
  usage("bad --concurrency");
if (!(timeoutMs > 0 && timeoutMs <= 60_000)) usage("bad --timeout-ms");

const trust = await TrustStore.fromFile(a.ca);
const t0 = performance.now();
const warmEnd = t0 + warmupMs;
const end = warmEnd + durationMs;

let measuring = warmupMs === 0;
let ok = 0;
let failed = 0;
let timeouts = 0;
const errors: string[] = [];
const latenciesMs: number[] = [];
let server0 = pid === undefined ? NaN : processCpuSeconds(pid);
let self0 = process.cpuUsage();
let cpu0 = cpuTimes();
let mstart = t0;

function startMeasuring(): void {
  if (measuring) return;
  measuring = true;
  ok = failed = timeouts = 0;
  errors.length = 0;
  latenciesMs.length = 0;
  server0 = pid === undefined ? NaN : processCpuSeconds(pid);
  self0 = process.cpuUsage();
  cpu0 = cpuTimes();
  mstart = performance.now();
}

if (!measuring) setTimeout(startMeasuring, warmupMs);

async function worker(): Promise<void> {
  while (performance.now() < end) {
    const started = performance.now();
    try {
      await performKeyExchange({ host, port, trust, aeadAlgorithms: [aead], timeoutMs });
      if (!measuring) continue;
      ok++;
      latenciesMs.push(performance.now() - started);
    } catch (e) {
      if (!measuring) continue;
      failed++;
      if (/no complete answer within/.test((e as Error).message)) timeouts++;
      if (errors.length < 5) errors.push((e as Error).message);
    }
  }
}

// The end of the interval is when the deadline passes, not when the last
// exchanges in flight finish: take the counts and CPU times there, then let
// those exchanges drain.
const sampled = new Promise<{
  t: number;
  ok: number;
  failed: number;
  timeouts: number;
  latencies: number[];
  server: number;
  self: NodeJS.CpuUsage;
  busy: number[];
}>((resolve) =>
  setTimeout(
    () =>
      resolve({
        t: performance.now(),
        ok,
        failed,
        timeouts,
        latencies: [...latenciesMs],
        server: pid === undefined ? NaN : processCpuSeconds(pid),
        self: process.cpuUsage(self0),
        busy: busyBetween(cpu0, cpuTimes()),
      }),
    Math.max(0, end - performance.now()),
  ),
);
await Promise.all(Array.from({ length: concurrency }, () => worker()));
const s = await sampled;
const elapsed = (s.t - mstart) / 1000;
const lat = s.latencies.sort((x, y) => x - y);
const pct = (p: number) =>
  lat.length ? lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! : NaN;
console.log(
  JSON.stringify({
    handshakes: s.ok,
    failed: s.failed,
    timeouts: s.timeouts,
    errors,
    elapsed_s: elapsed,
    rate: s.ok / elapsed,
    server_cpu_s: s.server - server0,
    loadgen_cpu_s: (s.self.user + s.self.system) / 1e6,
    cpu_busy: s.busy,
    latency_ms: { p50: pct(0.5), p99: pct(0.99) },
    concurrency,
    client: "ke-client.ts (node:tls, verifying)",
  }),
);
