import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";

import { decodeHeader, encodeHeader } from "../packet/header.js";
import type { NtpHeader, NtpPacket } from "../packet/types.js";
import { NtpTimestamp } from "../time.js";
import {
  MIN_DELAY_SECONDS,
  NtpSource,
  type NtpSourceOptions,
  type PollResult,
  type RequestProtector,
  type SourceEvent,
} from "./source.js";
import { seededRandom } from "../../../test/helpers/seeded-random.js";

// ---------------------------------------------------------------- helpers

const T0 = new NtpTimestamp(0xe5f663a8, 0);
const at = (seconds: number): NtpTimestamp => T0.addSeconds(seconds);

function newSource(options: NtpSourceOptions = {}): NtpSource {
  return new NtpSource({ random: seededRandom(), ...options });
}

function expectRequest(result: PollResult): Uint8Array {
  assert.equal(result.kind, "request", `expected a request, got ${JSON.stringify(result)}`);
  if (result.kind !== "request") throw new Error("unreachable");
  return result.request;
}

/** Polls at `now`, reports the send time, returns the random origin to echo. */
function send(source: NtpSource, now: NtpTimestamp): NtpTimestamp {
  const request = expectRequest(source.poll(now));
  source.sent(now);
  return decodeHeader(request).transmitTimestamp;
}

function ascii(code: string): number {
  let v = 0;
  for (let i = 0; i < 4; i++) v = v * 256 + (code.charCodeAt(i) || 0);
  return v >>> 0;
}

function response(origin: NtpTimestamp, overrides: Partial<NtpHeader> = {}): Uint8Array {
  const header: NtpHeader = {
    leap: 0,
    version: 4,
    mode: 4,
    stratum: 2,
    poll: 6,
    precision: -23,
    rootDelay: 1 / 64,
    rootDispersion: 1 / 32,
    referenceId: 0xc035676c,
    referenceTimestamp: at(-100),
    originTimestamp: origin,
    receiveTimestamp: at(0.02),
    transmitTimestamp: at(0.021),
    ...overrides,
  };
  const out = new Uint8Array(48);
  encodeHeader(header, out);
  return out;
}

function kiss(origin: NtpTimestamp, code: string): Uint8Array {
  return response(origin, {
    stratum: 0,
    referenceId: ascii(code),
    rootDelay: 0,
    rootDispersion: 0,
    referenceTimestamp: NtpTimestamp.ZERO,
    receiveTimestamp: NtpTimestamp.ZERO,
    transmitTimestamp: NtpTimestamp.ZERO,
  });
}

function handle(source: NtpSource, bytes: Uint8Array, t4: NtpTimestamp): SourceEvent {
  return source.handleResponse(bytes, bytes.length, t4);
}

function assertIgnored(event: SourceEvent, reason: string): void {
  assert.equal(event.kind, "ignored", JSON.stringify(event));
  if (event.kind === "ignored") assert.equal(event.reason, reason);
}

/** One full successful exchange at time `t` (seconds from T0). */
function exchange(source: NtpSource, t: number): SourceEvent {
  const origin = send(source, at(t));
  return handle(
    source,
    response(origin, { receiveTimestamp: at(t + 0.02), transmitTimestamp: at(t + 0.021) }),
    at(t + 0.04),
  );
}

// ---------------------------------------------------------------- requests

test("request: 0x23, stratum 0, current poll, zeros, random transmit timestamp", () => {
  const random = seededRandom(42);
  const expected = seededRandom(42)(8);
  const source = new NtpSource({ random });
  const request = expectRequest(source.poll(T0));
  assert.equal(request.length, 48);
  assert.equal(request[0], 0x23);
  assert.equal(request[1], 0);
  assert.equal(request[2], 4); // poll = minimum at start
  assert.deepEqual([...request.subarray(3, 40)], new Array<number>(37).fill(0));
  assert.deepEqual([...request.subarray(40, 48)], [...expected]);
});

test("request: transmit timestamps differ per poll and poll follows the desired interval", () => {
  const source = newSource({ pollLimits: { min: 4, max: 10 } });
  const seen = new Set<bigint>();
  for (let i = 0; i < 20; i++) {
    const r = expectRequest(source.poll(at(i * 16)));
    const xmt = decodeHeader(r).transmitTimestamp;
    assert.ok(!seen.has(xmt.toBits()));
    seen.add(xmt.toBits());
    handle(source, response(xmt), at(i * 16 + 0.04)); // keep it reachable
  }
  source.setDesiredPollInterval(7);
  assert.equal(expectRequest(source.poll(at(400)))[2], 7);
  source.setDesiredPollInterval(30);
  assert.equal(expectRequest(source.poll(at(600)))[2], 10);
  source.setDesiredPollInterval(-3);
  assert.equal(expectRequest(source.poll(at(800)))[2], 4);
  // three unanswered polls do not matter once the server has answered
  assert.equal(source.status(), "ok");
});

test("start-up burst: below the minimum only when asked, never under 2 s or a RATE minimum", () => {
  const source = newSource({ pollLimits: { min: 4, max: 10 } });
  source.setDesiredPollInterval(1, true);
  assert.equal(source.effectivePollInterval(), 1);
  const delay = source.nextPollDelaySeconds();
  assert.ok(delay >= 2 * 1.01 && delay < 2 * 1.05, `burst delay ${delay}`);
  source.setDesiredPollInterval(-2, true);
  assert.equal(source.effectivePollInterval(), 1, "never faster than every 2 s");
  source.setDesiredPollInterval(1);
  assert.equal(source.effectivePollInterval(), 4, "without the burst flag the minimum holds");
  source.setDesiredPollInterval(6, true);
  assert.equal(
    source.effectivePollInterval(),
    6,
    "a burst request above the minimum is a normal one",
  );

  // After a RATE kiss the burst no longer goes below what the server imposed.
  const rated = newSource({ pollLimits: { min: 4, max: 10 } });
  const origin = send(rated, at(0));
  const event = handle(rated, kiss(origin, "RATE"), at(0.04));
  assert.equal(event.kind, "kiss");
  rated.setDesiredPollInterval(1, true);
  assert.ok(
    rated.effectivePollInterval() >= 5,
    `RATE minimum kept: ${rated.effectivePollInterval()}`,
  );
});

test("request: an all-zero random value is not sent as a zero transmit timestamp", () => {
  const source = new NtpSource({ random: (n) => new Uint8Array(n) });
  const xmt = decodeHeader(expectRequest(source.poll(T0))).transmitTimestamp;
  assert.equal(xmt.isZero(), false);
});

// ---------------------------------------------------------------- measurements

test("measurement: worked example from ntp_packets.json offset_delay_example", () => {
  // /work/shared/protocol/vectors/ntp_packets.json → offset_delay_example
  const T1 = NtpTimestamp.fromBits(0xe5f663a87619ef40n);
  const T2 = NtpTimestamp.fromBits(0xe5f663a8798c6581n);
  const T3 = NtpTimestamp.fromBits(0xe5f663a8798eae2bn);
  const T4 = NtpTimestamp.fromBits(0xe5f663a883cc1ecfn);
  const source = newSource();
  const origin = send(source, T1);
  const event = handle(
    source,
    response(origin, { receiveTimestamp: T2, transmitTimestamp: T3 }),
    T4,
  );
  assert.equal(event.kind, "measurement");
  if (event.kind !== "measurement") return;
  const m = event.measurement;
  assert.ok(Math.abs(m.offset - -0.013267349801026285) < 1e-12, `${m.offset}`);
  assert.ok(Math.abs(m.delay - 0.05346530047245324) < 1e-12, `${m.delay}`);
  assert.ok(m.t1.equals(T1) && m.t2.equals(T2) && m.t3.equals(T3) && m.t4.equals(T4));
  assert.equal(m.stratum, 2);
  assert.equal(m.leap, 0);
  assert.equal(m.referenceId, 0xc035676c);
  assert.equal(m.rootDelay, 1 / 64);
  assert.equal(m.rootDispersion, 1 / 32);
  assert.equal(m.poll, 6);
  assert.equal(m.precision, -23);
  assert.equal(m.version, 4);
});

test("measurement: t1 is the time given to sent(), not the poll time", () => {
  const source = newSource();
  const r = expectRequest(source.poll(at(0)));
  source.sent(at(0.5));
  const origin = decodeHeader(r).transmitTimestamp;
  const event = handle(
    source,
    response(origin, { receiveTimestamp: at(0.51), transmitTimestamp: at(0.51) }),
    at(0.52),
  );
  assert.equal(event.kind, "measurement");
  if (event.kind === "measurement") {
    assert.ok(event.measurement.t1.equals(at(0.5)));
    assert.ok(Math.abs(event.measurement.delay - 0.02) < 1e-6);
  }
});

test("measurement: delay is clamped to at least 2^-18 s", () => {
  const source = newSource();
  const origin = send(source, at(0));
  // Server claims more processing time than the round trip took.
  const event = handle(
    source,
    response(origin, { receiveTimestamp: at(0.001), transmitTimestamp: at(0.05) }),
    at(0.01),
  );
  assert.equal(event.kind, "measurement");
  if (event.kind === "measurement") assert.equal(event.measurement.delay, MIN_DELAY_SECONDS);
});

test("measurement: version 3 replies are accepted, others are not", () => {
  const source = newSource();
  let origin = send(source, at(0));
  assert.equal(handle(source, response(origin, { version: 3 }), at(0.04)).kind, "measurement");
  for (const version of [0, 1, 2, 5, 6, 7]) {
    origin = send(source, at(100));
    assertIgnored(handle(source, response(origin, { version }), at(100.04)), "version");
  }
});

test("measurement: a reply that is not mode 4 is ignored", () => {
  const source = newSource();
  const origin = send(source, at(0));
  for (const mode of [0, 1, 2, 3, 5, 6, 7]) {
    assertIgnored(handle(source, response(origin, { mode }), at(0.04)), "mode");
  }
  assert.equal(handle(source, response(origin), at(0.04)).kind, "measurement");
});

test("measurement: malformed datagrams are ignored as parse errors", () => {
  const source = newSource();
  const origin = send(source, at(0));
  const good = response(origin);
  assertIgnored(source.handleResponse(good, 47, at(0.04)), "parse-error");
  assertIgnored(source.handleResponse(good.subarray(0, 44), 44, at(0.04)), "parse-error");
  assertIgnored(source.handleResponse(good, 100, at(0.04)), "parse-error");
  assert.equal(source.handleResponse(good, 48, at(0.04)).kind, "measurement");
});

test("measurement: the length argument bounds a larger receive buffer", () => {
  const source = newSource();
  const origin = send(source, at(0));
  const buffer = new Uint8Array(1024).fill(0xaa);
  buffer.set(response(origin));
  assert.equal(source.handleResponse(buffer, 48, at(0.04)).kind, "measurement");
});

// ---------------------------------------------------------------- origin checks

test("origin: a reply that does not echo our transmit value is bogus and has no effect", () => {
  const source = newSource();
  const origin = send(source, at(0));
  const wrong = new NtpTimestamp(origin.seconds, (origin.fraction ^ 1) >>> 0);
  assertIgnored(handle(source, response(wrong), at(0.04)), "bogus");
  assertIgnored(handle(source, response(NtpTimestamp.ZERO), at(0.04)), "bogus");
  assertIgnored(handle(source, kiss(wrong, "DENY"), at(0.04)), "bogus");
  assert.equal(source.snapshot().reach, 0);
  assert.equal(source.snapshot().denied, false);
  // the genuine reply is still accepted
  assert.equal(handle(source, response(origin), at(0.04)).kind, "measurement");
});

test("origin: a reply before any request is bogus", () => {
  const source = newSource();
  assertIgnored(handle(source, response(at(0)), at(0.04)), "bogus");
});

test("origin: at most one reply per request (duplicates ignored)", () => {
  const source = newSource();
  const origin = send(source, at(0));
  const reply = response(origin);
  assert.equal(handle(source, reply, at(0.04)).kind, "measurement");
  assertIgnored(handle(source, reply, at(0.05)), "duplicate");
  assertIgnored(handle(source, reply, at(0.05)), "duplicate");
  // still a duplicate after the next poll; the new request is unaffected
  const next = send(source, at(16));
  assertIgnored(handle(source, reply, at(16.01)), "duplicate");
  assert.equal(handle(source, response(next), at(16.04)).kind, "measurement");
});

test("origin: a reply more than 5 s after the request is late and ends the request", () => {
  const source = newSource();
  const origin = send(source, at(0));
  assertIgnored(handle(source, response(origin), at(5.5)), "late");
  // a second copy, even in time by its own clock, is no longer accepted
  assertIgnored(handle(source, response(origin), at(1)), "late");
  assert.equal(source.snapshot().reach, 0);
});

test("origin: exactly at the 5 s window the reply is still accepted", () => {
  const source = newSource();
  const origin = send(source, at(0));
  assert.equal(handle(source, response(origin), at(5)).kind, "measurement");
});

test("origin: a reply to the previous, unanswered request after a new poll is late", () => {
  const source = newSource();
  const first = send(source, at(0));
  const second = send(source, at(16));
  assertIgnored(handle(source, response(first), at(16.01)), "late");
  assert.equal(handle(source, response(second), at(16.04)).kind, "measurement");
});

// ---------------------------------------------------------------- kiss-o'-death

test("kiss RATE raises the server-imposed minimum poll (max(min+1, last poll))", () => {
  const source = newSource({ pollLimits: { min: 4, max: 10 } });
  let origin = send(source, at(0));
  let event = handle(source, kiss(origin, "RATE"), at(0.04));
  assert.deepEqual(event, { kind: "kiss", code: "RATE", action: "reduce-rate", minPoll: 5 });
  assert.equal(source.effectivePollInterval(), 5);
  let request = expectRequest(source.poll(at(40)));
  assert.equal(request[2], 5);
  source.sent(at(40));
  origin = decodeHeader(request).transmitTimestamp;
  event = handle(source, kiss(origin, "RATE"), at(40.04));
  assert.equal(event.kind === "kiss" && event.minPoll, 6);
  request = expectRequest(source.poll(at(120)));
  assert.equal(request[2], 6);
  assert.equal(source.snapshot().lastKissCode, "RATE");
  assert.equal(source.snapshot().remoteMinPollInterval, 6);
  // the desired poll cannot go below the server's minimum
  source.setDesiredPollInterval(4);
  assert.equal(source.effectivePollInterval(), 6);
  source.setDesiredPollInterval(8);
  assert.equal(source.effectivePollInterval(), 8);
});

test("kiss RATE when polling above the minimum pins the minimum at the last poll", () => {
  const source = newSource({ pollLimits: { min: 4, max: 10 } });
  source.setDesiredPollInterval(8);
  const origin = send(source, at(0));
  const event = handle(source, kiss(origin, "RATE"), at(0.04));
  assert.equal(event.kind === "kiss" && event.minPoll, 8);
  source.setDesiredPollInterval(4);
  assert.equal(source.effectivePollInterval(), 8);
});

test("kiss RATE never raises the poll beyond the maximum", () => {
  const source = newSource({ pollLimits: { min: 4, max: 6 } });
  for (let i = 0; i < 6; i++) {
    const origin = send(source, at(i * 100));
    handle(source, kiss(origin, "RATE"), at(i * 100 + 0.04));
    handle(source, response(origin), at(i * 100 + 0.05)); // a kiss is no answer
  }
  assert.equal(source.effectivePollInterval(), 6);
  const d = source.nextPollDelaySeconds();
  assert.ok(d >= 64 * 1.01 && d < 64 * 1.05);
});

test("kiss: only the first kiss per request acts; the real reply still counts", () => {
  const source = newSource();
  const origin = send(source, at(0));
  handle(source, kiss(origin, "RATE"), at(0.01));
  assertIgnored(handle(source, kiss(origin, "RATE"), at(0.02)), "duplicate-kiss");
  assert.equal(source.effectivePollInterval(), 5);
  assert.equal(source.snapshot().reach, 0, "a kiss does not make the server reachable");
  assert.equal(handle(source, response(origin), at(0.04)).kind, "measurement");
  assert.equal(source.snapshot().reach, 1);
});

test("kiss: a server that only answers with kisses becomes unreachable (ntpd-rs)", () => {
  const source = newSource();
  for (let i = 0; i < 3; i++) {
    const origin = send(source, at(i * 40));
    handle(source, kiss(origin, "RATE"), at(i * 40 + 0.04));
  }
  assert.equal(source.poll(at(200)).kind, "unreachable");
});

test("kiss: NTSN, informational and unknown codes change nothing", () => {
  for (const code of ["NTSN", "INIT", "STEP", "XABC"]) {
    const source = newSource();
    const origin = send(source, at(0));
    const event = handle(source, kiss(origin, code), at(0.04));
    assert.deepEqual(event, { kind: "kiss", code, action: "none", minPoll: 4 });
    assert.equal(source.status(), "ok");
    assert.equal(source.effectivePollInterval(), 4);
  }
});

test("kiss DENY/RSTR without NTS is remembered; demobilize once unreachable", () => {
  for (const code of ["DENY", "RSTR"]) {
    const source = newSource();
    assert.equal(exchange(source, 0).kind, "measurement");
    const origin = send(source, at(16));
    const event = handle(source, kiss(origin, code), at(16.04));
    assert.deepEqual(event, { kind: "kiss", code, action: "deny-remembered", minPoll: 4 });
    assert.equal(source.status(), "ok");
    assert.equal(source.snapshot().denied, true);
    // 7 more unanswered polls: 8 in a row with the one that drew the kiss
    for (let i = 2; i <= 8; i++) send(source, at(16 * i));
    assert.equal(source.status(), "demobilize");
    assert.deepEqual(source.poll(at(16 * 9)), { kind: "demobilize", code });
    // sticky
    assert.deepEqual(source.poll(at(16 * 10)), { kind: "demobilize", code });
    assert.equal(source.snapshot().demobilized, true);
  }
});

test("kiss DENY at start-up: demobilize after 3 unanswered polls", () => {
  const source = newSource();
  const origin = send(source, at(0));
  handle(source, kiss(origin, "DENY"), at(0.04));
  send(source, at(16));
  send(source, at(32));
  assert.deepEqual(source.poll(at(48)), { kind: "demobilize", code: "DENY" });
});

test("kiss DENY is forgotten after a valid reply: then unreachable means reset, not demobilize", () => {
  const source = newSource();
  exchange(source, 0);
  const origin = send(source, at(16));
  handle(source, kiss(origin, "DENY"), at(16.04));
  assert.equal(exchange(source, 32).kind, "measurement");
  assert.equal(source.snapshot().denied, false);
  for (let i = 3; i <= 10; i++) send(source, at(16 * i));
  assert.equal(source.poll(at(16 * 11)).kind, "unreachable");
});

test("kiss DENY authenticated by the protector demobilizes at once", () => {
  const protector: RequestProtector = {
    finishRequest: (header) => header,
    checkResponse: () => ({ ok: true, authenticated: true }),
  };
  const source = newSource({ protector });
  exchange(source, 0);
  const origin = send(source, at(16));
  const event = handle(source, kiss(origin, "DENY"), at(16.04));
  assert.deepEqual(event, { kind: "kiss", code: "DENY", action: "demobilize", minPoll: 4 });
  assert.equal(source.status(), "demobilize");
  assert.deepEqual(source.poll(at(32)), { kind: "demobilize", code: "DENY" });
});

// ---------------------------------------------------------------- reachability

test("unreachable after 3 unanswered polls at start-up", () => {
  const source = newSource();
  send(source, at(0));
  send(source, at(16));
  assert.equal(source.status(), "ok");
  send(source, at(32));
  assert.equal(source.status(), "unreachable");
  assert.equal(source.snapshot().unansweredPolls, 3);
  assert.deepEqual(source.poll(at(48)), { kind: "unreachable", unansweredPolls: 3 });
  assert.deepEqual(source.poll(at(64)), { kind: "unreachable", unansweredPolls: 3 });
});

test("unreachable after 8 consecutive unanswered polls once answered", () => {
  const source = newSource();
  exchange(source, 0);
  for (let i = 1; i <= 7; i++) {
    send(source, at(16 * i));
    assert.equal(source.status(), "ok", `after ${i} misses`);
    assert.equal(source.snapshot().unansweredPolls, i);
  }
  send(source, at(16 * 8));
  assert.equal(source.status(), "unreachable");
  const result = source.poll(at(16 * 9));
  assert.deepEqual(result, { kind: "unreachable", unansweredPolls: 8 });
});

test("a late answer within 8 polls keeps the source reachable", () => {
  const source = newSource();
  exchange(source, 0);
  for (let i = 1; i <= 7; i++) send(source, at(16 * i));
  assert.equal(exchange(source, 16 * 8).kind, "measurement");
  for (let i = 9; i <= 15; i++) send(source, at(16 * i));
  assert.equal(source.status(), "ok");
  assert.equal(source.snapshot().reach, 0b1000_0000);
});

test("unreachable: nothing is sent and a pending reply is no longer accepted", () => {
  const source = newSource();
  send(source, at(0));
  send(source, at(16));
  const third = send(source, at(32));
  assert.equal(source.poll(at(33)).kind, "unreachable");
  assertIgnored(handle(source, response(third), at(33.1)), "late");
});

// ---------------------------------------------------------------- unusable replies

test("LI 3: unusable for synchronization, yet the server is reachable", () => {
  const source = newSource();
  const origin = send(source, at(0));
  const event = handle(source, response(origin, { leap: 3 }), at(0.04));
  assert.equal(event.kind, "unusable");
  if (event.kind === "unusable") {
    assert.equal(event.reason, "unsynchronized");
    assert.equal(event.measurement.leap, 3);
  }
  assert.equal(source.snapshot().reach, 1);
});

test("an unsynchronized server is polled less and less often, and again normally once usable", () => {
  const source = newSource({ pollLimits: { min: 4, max: 10 } });
  source.setDesiredPollInterval(1, true); // the start-up burst: every 2 s
  const unsynchronized = (t: number): SourceEvent => {
    const origin = send(source, at(t));
    return handle(source, response(origin, { leap: 3, stratum: 16 }), at(t + 0.04));
  };
  const polls: number[] = [];
  const firsts: boolean[] = [];
  let t = 0;
  for (let i = 0; i < 8; i++) {
    const event = unsynchronized(t);
    assert.equal(event.kind, "unusable");
    if (event.kind === "unusable") firsts.push(event.first);
    polls.push(source.effectivePollInterval());
    t += 2 ** source.effectivePollInterval();
  }
  // The burst ends at once; then one step up per reply, up to the maximum.
  assert.deepEqual(polls, [4, 5, 6, 7, 8, 9, 10, 10]);
  assert.deepEqual(firsts, [true, false, false, false, false, false, false, false]);
  // The controller's wishes do not shorten it while the server stays unusable.
  source.setDesiredPollInterval(1, true);
  assert.equal(source.effectivePollInterval(), 10);

  // A usable reply ends the back-off, and says so once.
  const first = exchange(source, t);
  assert.equal(first.kind === "measurement" && first.usableAgain, true);
  assert.equal(source.effectivePollInterval(), 1, "the controller's poll applies again");
  const second = exchange(source, t + 2);
  assert.equal(second.kind === "measurement" && second.usableAgain, false);
});

test("stratum 16 is unusable; stratum 17+ is dropped", () => {
  const source = newSource();
  let origin = send(source, at(0));
  const event = handle(source, response(origin, { stratum: 16 }), at(0.04));
  assert.equal(event.kind === "unusable" && event.reason, "stratum");
  assert.equal(source.snapshot().stratum, 16);
  assert.equal(source.snapshot().reach, 1);

  origin = send(source, at(16));
  for (const stratum of [17, 100, 255]) {
    assertIgnored(handle(source, response(origin, { stratum }), at(16.04)), "excessive-stratum");
  }
  assert.equal(source.snapshot().reach, 0b10);
});

test("local stratum: replies not below it are unusable (configured or passed in)", () => {
  const source = newSource({ localStratum: 3 });
  let origin = send(source, at(0));
  let event = handle(source, response(origin, { stratum: 3 }), at(0.04));
  assert.equal(event.kind === "unusable" && event.reason, "stratum");
  origin = send(source, at(16));
  event = handle(source, response(origin, { stratum: 2 }), at(16.04));
  assert.equal(event.kind, "measurement");
  origin = send(source, at(32));
  const bytes = response(origin, { stratum: 2 });
  event = source.handleResponse(bytes, bytes.length, at(32.04), 2);
  assert.equal(event.kind === "unusable" && event.reason, "stratum");
});

test("zero receive or transmit timestamp: ignored", () => {
  const source = newSource();
  const origin = send(source, at(0));
  assertIgnored(
    handle(source, response(origin, { receiveTimestamp: NtpTimestamp.ZERO }), at(0.04)),
    "zero-timestamp",
  );
  assertIgnored(
    handle(source, response(origin, { transmitTimestamp: NtpTimestamp.ZERO }), at(0.04)),
    "zero-timestamp",
  );
  assert.equal(source.snapshot().reach, 0);
});

// ---------------------------------------------------------------- protector seam

test("protector: extension fields are appended and responses can be refused", () => {
  const extra = new Uint8Array([0x01, 0x04, 0x00, 0x04]);
  let checked: NtpPacket | null = null;
  const protector: RequestProtector = {
    finishRequest(header) {
      const out = new Uint8Array(header.length + extra.length);
      out.set(header);
      out.set(extra, header.length);
      return out;
    },
    checkResponse(packet) {
      checked = packet;
      return packet.header.stratum === 2
        ? { ok: true, authenticated: true }
        : { ok: false, reason: "no UID" };
    },
  };
  const source = newSource({ protector });
  const request = expectRequest(source.poll(at(0)));
  source.sent(at(0));
  assert.equal(request.length, 52);
  assert.deepEqual([...request.subarray(48)], [...extra]);
  const origin = decodeHeader(request).transmitTimestamp;
  const refused = handle(source, response(origin, { stratum: 3 }), at(0.04));
  assert.deepEqual(refused, { kind: "ignored", reason: "unauthenticated", detail: "no UID" });
  assert.notEqual(checked, null);
  assert.equal(handle(source, response(origin), at(0.04)).kind, "measurement");
});

test("protector: no request possible means reset", () => {
  const protector: RequestProtector = {
    finishRequest: () => null,
    checkResponse: () => ({ ok: false, reason: "" }),
  };
  const source = newSource({ protector });
  assert.deepEqual(source.poll(at(0)), { kind: "reset", reason: "protector" });
});

// ---------------------------------------------------------------- poll timing

test("poll timing: first delay is 2^min × jitter, bounds exact for extreme randomness", () => {
  const low = new NtpSource({ random: (n) => new Uint8Array(n) });
  assert.equal(low.nextPollDelaySeconds(), 16 * 1.01);
  const high = new NtpSource({ random: (n) => new Uint8Array(n).fill(0xff) });
  const d = high.nextPollDelaySeconds();
  assert.ok(d < 16 * 1.05 && d > 16 * 1.0499);
});

test("poll timing: the interval stays within limits whatever the algorithm and server ask", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -4, max: 17 }),
      fc.integer({ min: 0, max: 8 }),
      fc.array(fc.oneof(fc.integer({ min: -200, max: 200 }), fc.constant<"RATE">("RATE")), {
        maxLength: 20,
      }),
      fc.integer({ min: 1, max: 0xffffffff }),
      (min, span, actions, seed) => {
        const max = Math.min(min + span, 17);
        const source = new NtpSource({ pollLimits: { min, max }, random: seededRandom(seed) });
        let t = 0;
        for (const action of actions) {
          if (action === "RATE") {
            const origin = send(source, at(t));
            handle(source, kiss(origin, "RATE"), at(t + 0.01));
            handle(source, response(origin), at(t + 0.02));
          } else {
            source.setDesiredPollInterval(action);
          }
          t += 10;
          const p = source.effectivePollInterval();
          assert.ok(p >= min && p <= max, `${p} not in ${min}..${max}`);
          const delay = source.nextPollDelaySeconds();
          assert.ok(delay >= 2 ** p * 1.01 && delay < 2 ** p * 1.05);
          const snap = source.snapshot();
          assert.ok(snap.pollInterval >= min && snap.pollInterval <= max);
        }
      },
    ),
  );
});

test("initial poll interval is clamped into the limits and does not change the start-up poll", () => {
  assert.equal(newSource({ initialPollInterval: 6 }).initialPollInterval, 6);
  assert.equal(newSource({ initialPollInterval: 20 }).initialPollInterval, 10);
  const source = newSource({ pollLimits: { min: 5, max: 9 }, initialPollInterval: 7 });
  assert.equal(source.effectivePollInterval(), 5);
  assert.equal(expectRequest(source.poll(T0))[2], 5);
});

test("construction rejects bad configuration", () => {
  assert.throws(() => new NtpSource({ pollLimits: { min: 8, max: 4 } }), RangeError);
  assert.throws(() => new NtpSource({ version: 3 as unknown as 4 }), RangeError);
  assert.throws(() => new NtpSource({ localStratum: 0 }), RangeError);
  assert.throws(() => new NtpSource({ localStratum: 17 }), RangeError);
  assert.throws(() => new NtpSource({ initialPollInterval: Number.NaN }), RangeError);
  assert.throws(() => newSource().setDesiredPollInterval(Number.NaN), RangeError);
});

// ---------------------------------------------------------------- snapshot

test("snapshot reflects the last reply", () => {
  const source = newSource();
  const initial = source.snapshot();
  assert.equal(initial.stratum, 16);
  assert.equal(initial.reach, 0);
  assert.equal(initial.polls, 0);
  assert.equal(initial.unansweredPolls, 0);
  assert.equal(initial.pollInterval, 4);
  assert.equal(initial.lastMeasurement, null);
  assert.equal(initial.lastKissCode, null);

  const event = exchange(source, 0);
  const snap = source.snapshot();
  assert.equal(snap.reach, 1);
  assert.equal(snap.reachable, true);
  assert.equal(snap.polls, 1);
  assert.equal(snap.unansweredPolls, 0);
  assert.equal(snap.stratum, 2);
  assert.equal(snap.referenceId, 0xc035676c);
  assert.equal(snap.rootDelay, 1 / 64);
  assert.equal(snap.rootDispersion, 1 / 32);
  assert.equal(event.kind, "measurement");
  if (event.kind === "measurement") assert.equal(snap.lastMeasurement, event.measurement);
  assert.equal(snap.demobilized, false);
});

// ---------------------------------------------------------------- robustness

test("property: random datagrams never throw and are ignored", () => {
  const source = newSource();
  send(source, at(0));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat({ max: 260 }), (bytes, length) => {
      const event = source.handleResponse(bytes, length, at(0.04));
      assert.equal(event.kind, "ignored");
    }),
    { numRuns: 2000 },
  );
});

test("property: mutated valid replies never throw and give a well-formed event", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat({ max: 63 }), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.integer({ min: 48, max: 64 }),
      fc.integer({ min: -10, max: 10 }),
      fc.integer({ min: 1, max: 0xffffffff }),
      (mutations, size, t4Offset, seed) => {
        const source = new NtpSource({ random: seededRandom(seed) });
        const origin = send(source, at(0));
        const bytes = new Uint8Array(size);
        bytes.set(response(origin));
        for (const [index, value] of mutations) {
          if (index < size) bytes[index] = value;
        }
        const event = source.handleResponse(bytes, size, at(t4Offset));
        assert.ok(["measurement", "unusable", "kiss", "ignored"].includes(event.kind));
        if (event.kind === "measurement" || event.kind === "unusable") {
          assert.ok(Number.isFinite(event.measurement.offset));
          assert.ok(event.measurement.delay >= MIN_DELAY_SECONDS);
        }
        // the source is still usable afterwards
        assert.doesNotThrow(() => source.snapshot());
        assert.equal(source.poll(at(16)).kind, "request");
      },
    ),
    { numRuns: 2000 },
  );
});
