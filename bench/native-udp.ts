// Microbenchmark of the native layer, run by hand (not part of the test suite):
//
//   node --import tsx bench/native-udp.ts [seconds-per-echo-run, default 3]
//
// 1. Cost per call: addon clockGettime, clock.ts readRealtime (addon and fallback),
//    process.hrtime.bigint(), Date.now(), addon adjtimeRead (read-only).
// 2. UDP echo on 127.0.0.1, addon vs node:dgram server:
//    a. ping-pong in one process, one datagram in flight: round-trip time;
//    b. a load generator in a child process keeps 64 48-byte requests in flight; the
//       server (this process) echoes each one with sendTo from its handler. Reported:
//       echoes per second and server CPU (user+sys) per echoed packet.
// Every loop is bounded by a count or a deadline; every socket is closed.

import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { getAddon, nativeStatus } from "../src/daemon/native/index.js";
import {
  createFallbackClockReader,
  createNativeClockReader,
  readRealtime,
  type Timespec,
} from "../src/daemon/native/clock.js";
import { createUdpSocket, type TimestampedUdpSocket } from "../src/daemon/native/udp.js";

type Impl = "addon" | "dgram";

const PACKET = 48;
const WINDOW = 64;

/** Best of 5 rounds of n calls (the machine is shared; the minimum is the cost). */
function perCall(name: string, n: number, fn: () => void): void {
  for (let i = 0; i < Math.min(n, 10_000); i++) fn(); // warm up
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / n);
  }
  console.log(`  ${name.padEnd(44)} ${best.toFixed(1).padStart(8)} ns/call`);
}

function clockCosts(): void {
  console.log("cost per call");
  const addon = getAddon();
  const ts: Timespec = { sec: 0, nsec: 0 };
  if (addon) {
    perCall("addon.clockGettime(REALTIME) -> clockBuffer", 1_000_000, () =>
      addon.clockGettime(addon.CLOCK_REALTIME),
    );
    const native = createNativeClockReader(addon);
    perCall("readRealtime(out) via addon", 1_000_000, () => native.readRealtime(ts));
    perCall("readRealtime() via addon, new object", 1_000_000, () => native.readRealtime());
    perCall("addon.adjtimeRead() (modes = 0)", 100_000, () => addon.adjtimeRead());
  }
  const fallback = createFallbackClockReader();
  perCall("readRealtime(out) via fallback (hrtime)", 1_000_000, () => fallback.readRealtime(ts));
  perCall("process.hrtime.bigint()", 1_000_000, () => process.hrtime.bigint());
  perCall("Date.now()", 1_000_000, () => Date.now());
}

function socket(impl: Impl): TimestampedUdpSocket {
  return createUdpSocket(4, { implementation: impl, receiveBufferSize: 1 << 20 });
}

async function pingPong(impl: Impl, seconds: number): Promise<void> {
  const server = socket(impl);
  const client = socket(impl);
  try {
    await server.bind("127.0.0.1", 0);
    server.onMessage((data, length, address, port) => server.sendTo(data, length, address, port));
    await client.bind("127.0.0.1", 0);
    await client.connect("127.0.0.1", server.localAddress().port);
    const payload = Buffer.alloc(PACKET, 0x23);
    const t1: Timespec = { sec: 0, nsec: 0 };
    let rounds = 0;
    let sumUs = 0;
    const deadline = Date.now() + seconds * 1000;
    await new Promise<void>((resolve) => {
      client.onMessage((_d, _l, _a, _p, sec, nsec) => {
        sumUs += ((sec - t1.sec) * 1e9 + (nsec - t1.nsec)) / 1e3;
        rounds++;
        if (Date.now() >= deadline) resolve();
        else client.send(payload, PACKET, t1);
      });
      client.send(payload, PACKET, t1);
    });
    console.log(
      `  ${impl.padEnd(6)} ping-pong: ${rounds} round trips, T1 -> reply receive time ` +
        `${(sumUs / rounds).toFixed(1)} µs mean`,
    );
  } finally {
    client.close();
    server.close();
  }
}

async function loadTest(impl: Impl, seconds: number): Promise<void> {
  const server = socket(impl);
  try {
    await server.bind("127.0.0.1", 0);
    let echoed = 0;
    server.onMessage((data, length, address, port) => {
      echoed++;
      try {
        server.sendTo(data, length, address, port);
      } catch {
        // EAGAIN under load: the client's window shrinks by one; fine for a benchmark
      }
    });
    const self = fileURLToPath(import.meta.url);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", self, "--client", String(server.localAddress().port), String(seconds)],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const killer = setTimeout(() => child.kill(), (seconds + 20) * 1000);
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (c: string) => (out += c));
    // Measure the server only while the client is sending (it prints "start").
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (out.includes("start") || child.exitCode !== null) {
          clearInterval(check);
          resolve();
        }
      }, 1);
    });
    const cpu0 = process.cpuUsage();
    const n0 = echoed;
    const w0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => child.on("close", () => resolve()));
    clearTimeout(killer);
    const wallS = Number(process.hrtime.bigint() - w0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const n = echoed - n0;
    const cpuUs = (cpu.user + cpu.system) / n;
    console.log(
      `  ${impl.padEnd(6)} server: ${n} echoes in ${wallS.toFixed(2)} s = ` +
        `${Math.round(n / wallS)}/s, server CPU ${cpuUs.toFixed(2)} µs/packet ` +
        `(user ${(cpu.user / n).toFixed(2)}, sys ${(cpu.system / n).toFixed(2)})`,
    );
  } finally {
    server.close();
  }
}

async function client(port: number, seconds: number): Promise<void> {
  const s = createUdpSocket(4, { receiveBufferSize: 1 << 20 });
  await s.bind("127.0.0.1", 0);
  await s.connect("127.0.0.1", port);
  const payload = Buffer.alloc(PACKET, 0x24);
  let received = 0;
  let stop = false;
  s.onMessage(() => {
    received++;
    if (!stop) {
      try {
        s.send(payload);
      } catch {
        // EAGAIN: drop
      }
    }
  });
  s.onError(() => {});
  process.stdout.write("start\n");
  for (let i = 0; i < WINDOW; i++) s.send(payload);
  // Refill the window now and then, in case packets were dropped.
  const refill = setInterval(() => {
    for (let i = 0; i < 8; i++) s.send(payload);
  }, 100);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  stop = true;
  clearInterval(refill);
  await new Promise((resolve) => setTimeout(resolve, 50));
  s.close();
  process.stdout.write(`received ${received}\n`);
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  if (args[0] === "--client") {
    await client(Number(args[1]), Number(args[2]));
    return;
  }
  const seconds = Number(args[0] ?? 3);
  console.log(nativeStatus().message);
  console.log(`node ${process.version}, realtime now ${JSON.stringify(readRealtime())}`);
  clockCosts();
  const impls: Impl[] = getAddon() ? ["addon", "dgram"] : ["dgram"];
  console.log("UDP echo on 127.0.0.1");
  for (const impl of impls) await pingPong(impl, Math.min(seconds, 2));
  for (const impl of impls) await loadTest(impl, seconds);
}

await main();
