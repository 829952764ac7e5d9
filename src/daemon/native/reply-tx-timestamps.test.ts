// The addon socket's reply TX timestamps (option replyTxTimestamps; interleaved
// mode): only replies whose finish asks are stamped; each stamp comes with the
// T2 of its reply, lies between the socket's T3 reading and the client's kernel
// receive time, and is read at the send, without a POLLERR wakeup (loopback).
// Replies that do not ask cost nothing: no stamp, no wakeup.
import assert from "node:assert/strict";
import { afterEach, it } from "node:test";
import { writeTimestamp } from "../../proto/packet/header.js";
import { FinishStep, ReplyFinish } from "../../proto/server/finish.js";
import { NtpTimestamp } from "../../proto/time.js";
import { loadAddon } from "./addon.js";
import { NativeReplyFinish } from "./reply-finish.js";
import { createUdpSocket, type TimestampedUdpSocket } from "./udp.js";
import { waitFor } from "./udp.contract.js";

const { addon, reason } = loadAddon();
const noAddon = addon ? false : `addon not loaded: ${reason}`;

const sockets: TimestampedUdpSocket[] = [];
afterEach(() => {
  for (const s of sockets.splice(0)) s.close();
});

interface Stamp {
  at: NtpTimestamp;
  t2s: number;
  t2f: number;
}

/** A reply-mode server that echoes the request with T2 = the request's octets 32..39. */
async function server(ask: (i: number) => number) {
  const s = createUdpSocket(4, { implementation: "addon", replyTxTimestamps: true });
  sockets.push(s);
  assert.equal(s.replyTxTimestamps, true);
  const stamps: Stamp[] = [];
  s.onTxTimestamp((sec, nsec, _id, t2s, t2f) =>
    stamps.push({ at: NtpTimestamp.fromUnix(sec, nsec), t2s: t2s!, t2f: t2f! }),
  );
  const reply = new Uint8Array(48);
  const wire = new NativeReplyFinish();
  const finish = new ReplyFinish();
  let i = 0;
  s.onRequest(
    (data, length) => {
      reply.set(data.subarray(0, length));
      reply[0] = 0x24;
      finish.kind = FinishStep.Stamp | ask(i++);
      assert.ok(wire.take(finish));
      return length;
    },
    reply,
    wire.bytes,
  );
  await s.bind("127.0.0.1", 0);
  return { socket: s, stamps };
}

async function client(port: number) {
  const c = createUdpSocket(4, { implementation: "addon" });
  sockets.push(c);
  const replies: { t2: NtpTimestamp; t3: NtpTimestamp; t4: NtpTimestamp }[] = [];
  c.onMessage((data, _length, _a, _p, sec, nsec) =>
    replies.push({
      t2: new NtpTimestamp(data.readUInt32BE(32), data.readUInt32BE(36)),
      t3: new NtpTimestamp(data.readUInt32BE(40), data.readUInt32BE(44)),
      t4: NtpTimestamp.fromUnix(sec, nsec),
    }),
  );
  await c.bind("127.0.0.1", 0);
  await c.connect("127.0.0.1", port);
  return { socket: c, replies };
}

function request(i: number): Uint8Array {
  const r = new Uint8Array(48);
  r[0] = 0x23;
  // A T2 that names the reply: distinct per request, lowest bit set.
  writeTimestamp(r, 32, new NtpTimestamp(0xe8000000 + i, 0x10000001 + 2 * i));
  return r;
}

it(
  "replies that ask are stamped with their T2, between their T3 and their arrival",
  { skip: noAddon },
  async () => {
    const s = await server((i) => (i % 2 === 0 ? FinishStep.TxStamp : 0));
    const c = await client(s.socket.localAddress().port);
    for (let i = 0; i < 6; i++) c.socket.send(request(i));
    await waitFor(() => c.replies.length === 6 && s.stamps.length === 3);
    const byT2 = new Map(c.replies.map((r) => [`${r.t2.seconds}.${r.t2.fraction}`, r]));
    for (const [k, stamp] of s.stamps.entries()) {
      const r = byT2.get(`${stamp.t2s}.${stamp.t2f}`);
      assert.ok(r, `stamp ${k} names a reply`);
      const i = r.t2.seconds - 0xe8000000;
      assert.equal(i % 2, 0, "only replies that asked");
      const afterT3 = stamp.at.diffSeconds(r.t3);
      const beforeT4 = r.t4.diffSeconds(stamp.at);
      assert.ok(afterT3 >= 0 && afterT3 < 0.01, `TX stamp ${afterT3} s after T3`);
      assert.ok(beforeT4 >= 0 && beforeT4 < 0.01, `arrival ${beforeT4} s after the TX stamp`);
    }
    const wakeups = (s.socket as { pollErrorWakeups?: number }).pollErrorWakeups;
    assert.equal(wakeups, 0, "stamps read at the send, not by an error-queue wakeup");
  },
);

it(
  "replies that do not ask cost nothing: no stamp, no error-queue wakeup",
  { skip: noAddon },
  async () => {
    const s = await server(() => 0);
    const c = await client(s.socket.localAddress().port);
    for (let i = 0; i < 8; i++) c.socket.send(request(i));
    await waitFor(() => c.replies.length === 8);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(s.stamps.length, 0);
    assert.equal((s.socket as { pollErrorWakeups?: number }).pollErrorWakeups, 0);
  },
);
