// What interleaved mode gains (docs/interleaved.md): the same replies measured
// with the basic T3 and with the wire T3, from ours and from chrony, idle and
// under load, on loopback.
//
//   npm run bench:interleaved                              # idle and 20000 requests/s
//   npm run bench:interleaved -- --rates 0,10000,40000 --seconds 10
//
// Each server (chronyd -x, and our daemon from dist/) is pinned to CPU 0, the load
// (bench/loadgen.c, plain requests at --rates a second) to CPU 1. A probe on the
// addon's sockets (kernel TX and RX timestamps) sends pairs of requests, every
// --interval-ms: the first names no reply the server knows (an origin with the
// lowest bit set, receive ≠ transmit: interleaved form) and gets a basic reply,
// whose TX timestamp the server keeps; the second names that reply and gets its
// wire T3. So each pair gives one exchange measured both ways: T1 (our kernel TX
// time), T2, T3 (basic, then wire), T4 (our kernel RX time). Client and server
// read the same clock, so the true offset is 0 and each offset is its error.
// Reported per server and load: median and p95 |offset| and the median delay, both
// ways, and the median of wire T3 − basic T3 (what basic mode misses).
import { parseArgs } from "node:util";

import { decodeHeader } from "../src/proto/packet/header.js";
import type { NtpHeader } from "../src/proto/packet/types.js";
import { NtpTimestamp, offsetAndDelay } from "../src/proto/time.js";
import { createUdpSocket, type TimestampedUdpSocket } from "../src/daemon/native/udp.js";
import { getAddon } from "../src/daemon/native/addon.js";
import { makeTempDir } from "../test/helpers/tmp.js";
import { ensureDistBuilt } from "./dist.js";
import { buildLoadgen, runLoadgen } from "./loadgen.js";
import { defaultDaemonEntry, SkipTarget, targets, type RunningServer } from "./targets.js";
import { clientRequest } from "../test/helpers/ntp-request.js";

const { values } = parseArgs({
  options: {
    rates: { type: "string", default: "0,20000" },
    seconds: { type: "string", default: "6" },
    "interval-ms": { type: "string", default: "10" },
    help: { type: "boolean", short: "h", default: false },
  },
});
if (values.help) {
  console.log("npm run bench:interleaved -- [--rates 0,20000] [--seconds 6] [--interval-ms 10]");
  process.exit(0);
}
const rates = values.rates.split(",").map(Number);
const seconds = Number(values.seconds);
const intervalMs = Number(values["interval-ms"]);

interface Sample {
  basicOffset: number;
  wireOffset: number;
  basicDelay: number;
  wireDelay: number;
  sendPath: number;
}

const header = clientRequest;

let counter = 1;
const unique = (odd: boolean): NtpTimestamp =>
  new NtpTimestamp(0x40000000 + counter++, ((Math.random() * 2 ** 32) & ~1) | (odd ? 1 : 0));

interface Answer {
  h: NtpHeader;
  t1: NtpTimestamp;
  t4: NtpTimestamp;
}

/** One request on `socket`; its kernel T1 and the reply with its kernel T4 (null: none in 200 ms). */
function ask(socket: TimestampedUdpSocket, bytes: Uint8Array, id: number): Promise<Answer | null> {
  return new Promise((resolve) => {
    let t1: NtpTimestamp | null = null;
    let reply: { h: NtpHeader; t4: NtpTimestamp } | null = null;
    const done = () => {
      if (t1 !== null && reply !== null) {
        clearTimeout(timer);
        resolve({ ...reply, t1 });
      }
    };
    const timer = setTimeout(() => resolve(null), 200);
    socket.onTxTimestamp((sec, nsec, sendId) => {
      if (sendId === id) t1 = NtpTimestamp.fromUnix(sec, nsec);
      done();
    });
    socket.onMessage((data, length, _a, _p, sec, nsec) => {
      reply = { h: decodeHeader(data.subarray(0, length)), t4: NtpTimestamp.fromUnix(sec, nsec) };
      done();
    });
    socket.send(bytes);
  });
}

async function probe(server: RunningServer, durationMs: number): Promise<Sample[]> {
  const socket = createUdpSocket(4, { implementation: "addon", txTimestamps: true });
  await socket.bind("127.0.0.1", 0);
  await socket.connect(server.host, server.port);
  const samples: Sample[] = [];
  let sends = 0;
  const end = Date.now() + durationMs;
  try {
    while (Date.now() < end) {
      const xmt = unique(false);
      const first = await ask(
        socket,
        header({
          originTimestamp: unique(true),
          receiveTimestamp: unique(false),
          transmitTimestamp: xmt,
        }),
        sends++,
      );
      if (first === null || !first.h.originTimestamp.equals(xmt)) continue;
      const token = unique(false);
      const second = await ask(
        socket,
        header({
          originTimestamp: first.h.receiveTimestamp,
          receiveTimestamp: token,
          transmitTimestamp: unique(false),
        }),
        sends++,
      );
      if (second === null || !second.h.originTimestamp.equals(token)) continue;
      const t2 = first.h.receiveTimestamp;
      const basic = offsetAndDelay(first.t1, t2, first.h.transmitTimestamp, first.t4);
      const wire = offsetAndDelay(first.t1, t2, second.h.transmitTimestamp, first.t4);
      samples.push({
        basicOffset: basic.offset,
        wireOffset: wire.offset,
        basicDelay: basic.delay,
        wireDelay: wire.delay,
        sendPath: second.h.transmitTimestamp.diffSeconds(first.h.transmitTimestamp),
      });
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  } finally {
    socket.close();
  }
  return samples;
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

const us = (s: number) => (s * 1e6).toFixed(1).padStart(7);

async function main(): Promise<void> {
  if (getAddon() === null)
    throw new Error("the native addon is needed (node scripts/build-addon.mjs)");
  if ((await ensureDistBuilt()) === "built") console.log("built dist/ (it was older than src/)");
  const loadgen = await buildLoadgen();
  console.log(
    `$ npm run bench:interleaved -- --rates ${values.rates} --seconds ${seconds} --interval-ms ${intervalMs}`,
  );
  console.log(
    "server   load/s  pairs | |offset| basic med/p95  wire med/p95 (us) | delay basic  wire (us) | wire-basic T3 med (us)",
  );
  for (const target of targets.filter((t) => !t.optIn)) {
    const dir = await makeTempDir("ntpd-ts-xleave-bench-");
    let server: RunningServer;
    try {
      server = await target.start({ dir, serverCpus: "0", daemonEntry: defaultDaemonEntry });
    } catch (e) {
      if (e instanceof SkipTarget) {
        console.log(`${target.name}: skipped: ${e.message}`);
        await dir.cleanup();
        continue;
      }
      throw e;
    }
    try {
      for (const rate of rates) {
        const load =
          rate > 0
            ? runLoadgen(loadgen, {
                port: server.port,
                durationMs: seconds * 1000 + 1000,
                rate,
                cpus: "1",
                window: 256,
              })
            : Promise.resolve(null);
        await new Promise((r) => setTimeout(r, rate > 0 ? 500 : 0));
        const samples = await probe(server, seconds * 1000);
        const result = await load;
        const abs = (k: keyof Sample) => samples.map((s) => Math.abs(s[k]));
        const achieved = result === null ? 0 : Math.round(result.rate);
        console.log(
          `${target.name.padEnd(8)} ${String(achieved).padStart(6)} ${String(samples.length).padStart(6)} |` +
            `        ${us(quantile(abs("basicOffset"), 0.5))} ${us(quantile(abs("basicOffset"), 0.95))}` +
            `  ${us(quantile(abs("wireOffset"), 0.5))} ${us(quantile(abs("wireOffset"), 0.95))}      |` +
            ` ${us(
              quantile(
                samples.map((s) => s.basicDelay),
                0.5,
              ),
            )} ${us(
              quantile(
                samples.map((s) => s.wireDelay),
                0.5,
              ),
            )}   |` +
            ` ${us(
              quantile(
                samples.map((s) => s.sendPath),
                0.5,
              ),
            )}`,
        );
      }
    } finally {
      await server.stop();
      await dir.cleanup();
    }
  }
}

await main();
// The addon's sockets may keep the loop alive a moment; the loadgen is done.
process.exit(0);
