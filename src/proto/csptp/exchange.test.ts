// The client and server cores together, without sockets or clocks: a client
// request answered by the server gives the offset and delay the times were
// chosen for; the server never answers with more octets than it received.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { NtpTimestamp } from "../time.js";
import { CSPTP_REQUEST_BUFFER, CsptpClient } from "./client.js";
import {
  countCsptpResult,
  handleCsptpRequest,
  newCsptpServerStats,
  type CsptpServerState,
} from "./server.js";
import {
  BARE_REQUEST_LENGTH,
  encodeFollowUp,
  encodeRequest,
  encodeResponse,
  parseCsptp,
  ptpFromUnix,
  writeOriginTimestamp,
  type CsptpMessage,
} from "./wire.js";

const STATE: CsptpServerState = {
  leap: 0,
  unsynchronized: false,
  ptpTimescale: true,
  timeTraceable: false,
  frequencyTraceable: false,
  status: {
    priority1: 128,
    clockQuality: { clockClass: 248, clockAccuracy: 0xfe, offsetScaledLogVariance: 0x6900 },
    priority2: 128,
    stepsRemoved: 2,
    currentUtcOffset: 0,
    grandmasterIdentity: new Uint8Array(8),
  },
};

const BASE = 1_800_000_000; // Unix seconds of the client's t1

/** BASE + x seconds, split without rounding through a large double. */
function ptpAt(x: number) {
  const whole = Math.floor(x);
  return ptpFromUnix(BASE + whole, Math.min(999_999_999, Math.round((x - whole) * 1e9)));
}

function ntpAt(x: number): NtpTimestamp {
  const t = ptpAt(x);
  return NtpTimestamp.fromUnix(t.seconds - 37, t.nanoseconds);
}

function parsed(bytes: Uint8Array, length: number): CsptpMessage {
  const r = parseCsptp(bytes, length);
  assert.ok(r.ok, r.ok ? "" : r.reason);
  return r.message;
}

/** One exchange: server clock `offset` ahead, `oneWay` s each way, server holds it `hold` s. */
function exchange(offset: number, oneWay: number, hold: number, state = STATE) {
  const client = new CsptpClient({ domain: 128, responseInterval: 5 });
  const req = new Uint8Array(CSPTP_REQUEST_BUFFER);
  const n = client.request(req);
  client.sent(NtpTimestamp.fromUnix(BASE, 0), 0);
  const t2 = oneWay + offset;
  const reply = new Uint8Array(128);
  const result = handleCsptpRequest(req, n, ptpAt(t2), state, reply);
  assert.equal(result.kind, "response");
  if (result.kind !== "response") throw new Error();
  assert.ok(result.length <= n, `response ${result.length} > request ${n}`);
  writeOriginTimestamp(reply, ptpAt(t2 + hold));
  return client.receive(parsed(reply, result.length), ntpAt(2 * oneWay + hold));
}

test("a one-step exchange measures the offset and delay", () => {
  const e = exchange(0.25, 0.002, 0.0005);
  assert.equal(e.kind, "measurement");
  if (e.kind !== "measurement") return;
  assert.ok(Math.abs(e.measurement.offset - 0.25) < 1e-8, String(e.measurement.offset));
  assert.ok(Math.abs(e.measurement.delay - 0.004) < 1e-8, String(e.measurement.delay));
  assert.equal(e.measurement.stratum, 3, "stepsRemoved 2 → stratum 3");
  assert.equal(e.status?.priority1, 128);
});

test("property: offsets and delays come back within 3 ns", () => {
  fc.assert(
    fc.property(
      fc.double({ min: -1000, max: 1000, noNaN: true }),
      fc.double({ min: 0, max: 0.5, noNaN: true }),
      fc.double({ min: 0, max: 0.01, noNaN: true }),
      (offset, oneWay, hold) => {
        const e = exchange(offset, oneWay, hold);
        assert.equal(e.kind, "measurement");
        if (e.kind !== "measurement") return;
        assert.ok(Math.abs(e.measurement.offset - offset) < 3e-9);
        assert.ok(Math.abs(e.measurement.delay - Math.max(2 * oneWay, 2 ** -18)) < 3e-9);
      },
    ),
  );
});

test("a server that says it is not synchronized gives no measurement", () => {
  const e = exchange(0, 0.001, 0, { ...STATE, unsynchronized: true });
  assert.deepEqual(e, { kind: "unsynchronized" });
});

test("the server never answers with more than it received", () => {
  const reply = new Uint8Array(128);
  const stats = newCsptpServerStats();
  const ingress = ptpFromUnix(BASE, 0);
  const handle = (bytes: Uint8Array, n: number) => {
    const r = handleCsptpRequest(bytes, n, ingress, STATE, reply);
    countCsptpResult(stats, r);
    return r;
  };
  // ntpd-rs's bare 52-octet request: the smallest answer is 66 octets, so none.
  const req = new Uint8Array(128);
  const bare = encodeRequest(req, { domain: 128, sequenceId: 1, wantsStatus: true });
  assert.equal(bare, BARE_REQUEST_LENGTH);
  assert.deepEqual(handle(req, bare), { kind: "drop", reason: "too-short" });
  // Padded to 66..86: the response without status; to 88 and more: with it.
  for (const [padTo, expected] of [
    [66, 66],
    [86, 66],
    [88, 88],
    [120, 88],
  ] as const) {
    const n = encodeRequest(req, { domain: 128, sequenceId: 1, wantsStatus: true, padTo });
    const r = handle(req, n);
    assert.deepEqual(r, { kind: "response", length: expected }, `padded to ${padTo}`);
  }
  // Without the status flag, never the status TLV.
  const n = encodeRequest(req, { domain: 130, sequenceId: 9, wantsStatus: false, padTo: 88 });
  assert.deepEqual(handle(req, n), { kind: "response", length: 66 });
  const m = parsed(reply, 66);
  assert.equal(m.header.domain, 130, "the request's domain is echoed");
  assert.equal(m.header.sequenceId, 9);
  // A response sent to the server is not answered.
  const rn = encodeResponse(req, {
    domain: 128,
    sequenceId: 1,
    flags: {},
    originTimestamp: ingress,
    requestIngress: ingress,
    requestCorrection: 0n,
    status: STATE.status,
  });
  assert.deepEqual(handle(req, rn), { kind: "drop", reason: "not-request" });
  assert.deepEqual(handle(req, 10), { kind: "drop", reason: "length" });
  assert.equal(stats.received, 8);
  assert.equal(stats.responded, 5);
  assert.deepEqual(
    [...stats.dropped],
    [
      ["too-short", 1],
      ["not-request", 1],
      ["length", 1],
    ],
  );
});

test("property: any datagram → a response no larger than it, or a drop; never a throw", () => {
  const reply = new Uint8Array(128);
  const req = new Uint8Array(128);
  const padded = encodeRequest(req, { domain: 128, sequenceId: 1, wantsStatus: true, padTo: 88 });
  const base = req.slice(0, padded);
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 128 }),
        fc.tuple(fc.nat(), fc.nat(255), fc.integer({ min: -40, max: 20 })).map(([at, v, cut]) => {
          const b = new Uint8Array(Math.max(0, base.length + cut));
          b.set(base.subarray(0, b.length));
          if (b.length > 0) b[at % b.length] = v;
          return b;
        }),
      ),
      (bytes) => {
        const r = handleCsptpRequest(bytes, bytes.length, ptpFromUnix(BASE, 0), STATE, reply);
        if (r.kind === "response") {
          assert.ok(r.length <= bytes.length);
          assert.ok(parseCsptp(reply, r.length).ok);
        }
      },
    ),
  );
});

test("two-step: response and follow-up in either order; late, foreign and duplicate ones ignored", () => {
  for (const followUpFirst of [false, true]) {
    const client = new CsptpClient({ domain: 128, responseInterval: 5 });
    const buf = new Uint8Array(CSPTP_REQUEST_BUFFER);
    client.request(buf);
    client.sent(NtpTimestamp.fromUnix(BASE, 0), 10);
    const response = new Uint8Array(128);
    const rn = encodeResponse(response, {
      domain: 128,
      sequenceId: 0,
      flags: { twoStep: true },
      originTimestamp: { seconds: 0, nanoseconds: 0 },
      requestIngress: ptpFromUnix(BASE + 1, 1_000_000), // server 1 s ahead, 1 ms each way
      requestCorrection: 0n,
      status: null,
    });
    const followUp = new Uint8Array(64);
    const fn = encodeFollowUp(followUp, {
      domain: 128,
      sequenceId: 0,
      preciseOriginTimestamp: ptpFromUnix(BASE + 1, 2_000_000),
    });
    const other = new Uint8Array(64);
    encodeFollowUp(other, {
      domain: 128,
      sequenceId: 7,
      preciseOriginTimestamp: ptpFromUnix(BASE, 0),
    });
    const rx = NtpTimestamp.fromUnix(BASE, 3_000_000);
    assert.deepEqual(client.receive(parsed(other, 44), rx), {
      kind: "ignored",
      reason: "sequence",
    });
    const first = followUpFirst ? parsed(followUp, fn) : parsed(response, rn);
    const second = followUpFirst ? parsed(response, rn) : parsed(followUp, fn);
    assert.deepEqual(client.receive(first, rx), { kind: "partial" });
    assert.deepEqual(client.receive(first, rx), { kind: "ignored", reason: "duplicate" });
    const e = client.receive(second, rx);
    assert.equal(e.kind, "measurement");
    if (e.kind !== "measurement") return;
    assert.ok(Math.abs(e.measurement.offset - 1) < 1e-8, String(e.measurement.offset));
    assert.ok(Math.abs(e.measurement.delay - 0.002) < 1e-8, String(e.measurement.delay));
    assert.equal(e.measurement.stratum, 1, "no status: stratum 1");
    assert.deepEqual(client.receive(second, rx), { kind: "ignored", reason: "no-exchange" });
  }
});

test("an exchange is given up after response_interval", () => {
  const client = new CsptpClient({ domain: 128, responseInterval: 5 });
  client.request(new Uint8Array(CSPTP_REQUEST_BUFFER));
  client.sent(NtpTimestamp.fromUnix(BASE, 0), 100);
  assert.equal(client.waiting(104.9), true);
  assert.equal(client.waiting(105), false);
  assert.equal(client.timeouts, 1);
  assert.equal(client.waiting(106), false);
  assert.equal(client.timeouts, 1);
});

test("a request that was never sent is not waited for", () => {
  const client = new CsptpClient({ domain: 128, responseInterval: 5 });
  client.request(new Uint8Array(CSPTP_REQUEST_BUFFER));
  assert.equal(client.waiting(100), false);
  assert.equal(client.timeouts, 0);
});
