// Interleaved mode, the client's side, sans IO: an NtpSource asking in
// interleaved form against our own server core, over a simulated path whose
// server reads its basic T3 a fixed time before the reply leaves. Interleaved
// measurements must see the wire, basic ones the early reading.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeHeader, encodeHeader } from "../packet/header.js";
import { NtpTimestamp, NTP_UNIX_OFFSET_SECONDS } from "../time.js";
import { finishReply, FinishStep } from "../server/finish.js";
import { NtpServerCore } from "../server/server.js";
import { initialSystemState, SystemStateCell } from "../system/system-state.js";
import { MAX_INTERLEAVED_TRIES, NtpSource, type SourceEvent } from "./source.js";
import { seededRandom } from "../../../test/helpers/seeded-random.js";

const T0 = new NtpTimestamp(0xe8494800, 0);
/** The server's clock minus ours. */
const THETA = 0.001;
/** One-way network delay. */
const D = 0.0003;
/** From the server's T2 to its basic T3 reading. */
const PROCESSING = 0.00005;
/** From the basic T3 reading to the wire: what basic mode misses. */
const SEND_PATH = 0.0002;

interface Exchange {
  event: SourceEvent;
  /** The reply's transmit field. */
  t3: NtpTimestamp;
  /** When that reply left, on the server's clock. */
  wire: NtpTimestamp;
}

/** A simulated server reached over the path above; `interleaved` as the core option. */
class Path {
  readonly server: NtpServerCore;
  readonly out = new Uint8Array(48);
  /** Replies dropped on the way back while > 0. */
  lose = 0;

  constructor(interleaved: boolean) {
    this.server = new NtpServerCore({
      systemState: new SystemStateCell(
        initialSystemState({ localStratum: 1, referenceId: "TEST" }),
      ),
      interleaved,
    });
  }

  /** One poll of `source` at our time `t` (seconds after T0). */
  exchange(source: NtpSource, t: number): Exchange | null {
    const poll = source.poll(T0.addSeconds(t));
    assert.equal(poll.kind, "request");
    if (poll.kind !== "request") throw new Error("unreachable");
    const t1 = T0.addSeconds(t);
    source.sent(t1);
    const t2 = T0.addSeconds(t + D + THETA);
    const d = this.server.handle(poll.request, poll.request.length, "192.0.2.1", t2, this.out);
    assert.equal(d.action, "reply");
    const stamped = (d.finish.kind & FinishStep.TxStamp) !== 0;
    const wire = t2.addSeconds(PROCESSING + SEND_PATH);
    finishReply(this.out, d.finish, t2.addSeconds(PROCESSING));
    if (stamped) {
      // The kernel's TX timestamp, as the daemon passes it (Unix s, ns).
      const t2Field = decodeHeader(this.out).receiveTimestamp;
      const unix = wire.seconds - NTP_UNIX_OFFSET_SECONDS;
      const nsec = Math.floor((wire.fraction * 1e9) / 2 ** 32);
      this.server.saveTransmitTimestamp(t2Field.seconds, t2Field.fraction, unix, nsec);
    }
    if (this.lose > 0) {
      this.lose--;
      return null;
    }
    const t4 = T0.addSeconds(t + D + PROCESSING + SEND_PATH + D);
    const event = source.handleResponse(this.out, 48, t4);
    return { event, t3: decodeHeader(this.out).transmitTimestamp, wire };
  }
}

function measurement(e: Exchange | null) {
  assert.ok(e !== null);
  assert.equal(e.event.kind, "measurement", JSON.stringify(e.event));
  if (e.event.kind !== "measurement") throw new Error("unreachable");
  return e.event.measurement;
}

const near = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-8, `${what}: ${actual} != ${expected}`);

test("against a server with interleaving: basic, basic, no sample, then interleaved with the wire T3", () => {
  const path = new Path(true);
  const source = new NtpSource({ random: seededRandom(), interleaved: true });
  // 1: basic request (nothing to name yet), basic reply.
  const first = measurement(path.exchange(source, 0));
  assert.equal(first.interleaved, undefined);
  near(first.offset, THETA - SEND_PATH / 2, "basic offset misses half the send path");
  near(first.delay, 2 * D + SEND_PATH, "basic delay includes the send path");
  // 2: interleaved form, but reply 1 was not stamped (its request was basic): basic.
  const second = measurement(path.exchange(source, 16));
  assert.equal(second.interleaved, undefined);
  // 3: interleaved reply about exchange 2, which was measured already: no sample.
  const third = path.exchange(source, 32);
  assert.deepEqual(third?.event, { kind: "no-sample", reason: "measured" });
  // 4 on: each reply measures the exchange before it, with its wire T3.
  let previousWire = third.wire;
  for (let i = 3; i < 9; i++) {
    const e = path.exchange(source, i * 16);
    const m = measurement(e);
    assert.equal(m.interleaved, true);
    near(m.offset, THETA, `interleaved offset (${i})`);
    near(m.delay, 2 * D, `interleaved delay (${i})`);
    near(m.t1.diffSeconds(T0), (i - 1) * 16, "the previous exchange's T1");
    near(m.t3.diffSeconds(previousWire), 0, "T3 = the previous reply's wire time");
    // Later than the basic reading the server would have sent for it.
    assert.ok(m.t3.diffSeconds(m.t2) > PROCESSING, "wire T3 after the basic reading");
    previousWire = e!.wire;
  }
  assert.equal(path.server.stats.interleavedPackets, 7);
});

test("against a server without interleaving: every reply is basic and measured", () => {
  const path = new Path(false);
  const source = new NtpSource({ random: seededRandom(), interleaved: true });
  for (let i = 0; i < 6; i++) {
    const m = measurement(path.exchange(source, i * 16));
    assert.equal(m.interleaved, undefined);
    near(m.offset, THETA - SEND_PATH / 2, `basic offset (${i})`);
  }
});

test("a source without the option sends basic requests only", () => {
  const path = new Path(true);
  const source = new NtpSource({ random: seededRandom() });
  for (let i = 0; i < 2; i++) {
    const poll = source.poll(T0.addSeconds(i));
    assert.equal(poll.kind, "request");
    if (poll.kind !== "request") return;
    const h = decodeHeader(poll.request);
    assert.ok(h.originTimestamp.isZero() && h.receiveTimestamp.isZero());
  }
  assert.equal(measurement(path.exchange(source, 10)).interleaved, undefined);
});

test("after a clock step the exchange before it is not measured; then interleaving resumes", () => {
  const path = new Path(true);
  const source = new NtpSource({ random: seededRandom(), interleaved: true });
  for (let i = 0; i < 4; i++) path.exchange(source, i * 16);
  // A step with nothing in flight: the next request is basic again.
  source.clockStepped();
  const poll = source.poll(T0.addSeconds(64));
  assert.equal(poll.kind, "request");
  if (poll.kind !== "request") return;
  assert.ok(decodeHeader(poll.request).originTimestamp.isZero(), "basic after a step");
  // (That request is abandoned: the next poll retires it.) Basic, then basic again
  // (its reply was not stamped), as at the start.
  assert.equal(measurement(path.exchange(source, 80)).interleaved, undefined);
  assert.equal(measurement(path.exchange(source, 96)).interleaved, undefined);
  // A step while an interleaved request is in flight: its reply gives no sample.
  const request = source.poll(T0.addSeconds(112));
  assert.equal(request.kind, "request");
  if (request.kind !== "request") return;
  source.sent(T0.addSeconds(112));
  source.clockStepped();
  const out = new Uint8Array(48);
  const t2 = T0.addSeconds(112 + D + THETA);
  const d = path.server.handle(request.request, 48, "192.0.2.1", t2, out);
  assert.equal(d.finish.kind & FinishStep.Stamp, 0, "the server answered interleaved");
  finishReply(out, d.finish, t2.addSeconds(PROCESSING));
  const event = source.handleResponse(out, 48, T0.addSeconds(112 + 2 * D + PROCESSING));
  assert.deepEqual(event, { kind: "no-sample", reason: "clock-stepped" });
  // Exchange 112 was not measured (its T3 never came: the server does not stamp a
  // reply here): the next reply names it, and is basic.
  assert.equal(measurement(path.exchange(source, 128)).interleaved, undefined);
  assert.equal(path.exchange(source, 144)?.event.kind, "no-sample");
  assert.equal(measurement(path.exchange(source, 160)).interleaved, true);
});

test("lost replies: after MAX_INTERLEAVED_TRIES unanswered interleaved requests, a basic one", () => {
  const path = new Path(true);
  const source = new NtpSource({ random: seededRandom(), interleaved: true });
  for (let i = 0; i < 4; i++) path.exchange(source, i * 16);
  path.lose = MAX_INTERLEAVED_TRIES;
  const origins: boolean[] = [];
  for (let i = 0; i <= MAX_INTERLEAVED_TRIES; i++) {
    const poll = source.poll(T0.addSeconds(100 + i * 16));
    assert.equal(poll.kind, "request");
    if (poll.kind !== "request") return;
    origins.push(!decodeHeader(poll.request).originTimestamp.isZero());
  }
  assert.deepEqual(origins, [...Array<boolean>(MAX_INTERLEAVED_TRIES).fill(true), false]);
});

test("replies are matched to the request: a token from another request is bogus or duplicate", () => {
  const path = new Path(true);
  const source = new NtpSource({ random: seededRandom(), interleaved: true });
  for (let i = 0; i < 4; i++) path.exchange(source, i * 16);
  const reply = path.out.slice();
  // The last reply again: the request was answered.
  assert.deepEqual(source.handleResponse(reply, 48, T0.addSeconds(49)), {
    kind: "ignored",
    reason: "duplicate",
  });
  // A reply whose origin is neither the transmit field nor the token: bogus.
  const forged = reply.slice();
  const h = decodeHeader(forged);
  encodeHeader({ ...h, originTimestamp: new NtpTimestamp(1, 2) }, forged);
  source.poll(T0.addSeconds(64));
  assert.deepEqual(source.handleResponse(forged, 48, T0.addSeconds(64.001)), {
    kind: "ignored",
    reason: "bogus",
  });
});

test("an interleaved T3 before its T2, or seconds after it, gives no sample", () => {
  for (const shift of [-0.001, 5]) {
    const path = new Path(true);
    const source = new NtpSource({ random: seededRandom(), interleaved: true });
    for (let i = 0; i < 4; i++) path.exchange(source, i * 16);
    const poll = source.poll(T0.addSeconds(64));
    assert.equal(poll.kind, "request");
    if (poll.kind !== "request") return;
    source.sent(T0.addSeconds(64));
    const out = new Uint8Array(48);
    const d = path.server.handle(poll.request, 48, "192.0.2.1", T0.addSeconds(64.001), out);
    assert.equal(d.finish.kind & FinishStep.Stamp, 0, "interleaved reply");
    // Move the T3 the server gave: the previous exchange's T2 + shift.
    const h = decodeHeader(out);
    const previous = decodeHeader(poll.request).originTimestamp;
    encodeHeader({ ...h, transmitTimestamp: previous.addSeconds(shift) }, out);
    const event = source.handleResponse(out, 48, T0.addSeconds(64.002));
    assert.deepEqual(event, { kind: "no-sample", reason: "implausible" }, `shift ${shift}`);
  }
});
