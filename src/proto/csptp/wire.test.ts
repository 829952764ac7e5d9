// The CSPTP codec against byte layouts written out by hand from the PTPv2.1
// header (IEEE 1588-2019 §13) and the TLV layouts of ntpd-rs's statime-csptp
// (see wire.ts); nothing here is produced by our own encoder first.

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import {
  encodeFollowUp,
  encodeRequest,
  encodeResponse,
  parseCsptp,
  ptpFromUnix,
  unixFromPtp,
  writeOriginTimestamp,
} from "./wire.js";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/[\s|]/g, ""), "hex"));

// ntpd-rs's request: Sync, domain 128, sequence 0x0102, status asked for, 52 octets.
const BARE_REQUEST = hex(`
  30 12 0034 80 00 | 04 00 | 0000000000000000 | 00000000 | 0000000000000000 0000 | 0102 | 00 7f
  000000000000 00000000
  ff00 0004 01 000000`);

// The same request as our client sends it: padded with a PAD TLV to 88 octets.
const PADDED_REQUEST = hex(`
  30 12 0058 80 00 | 04 00 | 0000000000000000 | 00000000 | 0000000000000000 0000 | 0102 | 00 7f
  000000000000 00000000
  ff00 0004 01 000000
  8008 0020 ${"00".repeat(32)}`);

// A one-step response with status: domain 128, sequence 0x0102, leap61 + ptpTimescale +
// timeTraceable, T3 = 0x0001_00000002 s + 3 ns, ingress 100 s + 50 ns, echoed correction 25,
// status priority1 127, class 248, accuracy 0x27, variance 0x3780, priority2 230,
// stepsRemoved 15, utc offset 0, identity 01..08.
const STATUS_RESPONSE = hex(`
  30 12 0058 80 00 | 04 19 | 0000000000000000 | 00000000 | 0000000000000000 0000 | 0102 | 00 7f
  000100000002 00000003
  ff01 0012 000000000064 00000032 0000000000000019
  f002 0012 7f f8 27 3780 e6 000f 0000 0102030405060708`);

const FOLLOW_UP = hex(`
  38 12 002c 81 00 | 06 00 | 0000000000010000 | 00000000 | 0000000000000000 0000 | fffe | 00 7f
  00000000ffff 3b9ac9ff`);

test("parses ntpd-rs's bare request and our padded one", () => {
  for (const bytes of [BARE_REQUEST, PADDED_REQUEST]) {
    const r = parseCsptp(bytes);
    assert.ok(r.ok, r.ok ? "" : r.reason);
    assert.equal(r.message.kind, "request");
    if (r.message.kind !== "request") return;
    assert.equal(r.message.header.domain, 128);
    assert.equal(r.message.header.sequenceId, 0x0102);
    assert.equal(r.message.header.flags.unicast, true);
    assert.equal(r.message.header.flags.twoStep, false);
    assert.equal(r.message.wantsStatus, true);
    assert.equal(r.message.altTimescale, false);
  }
});

test("encodes requests byte for byte as laid out", () => {
  const buf = new Uint8Array(128);
  const bare = encodeRequest(buf, { domain: 128, sequenceId: 0x0102, wantsStatus: true });
  assert.deepEqual(buf.subarray(0, bare), BARE_REQUEST);
  buf.fill(0xaa);
  const padded = encodeRequest(buf, {
    domain: 128,
    sequenceId: 0x0102,
    wantsStatus: true,
    padTo: 88,
  });
  assert.deepEqual(buf.subarray(0, padded), PADDED_REQUEST);
});

test("parses a one-step response with its status TLV", () => {
  const r = parseCsptp(STATUS_RESPONSE);
  assert.ok(r.ok, r.ok ? "" : r.reason);
  const m = r.message;
  assert.equal(m.kind, "response");
  if (m.kind !== "response") return;
  assert.deepEqual(m.originTimestamp, { seconds: 2 ** 32 + 2, nanoseconds: 3 });
  assert.deepEqual(m.requestIngress, { seconds: 100, nanoseconds: 50 });
  assert.equal(m.requestCorrection, 25n);
  assert.equal(m.header.flags.leap61, true);
  assert.equal(m.header.flags.leap59, false);
  assert.equal(m.header.flags.ptpTimescale, true);
  assert.equal(m.header.flags.timeTraceable, true);
  assert.equal(m.header.flags.frequencyTraceable, false);
  assert.deepEqual(m.status, {
    priority1: 127,
    clockQuality: { clockClass: 248, clockAccuracy: 0x27, offsetScaledLogVariance: 0x3780 },
    priority2: 230,
    stepsRemoved: 15,
    currentUtcOffset: 0,
    grandmasterIdentity: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
  });
});

test("encodes that response byte for byte", () => {
  const buf = new Uint8Array(128).fill(0xcc);
  const n = encodeResponse(buf, {
    domain: 128,
    sequenceId: 0x0102,
    flags: { leap61: true, ptpTimescale: true, timeTraceable: true },
    originTimestamp: { seconds: 0, nanoseconds: 0 },
    requestIngress: { seconds: 100, nanoseconds: 50 },
    requestCorrection: 25n,
    status: {
      priority1: 127,
      clockQuality: { clockClass: 248, clockAccuracy: 0x27, offsetScaledLogVariance: 0x3780 },
      priority2: 230,
      stepsRemoved: 15,
      currentUtcOffset: 0,
      grandmasterIdentity: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
    },
  });
  writeOriginTimestamp(buf, { seconds: 2 ** 32 + 2, nanoseconds: 3 });
  assert.equal(n, 88);
  assert.deepEqual(buf.subarray(0, n), STATUS_RESPONSE);
});

test("parses and encodes a follow-up (domain 129, correction 1 ns, largest nanoseconds)", () => {
  const r = parseCsptp(FOLLOW_UP);
  assert.ok(r.ok, r.ok ? "" : r.reason);
  assert.equal(r.message.kind, "follow-up");
  if (r.message.kind !== "follow-up") return;
  assert.equal(r.message.header.correction, 65536n);
  assert.equal(r.message.header.sequenceId, 0xfffe);
  assert.deepEqual(r.message.preciseOriginTimestamp, {
    seconds: 0xffff,
    nanoseconds: 999_999_999,
  });
  const buf = new Uint8Array(64);
  const n = encodeFollowUp(buf, {
    domain: 129,
    sequenceId: 0xfffe,
    preciseOriginTimestamp: { seconds: 0xffff, nanoseconds: 999_999_999 },
  });
  // Ours carries no correction: only octets 8..15 differ.
  const expected = Uint8Array.from(FOLLOW_UP);
  expected.fill(0, 8, 16);
  assert.deepEqual(buf.subarray(0, n), expected);
});

test("octets after messageLength are ignored (UDP padding)", () => {
  const bytes = new Uint8Array(BARE_REQUEST.length + 7);
  bytes.set(BARE_REQUEST);
  const r = parseCsptp(bytes);
  assert.ok(r.ok);
  // ...and a buffer longer than the datagram is read only up to `length`.
  assert.deepEqual(parseCsptp(bytes, 40), { ok: false, reason: "length" });
});

function mutated(base: Uint8Array, edit: (b: Uint8Array) => void): Uint8Array {
  const b = Uint8Array.from(base);
  edit(b);
  return b;
}

test("malformed messages are dropped with their reason", () => {
  const cases: [string, Uint8Array, string][] = [
    ["empty", new Uint8Array(0), "length"],
    ["33 octets", BARE_REQUEST.subarray(0, 33), "length"],
    ["messageLength beyond the datagram", BARE_REQUEST.subarray(0, 50), "length"],
    ["messageLength 40", mutated(BARE_REQUEST, (b) => (b[3] = 40)), "length"],
    ["PTP version 1", mutated(BARE_REQUEST, (b) => (b[1] = 0x11)), "version"],
    ["sdoId 0x000", mutated(BARE_REQUEST, (b) => (b[0] = 0x00)), "sdo-id"],
    ["minorSdoId 1", mutated(BARE_REQUEST, (b) => (b[5] = 1)), "sdo-id"],
    ["Delay_Req", mutated(BARE_REQUEST, (b) => (b[0] = 0x31)), "message-type"],
    ["Announce", mutated(BARE_REQUEST, (b) => (b[0] = 0x3b)), "message-type"],
    [
      "nanoseconds 1e9",
      mutated(BARE_REQUEST, (b) => b.set([0x3b, 0x9a, 0xca, 0x00], 40)),
      "timestamp",
    ],
    ["odd TLV length", mutated(BARE_REQUEST, (b) => (b[47] = 3)), "tlv"],
    ["TLV past the end", mutated(BARE_REQUEST, (b) => (b[47] = 6)), "tlv"],
    [
      "2 octets after the TLVs",
      (() => {
        const b = new Uint8Array(54);
        b.set(BARE_REQUEST);
        b[3] = 54;
        return b;
      })(),
      "tlv",
    ],
    ["no CSPTP TLV", mutated(BARE_REQUEST, (b) => b.set([0x80, 0x08], 44)), "csptp-tlv"],
    [
      "two request TLVs",
      (() => {
        const b = new Uint8Array(60);
        b.set(BARE_REQUEST);
        b.set(BARE_REQUEST.subarray(44, 52), 52);
        b[3] = 60;
        return b;
      })(),
      "csptp-tlv",
    ],
    [
      "request and response TLVs",
      (() => {
        const b = new Uint8Array(STATUS_RESPONSE.length + 8);
        b.set(STATUS_RESPONSE);
        b.set(BARE_REQUEST.subarray(44, 52), STATUS_RESPONSE.length);
        b[3] = b.length;
        return b;
      })(),
      "csptp-tlv",
    ],
    [
      "empty request TLV",
      (() => {
        const b = BARE_REQUEST.slice(0, 48);
        b[3] = 48;
        b[47] = 0;
        return b;
      })(),
      "csptp-tlv",
    ],
    [
      "short response TLV",
      mutated(STATUS_RESPONSE, (b) => b.set([0x00, 0x10, 0xf0, 0x03], 46)),
      "tlv",
    ],
    [
      "response ingress nanoseconds 1e9",
      mutated(STATUS_RESPONSE, (b) => b.set([0x3b, 0x9a, 0xca, 0x00], 54)),
      "timestamp",
    ],
  ];
  for (const [name, bytes, reason] of cases) {
    assert.deepEqual(parseCsptp(bytes), { ok: false, reason }, name);
  }
});

test("a short status TLV is skipped, as ntpd-rs does", () => {
  // Status value cut to 16 octets, the message shortened to match.
  const b = STATUS_RESPONSE.slice(0, 86);
  b[3] = 86;
  b[69] = 16;
  const r = parseCsptp(b);
  assert.ok(r.ok);
  assert.equal(r.message.kind === "response" && r.message.status, null);
});

test("PTP (TAI) and Unix times: 37 s apart; corrections carried into the seconds", () => {
  assert.deepEqual(ptpFromUnix(1_700_000_000, 5), { seconds: 1_700_000_037, nanoseconds: 5 });
  assert.deepEqual(unixFromPtp({ seconds: 1_700_000_037, nanoseconds: 999_999_999 }, 2n << 16n), {
    sec: 1_700_000_001,
    nsec: 1,
  });
  assert.deepEqual(unixFromPtp({ seconds: 1_700_000_037, nanoseconds: 0 }, -(1n << 16n)), {
    sec: 1_699_999_999,
    nsec: 999_999_999,
  });
});

test("property: any bytes parse to a message or a drop reason, never a throw", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.uint8Array({ maxLength: 200 }),
        fc
          .tuple(
            fc.constantFrom(BARE_REQUEST, PADDED_REQUEST, STATUS_RESPONSE, FOLLOW_UP),
            fc.nat(),
            fc.nat(255),
          )
          .map(([base, at, value]) => mutated(base, (b) => (b[at % b.length] = value))),
      ),
      (bytes) => {
        const r = parseCsptp(bytes);
        assert.equal(typeof r.ok, "boolean");
      },
    ),
  );
});
