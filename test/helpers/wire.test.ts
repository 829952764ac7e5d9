// The bench's T3-to-wire measurement (bench/wire.ts): the pcapng parser on
// captures built here (known time stamps, both resolutions, a frame that is not
// NTP), then a real capture of chrony's replies on lo; and loadgen.c's --rate
// pacing, which that measurement relies on.
import { test } from "node:test";
import assert from "node:assert/strict";
import { buildLoadgen, runLoadgen } from "../../bench/loadgen.js";
import { measureT3ToWire, quantile, t3ToWire, wireUnavailable } from "../../bench/wire.js";
import { chronyUnavailable, startChronyServer } from "./chrony.js";
import { freeUdpPort } from "./ports.js";
import { which } from "./process.js";
import { skipIfMissing } from "./skip.js";
import { withTempDir } from "./tmp.js";

const NTP_UNIX = 2208988800;

function block(type: number, body: Buffer): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const len = padded.length + 12;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  padded.copy(b, 8);
  b.writeUInt32LE(len, len - 4);
  return b;
}

function shb(): Buffer {
  const body = Buffer.alloc(16);
  body.writeUInt32LE(0x1a2b3c4d, 0);
  body.writeUInt16LE(1, 4);
  body.writeBigInt64LE(-1n, 8);
  return block(0x0a0d0d0a, body);
}

/** Interface Description Block: Ethernet, with if_tsresol when given. */
function idb(tsresol?: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt16LE(1, 0); // LINKTYPE_ETHERNET, as on lo
  head.writeUInt32LE(128, 4);
  if (tsresol === undefined) return block(1, head);
  const opt = Buffer.alloc(12);
  opt.writeUInt16LE(9, 0);
  opt.writeUInt16LE(1, 2);
  opt[4] = tsresol;
  // opt_endofopt at 8..11 is zero
  return block(1, Buffer.concat([head, opt]));
}

/** An Ethernet + IPv4 + UDP frame carrying an NTP reply with transmit timestamp (sec, frac). */
function ntpFrame(t3Sec: number, t3Frac: number, proto = 17): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip[9] = proto;
  const udp = Buffer.alloc(8);
  const ntp = Buffer.alloc(48);
  ntp[0] = 0x24;
  ntp.writeUInt32BE(t3Sec, 40);
  ntp.writeUInt32BE(t3Frac, 44);
  return Buffer.concat([eth, ip, udp, ntp]);
}

function epb(ts: bigint, frame: Buffer): Buffer {
  const head = Buffer.alloc(20);
  head.writeUInt32LE(0, 0);
  head.writeUInt32LE(Number(ts >> 32n), 4);
  head.writeUInt32LE(Number(ts & 0xffffffffn), 8);
  head.writeUInt32LE(frame.length, 12);
  head.writeUInt32LE(frame.length, 16);
  return block(6, Buffer.concat([head, frame]));
}

test("t3ToWire: frame time minus T3, in microseconds, at nanosecond and microsecond resolution", () => {
  const unix = 1_800_000_000;
  // T3 = unix + 0.25 s; frames 12.5 us and 1 ms later.
  const t3 = ntpFrame(unix + NTP_UNIX, 0x40000000);
  const ns = BigInt(unix) * 1_000_000_000n + 250_000_000n;
  const nano = Buffer.concat([
    shb(),
    idb(9),
    epb(ns + 12_500n, t3),
    epb(ns + 1_000_000n, t3),
    epb(ns, ntpFrame(0, 0, 6)), // TCP: not a reply we can read
  ]);
  const a = t3ToWire(nano);
  assert.deepEqual(a.us, [12.5, 1000]);
  assert.equal(a.unreadable, 1);

  const us = BigInt(unix) * 1_000_000n + 250_000n;
  const micro = Buffer.concat([shb(), idb(), epb(us + 7n, t3)]);
  assert.deepEqual(t3ToWire(micro).us, [7]);

  // A truncated file yields what was complete, and nothing else.
  assert.deepEqual(t3ToWire(nano.subarray(0, nano.length - 5)).us, [12.5, 1000]);
});

test("quantile is the nearest rank", () => {
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i);
  assert.equal(quantile(xs, 0.5), 50);
  assert.equal(quantile(xs, 0.99), 99);
  assert.equal(quantile([3], 0.99), 3);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});

test("loadgen --rate paces requests, and T3 to wire measures chrony's replies on lo", async (t) => {
  const missing =
    chronyUnavailable() ??
    (which("cc") ? undefined : "no C compiler (cc)") ??
    wireUnavailable() ??
    (process.getuid?.() === 0 ? undefined : "capturing on lo needs root");
  if (skipIfMissing(t, missing)) return;
  const bin = await buildLoadgen();
  await withTempDir(async (dir) => {
    const port = await freeUdpPort();
    const server = await startChronyServer({ port, dir });
    try {
      const paced = await runLoadgen(bin, { port, durationMs: 1000, window: 8, rate: 50 });
      // Pacing is an upper bound (a slow machine sends fewer, never more).
      assert.ok(paced.sent <= 50 * paced.elapsed_s + 2, `${paced.sent} sent at --rate 50`);
      assert.ok(paced.valid >= 10, `only ${paced.valid} valid replies`);

      const w = await measureT3ToWire({
        server: { pid: server.pid, host: "127.0.0.1", port, stop: async () => {} },
        loadgenBin: bin,
        rate: 100,
        warmupMs: 200,
        seconds: 1,
        maxPackets: 1000,
        window: 8,
        cpus: "0",
        file: dir.file("capture.pcapng"),
      });
      assert.ok(w.us.length >= 10, `only ${w.us.length} replies captured`);
      assert.equal(w.unreadable, 0);
      // Same clock for T3 and the capture: a reply is on lo after its T3 was read, and
      // (on any machine that is not stalled for seconds) well within a second.
      const med = quantile(w.us, 0.5);
      assert.ok(med > 0 && med < 1e6, `median T3 to wire ${med} us`);
    } finally {
      await server.stop();
    }
  });
});
