// T3 to wire, by hand (issue #8): how long after a server's transmit timestamp
// (T3) its reply is seen on `lo`, for chrony and for our daemon, plain NTP and
// NTS, on an idle server and at half load.
//
//   node --import tsx bench/t3-wire.ts [--daemon ENTRY] [--seconds 3] [--idle-rate 50]
//        [--targets chrony,ntpd-ts] [--workloads ntp,nts] [--runs 1]
//
// Each server is started as `npm run bench` starts it (targets.ts: pinned to
// CPU 0, NTS with a throw-away PKI). Requests come from a pacing sender in a
// child process on CPU 1: plain 48-octet requests, or NTS requests built with
// the real client code after one NTS-KE (nts.ts, replayed unchanged, as the
// load generator does). "idle": --idle-rate requests a second, one at a time;
// "half": half the rate the load generator reaches with 64 requests in flight
// (measured first, per server and workload), sent evenly. dumpcap captures
// the server's replies on lo (kernel time stamps, CLOCK_REALTIME, the clock T3
// is read from); each reply gives frame time minus the T3 it carries. Printed:
// median, p90, p99 and max in microseconds, and how many replies. With --daemon
// the entry of another checkout (e.g. a `git archive` of the baseline, its addon
// built) is measured instead of this one's.
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { makeTempDir, type TempDir } from "../test/helpers/tmp.js";
import { spawnProcess } from "../test/helpers/process.js";
import { buildLoadgen, runLoadgen } from "./loadgen.js";
import { buildNtsTemplates, makeBenchPki } from "./nts.js";
import { defaultDaemonEntry, targets, type RunningServer } from "./targets.js";

const { values: args } = parseArgs({
  options: {
    daemon: { type: "string" },
    seconds: { type: "string", default: "3" },
    "idle-rate": { type: "string", default: "50" },
    targets: { type: "string", default: "chrony,ntpd-ts" },
    workloads: { type: "string", default: "ntp,nts" },
    runs: { type: "string", default: "1" },
    /** Also print how replies were grouped into flushes (ours; see flushStats). */
    flushes: { type: "boolean", default: false },
  },
});
const seconds = Number(args.seconds);
const idleRate = Number(args["idle-rate"]);
const runs = Number(args.runs);
const daemonEntry = args.daemon ?? defaultDaemonEntry;
const wanted = new Set(args.targets.split(","));
const workloadList = args.workloads.split(",") as ("ntp" | "nts")[];
if (!(
  seconds > 0 &&
  seconds <= 60 &&
  idleRate > 0 &&
  idleRate <= 10000 &&
  runs >= 1 &&
  runs <= 9
)) {
  throw new RangeError("--seconds in (0, 60], --idle-rate in (0, 10000], --runs in [1, 9]");
}

const NTP_UNIX_OFFSET = 2208988800n;

/** Frame times (ns since the Unix epoch) and UDP payloads of a pcapng file (Ethernet/IPv4). */
function readPcapng(buf: Buffer): { ns: bigint; payload: Buffer }[] {
  const out: { ns: bigint; payload: Buffer }[] = [];
  const resolutions: bigint[] = [];
  let o = 0;
  while (o + 12 <= buf.length) {
    const type = buf.readUInt32LE(o);
    const length = buf.readUInt32LE(o + 4);
    if (length < 12 || o + length > buf.length) break;
    if (type === 1) {
      // Interface description: options after 8 octets of fixed fields; if_tsresol is code 9.
      let p = o + 16;
      let units = 1_000_000n; // default: microseconds
      while (p + 4 <= o + length - 4) {
        const code = buf.readUInt16LE(p);
        const n = buf.readUInt16LE(p + 2);
        if (code === 0) break;
        if (code === 9) {
          const r = buf[p + 4]!;
          units = r & 0x80 ? 2n ** BigInt(r & 0x7f) : 10n ** BigInt(r);
        }
        p += 4 + ((n + 3) & ~3);
      }
      resolutions.push(units);
    } else if (type === 6) {
      const iface = buf.readUInt32LE(o + 8);
      const ts = (BigInt(buf.readUInt32LE(o + 12)) << 32n) | BigInt(buf.readUInt32LE(o + 16));
      const captured = buf.readUInt32LE(o + 20);
      const frame = buf.subarray(o + 28, o + 28 + captured);
      const units = resolutions[iface] ?? 1_000_000n;
      const ns = (ts * 1_000_000_000n) / units;
      // Ethernet (lo) + IPv4 + UDP.
      if (frame.length >= 14 + 20 + 8 && frame.readUInt16BE(12) === 0x0800) {
        const ihl = (frame[14]! & 0x0f) * 4;
        out.push({ ns, payload: frame.subarray(14 + ihl + 8) });
      }
    }
    o += length;
  }
  return out;
}

/**
 * Replies grouped by the flush that sent them (consecutive frames whose T3s are
 * within 3 µs: one flush stamps a run of plain replies nanoseconds apart; NTS replies,
 * sealed and sent one by one, always count as alone): the share
 * of replies sent alone, and the median T3-to-wire of first and later replies.
 */
function flushStats(frames: { ns: bigint; payload: Buffer }[]): string {
  const t3s: { t3: bigint; us: number }[] = [];
  for (const f of frames) {
    if (f.payload.length < 48 || f.payload.readUInt32BE(40) === 0) continue;
    const sec = BigInt(f.payload.readUInt32BE(40));
    const frac = BigInt(f.payload.readUInt32BE(44));
    const t3 = (sec - NTP_UNIX_OFFSET) * 1_000_000_000n + ((frac * 1_000_000_000n) >> 32n);
    t3s.push({ t3, us: Number(f.ns - t3) / 1000 });
  }
  let alone = 0;
  const first: number[] = [];
  const later: number[] = [];
  for (let i = 0; i < t3s.length;) {
    let j = i + 1;
    while (j < t3s.length && t3s[j]!.t3 - t3s[j - 1]!.t3 < 3000n) j++;
    if (j - i === 1) alone++;
    first.push(t3s[i]!.us);
    for (let k = i + 1; k < j; k++) later.push(t3s[k]!.us);
    i = j;
  }
  first.sort((a, b) => a - b);
  later.sort((a, b) => a - b);
  return (
    `alone ${((alone / Math.max(1, t3s.length)) * 100).toFixed(0)}%, first of flush ${quantile(first, 0.5).toFixed(1)}, ` +
    `later ${quantile(later, 0.5).toFixed(1)} (n ${later.length})`
  );
}

/** frame time − T3 in µs for each captured reply with a T3. */
function t3ToWire(frames: { ns: bigint; payload: Buffer }[]): number[] {
  const us: number[] = [];
  for (const f of frames) {
    if (f.payload.length < 48) continue;
    const sec = BigInt(f.payload.readUInt32BE(40));
    const frac = BigInt(f.payload.readUInt32BE(44));
    if (sec === 0n) continue; // a kiss-o'-death
    const t3 = (sec - NTP_UNIX_OFFSET) * 1_000_000_000n + ((frac * 1_000_000_000n) >> 32n);
    us.push(Number(f.ns - t3) / 1000);
  }
  return us;
}

const quantile = (sorted: number[], q: number): number =>
  sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/**
 * The pacing sender, a child process on CPU 1: `rate` requests a second for
 * `ms`, cycling through the requests in `file` (`length` octets each), evenly
 * spaced (a spin on the monotonic clock; sleeps when the gap is long).
 */
const SENDER = `
const dgram = require("node:dgram");
const fs = require("node:fs");
const [file, length, host, port, rate, ms] = process.argv.slice(1);
const all = fs.readFileSync(file);
const n = Math.floor(all.length / Number(length));
const s = dgram.createSocket("udp4");
s.on("message", () => {});
const gap = 1e9 / Number(rate);
const start = process.hrtime.bigint();
let sent = 0;
function tick() {
  const now = Number(process.hrtime.bigint() - start);
  if (now > Number(ms) * 1e6) { s.close(); console.log(JSON.stringify({ sent })); return; }
  while (sent * gap <= now) {
    const i = sent % n;
    s.send(all.subarray(i * Number(length), (i + 1) * Number(length)), Number(port), host);
    sent++;
  }
  const wait = sent * gap - now;
  if (wait > 2e6) setTimeout(tick, wait / 1e6 - 1); else setImmediate(tick);
}
tick();
`;

async function capture(
  server: RunningServer,
  dir: TempDir,
  requests: { file: string; length: number },
  rate: number,
): Promise<number[]> {
  const file = dir.file(`cap-${Date.now()}.pcapng`);
  const dumpcap = await spawnProcess(
    "dumpcap",
    [
      "-q",
      "-i",
      "lo",
      "-s",
      "128",
      "-f",
      `udp and src host ${server.host} and src port ${server.port}`,
      "-w",
      file,
    ],
    { name: "dumpcap", cpus: "1" },
  );
  await dumpcap
    .waitForOutput(/File:|Capturing/, 5000)
    .catch(() => new Promise((r) => setTimeout(r, 500)));
  await new Promise((r) => setTimeout(r, 300));
  const sender = spawn(
    "taskset",
    [
      "-c",
      "1",
      process.execPath,
      "-e",
      SENDER,
      requests.file,
      String(requests.length),
      server.host,
      String(server.port),
      String(rate),
      String(seconds * 1000),
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  await new Promise<void>((resolve) => sender.on("exit", () => resolve()));
  await new Promise((r) => setTimeout(r, 200));
  await dumpcap.stop(3000);
  const frames = readPcapng(await readFile(file));
  if (args.flushes) console.log(`   flushes: ${flushStats(frames)}`);
  return t3ToWire(frames);
}

async function main(): Promise<void> {
  const dir = await makeTempDir("t3-wire-");
  const loadgenBin = await buildLoadgen();
  const pki = await makeBenchPki(dir);
  const plainFile = dir.file("plain.bin");
  {
    const plain = Buffer.alloc(48 * 64);
    for (let i = 0; i < 64; i++) {
      plain[i * 48] = 0x23;
      plain.writeUInt32BE(0x12345678 + i, i * 48 + 40);
    }
    await (await import("node:fs/promises")).writeFile(plainFile, plain);
  }
  try {
    for (const target of targets.filter((t) => wanted.has(t.name))) {
      const server = await target.start({
        dir,
        serverCpus: "0",
        daemonEntry,
        nts: { chainPath: pki.chainPath, keyPath: pki.keyPath },
      });
      try {
        for (const workload of workloadList) {
          let requests = { file: plainFile, length: 48 };
          let loadOptions = {};
          if (workload === "nts") {
            const t = await buildNtsTemplates({
              host: server.host,
              kePort: server.kePort!,
              ntpPort: server.port,
              caPath: pki.caPath,
              aead: 15,
              count: 64,
              file: dir.file(`${target.name}-nts.bin`),
            });
            requests = { file: t.file, length: t.requestLength };
            loadOptions = { requestsFile: t.file, requestLength: t.requestLength, nts: true };
          }
          const full = await runLoadgen(loadgenBin, {
            host: server.host,
            port: server.port,
            durationMs: 2000,
            warmupMs: 500,
            window: 64,
            batch: 16,
            cpus: "1",
            serverPid: server.pid,
            ...loadOptions,
          });
          const cpuUs = full.server_cpu_s >= 0 ? (full.server_cpu_s / full.valid) * 1e6 : NaN;
          for (const [load, rate] of [
            ["idle", idleRate],
            ["half", Math.round(full.rate / 2)],
          ] as const) {
            for (let run = 0; run < runs; run++) {
              const us = (await capture(server, dir, requests, rate)).sort((a, b) => a - b);
              console.log(
                `${target.name.padEnd(8)} ${workload.padEnd(4)} ${load.padEnd(5)} rate ${String(rate).padStart(6)}/s` +
                  `  n ${String(us.length).padStart(6)}  median ${quantile(us, 0.5).toFixed(1).padStart(7)}` +
                  `  p90 ${quantile(us, 0.9).toFixed(1).padStart(7)}  p99 ${quantile(us, 0.99).toFixed(1).padStart(7)}` +
                  `  max ${(us.at(-1) ?? NaN).toFixed(1).padStart(8)} us` +
                  `   (full load: ${Math.round(full.rate)}/s, ${cpuUs.toFixed(2)} us CPU/resp)`,
              );
            }
          }
        }
      } finally {
        await server.stop();
      }
    }
  } finally {
    await dir.cleanup();
  }
}

await main();
