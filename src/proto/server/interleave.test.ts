// Interleaved mode, the server's side: the table of TX timestamps and the
// core's decisions (which requests are interleaved, which replies are
// stamped, what an interleaved reply carries), and that nothing else changes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeHeader } from "../packet/header.js";
import { kissCode } from "../packet/kiss.js";
import type { NtpHeader } from "../packet/types.js";
import { NtpTimestamp } from "../time.js";
import { cidrs } from "../../../test/helpers/cidr.js";
import { finishReply, FinishStep } from "./finish.js";
import { INTERLEAVE_SLOTS, SERVER_RECEIVE_MARK, TransmitTimestampTable } from "./interleave.js";
import { NtpServerCore, type NtpServerCoreOptions } from "./server.js";
import { initialSystemState, SystemStateCell } from "../system/system-state.js";
import { clientRequest } from "../../../test/helpers/ntp-request.js";

/** Deterministic xorshift32 words. */
function words(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>>= 0);
  };
}

test("the table gives a T3 only for the exact T2 it was saved with, once", () => {
  const table = new TransmitTimestampTable(16);
  assert.equal(table.slots, 16);
  assert.equal(table.take(5, 7), false);
  table.save(5, 7, 100, 200);
  assert.equal(table.take(5, 6), false, "another fraction");
  assert.equal(table.take(4, 7), false, "another second");
  assert.equal(table.take(5, 7), true);
  assert.deepEqual([table.seconds, table.fraction], [100, 200]);
  assert.equal(table.take(5, 7), false, "taken once");
  // A zero key is "empty": neither saved nor found.
  table.save(0, 0, 1, 1);
  assert.equal(table.take(0, 0), false);
  assert.throws(() => new TransmitTimestampTable(1000), RangeError);
  assert.throws(() => new TransmitTimestampTable(1), RangeError);
  assert.equal(new TransmitTimestampTable().slots, INTERLEAVE_SLOTS);
});

test("a full table forgets entries but never answers with another reply's T3", () => {
  const next = words(0x1234567);
  const table = new TransmitTimestampTable(64);
  const saved = new Map<string, [number, number]>();
  // Ten times as many replies as slots, T2s as a busy server writes them.
  let seconds = 0xe8000000;
  for (let i = 0; i < 640; i++) {
    if (i % 50 === 0) seconds++;
    const fraction = (next() | SERVER_RECEIVE_MARK) >>> 0;
    const t3 = [seconds, next() & ~1] as [number, number];
    table.save(seconds, fraction, t3[0], t3[1] >>> 0);
    saved.set(`${seconds}.${fraction}`, [t3[0], t3[1] >>> 0]);
  }
  let found = 0;
  for (const [key, t3] of saved) {
    const [s, f] = key.split(".").map(Number) as [number, number];
    if (table.take(s, f)) {
      found++;
      assert.deepEqual([table.seconds, table.fraction], t3, key);
    }
  }
  // Direct-mapped: at most one entry per slot survives, and most slots hold one.
  assert.ok(found <= 64 && found > 32, `${found} entries found`);
});

const SYSTEM = new SystemStateCell(initialSystemState({ localStratum: 1, referenceId: "TEST" }));
const RX1 = new NtpTimestamp(0xe8494800, 0x10000000);
const RX2 = new NtpTimestamp(0xe8494801, 0x20000000);
const BASIC_T3 = new NtpTimestamp(0xe8494801, 0x20010000);

function core(options: Partial<NtpServerCoreOptions> = {}): NtpServerCore {
  return new NtpServerCore({ systemState: SYSTEM, interleaved: true, ...options });
}

function request(fields: Partial<NtpHeader>): Uint8Array {
  return clientRequest({
    poll: 6,
    transmitTimestamp: new NtpTimestamp(0x11111111, 0x22222222),
    ...fields,
  });
}

const TOKEN = new NtpTimestamp(0x33333333, 0x44444444);
const XMT = new NtpTimestamp(0x55555555, 0x66666666);

/** Handles `req` at `rx`, finishes a basic reply with BASIC_T3; the decoded reply and finish kind. */
function answer(c: NtpServerCore, req: Uint8Array, rx: NtpTimestamp, address = "192.0.2.1") {
  const out = new Uint8Array(48);
  const d = c.handle(req, req.length, address, rx, out);
  assert.equal(d.action, "reply");
  const kind = d.finish.kind;
  finishReply(out, d.finish, BASIC_T3);
  return { reply: decodeHeader(out), kind };
}

test("a basic request (zero origin) is answered as before and its reply is not stamped", () => {
  const c = core();
  const { reply, kind } = answer(c, request({}), RX1);
  assert.equal(kind, FinishStep.Stamp, "no TxStamp");
  assert.equal(reply.originTimestamp.toBits(), 0x1111111122222222n);
  assert.equal(reply.receiveTimestamp.toBits(), RX1.toBits() | 1n, "T2 marked");
  assert.equal(reply.transmitTimestamp.toBits(), BASIC_T3.toBits() & ~1n, "T3 unmarked");
  assert.equal(c.stats.interleavedPackets, 0);
});

test("an interleaved request gets its named reply's wire T3, once; its own reply is stamped", () => {
  const c = core();
  // A reply whose T2 is RX1 left at `wire` (Unix time of the kernel's TX timestamp).
  const t2 = RX1.toBits() | 1n;
  const t2s = Number(t2 >> 32n);
  const t2f = Number(t2 & 0xffffffffn);
  const wireUnix = { sec: 0xe8494800 - 2208988800, nsec: 62_500_123 };
  c.saveTransmitTimestamp(t2s, t2f, wireUnix.sec, wireUnix.nsec);
  const wire = NtpTimestamp.fromUnix(wireUnix.sec, wireUnix.nsec);

  const xleave = request({
    originTimestamp: new NtpTimestamp(t2s, t2f),
    receiveTimestamp: TOKEN,
    transmitTimestamp: XMT,
  });
  const first = answer(c, xleave, RX2);
  assert.equal(first.kind, FinishStep.TxStamp, "T3 is complete; the reply is stamped");
  assert.equal(first.reply.originTimestamp.toBits(), TOKEN.toBits(), "origin = receive echo");
  assert.equal(first.reply.receiveTimestamp.toBits(), RX2.toBits() | 1n);
  assert.equal(first.reply.transmitTimestamp.toBits(), wire.toBits() & ~1n);
  assert.equal(c.stats.interleavedPackets, 1);
  assert.equal(c.stats.acceptedPackets, 1);

  // The same request again (a retransmission, a replay): the T3 was given once.
  const again = answer(c, xleave, RX2);
  assert.equal(again.kind, FinishStep.Stamp | FinishStep.TxStamp);
  assert.equal(again.reply.originTimestamp.toBits(), XMT.toBits(), "basic: origin = transmit");
  assert.equal(again.reply.transmitTimestamp.toBits(), BASIC_T3.toBits() & ~1n);
  assert.equal(c.stats.interleavedPackets, 1);
});

test("requests that are not in interleaved form are never answered interleaved", () => {
  const c = core();
  const t2 = new NtpTimestamp(RX1.seconds, RX1.fraction | 1);
  const saveT2 = () => c.saveTransmitTimestamp(t2.seconds, t2.fraction, 0x68000000, 5);
  const cases: [string, Uint8Array, number][] = [
    // receive == transmit: chrony's mark of a basic request.
    [
      "receive = transmit",
      request({ originTimestamp: t2, receiveTimestamp: XMT, transmitTimestamp: XMT }),
      FinishStep.Stamp,
    ],
    // An origin without the mark bit echoes none of our T2s (ntpd echoes our T3).
    [
      "origin unmarked",
      request({
        originTimestamp: new NtpTimestamp(t2.seconds, t2.fraction & ~1),
        receiveTimestamp: TOKEN,
        transmitTimestamp: XMT,
      }),
      FinishStep.Stamp,
    ],
    // NTPv3 has no interleaved mode here (chrony: v4 only).
    [
      "version 3",
      request({ version: 3, originTimestamp: t2, receiveTimestamp: TOKEN, transmitTimestamp: XMT }),
      FinishStep.Stamp,
    ],
    // Marked but unknown: basic, and stamped for the next request.
    [
      "unknown T2",
      request({
        originTimestamp: new NtpTimestamp(t2.seconds + 1, t2.fraction),
        receiveTimestamp: TOKEN,
        transmitTimestamp: XMT,
      }),
      FinishStep.Stamp | FinishStep.TxStamp,
    ],
  ];
  for (const [name, req, kind] of cases) {
    saveT2();
    const { reply, kind: got } = answer(c, req, RX2);
    assert.equal(got, kind, name);
    assert.equal(reply.originTimestamp.toBits(), XMT.toBits(), `${name}: basic origin`);
    assert.equal(reply.transmitTimestamp.toBits(), BASIC_T3.toBits() & ~1n, name);
  }
  assert.equal(c.stats.interleavedPackets, 0);
  // The entry was never taken by those: a proper request still finds it.
  const { reply } = answer(
    c,
    request({ originTimestamp: t2, receiveTimestamp: TOKEN, transmitTimestamp: XMT }),
    RX2,
  );
  assert.equal(reply.originTimestamp.toBits(), TOKEN.toBits());
});

test("denied clients get their DENY, unstamped; a core without interleaving never stamps", () => {
  const t2 = new NtpTimestamp(RX1.seconds, RX1.fraction | 1);
  const xleave = request({ originTimestamp: t2, receiveTimestamp: TOKEN, transmitTimestamp: XMT });
  const denying = core({
    policy: { denylist: { filter: cidrs("192.0.2.0/24"), action: "deny" } },
  });
  denying.saveTransmitTimestamp(t2.seconds, t2.fraction, 0x68000000, 5);
  const denied = answer(denying, xleave, RX2);
  assert.equal(denied.kind, 0);
  assert.equal(kissCode(denied.reply), "DENY");
  assert.equal(denied.reply.originTimestamp.toBits(), XMT.toBits());

  const basic = core({ interleaved: false });
  assert.equal(basic.interleaved, false);
  basic.saveTransmitTimestamp(t2.seconds, t2.fraction, 0x68000000, 5); // ignored
  const plain = answer(basic, xleave, RX2);
  assert.equal(plain.kind, FinishStep.Stamp);
  assert.equal(plain.reply.originTimestamp.toBits(), XMT.toBits());
  basic.setInterleaved(true);
  assert.equal(basic.interleaved, true);
  // Turned on later: the earlier timestamp was not kept.
  assert.equal(answer(basic, xleave, RX2).reply.originTimestamp.toBits(), XMT.toBits());
});

test("tables on one shared buffer are one table (the serving threads of a server)", () => {
  const shared = TransmitTimestampTable.sharedBuffer(32);
  const a = new TransmitTimestampTable(32, shared);
  const b = new TransmitTimestampTable(32, shared);
  a.save(9, 11, 300, 400);
  assert.equal(b.take(9, 11), true, "saved by one thread, found by another");
  assert.deepEqual([b.seconds, b.fraction], [300, 400]);
  assert.equal(a.take(9, 11), false, "and given once");
  assert.throws(() => new TransmitTimestampTable(64, shared), RangeError);
  // A slot whose sequence word is odd is being written by another thread: skipped.
  const words = new Uint32Array(shared);
  b.save(13, 15, 500, 600);
  const slot = words.findIndex((w, i) => i % 5 === 1 && w === 13) - 1;
  assert.ok(slot >= 0);
  Atomics.add(words, slot, 1); // a writer in the middle of it
  assert.equal(a.take(13, 15), false, "not read while written");
  a.save(13, 15, 700, 800); // nor overwritten
  Atomics.add(words, slot, 1); // the writer done
  assert.equal(a.take(13, 15), true);
  assert.deepEqual([a.seconds, a.fraction], [500, 600]);
});
