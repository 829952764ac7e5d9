// The server core: every policy path, reply fields, drops and counters.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeExtensionField, extensionFieldTypes } from "../packet/extension-fields.js";
import { decodeHeader, encodeHeader } from "../packet/header.js";
import { kissCode } from "../packet/kiss.js";
import { parsePacket } from "../packet/parse.js";
import type { NtpHeader } from "../packet/types.js";
import { NtpTimestamp } from "../time.js";
import type { ServerPolicy } from "./policy.js";
import { cidrs } from "../../../test/helpers/cidr.js";
import { finishReply, FinishStep } from "./finish.js";
import { NtpServerCore, type ServerDecision } from "./server.js";
import { DROP_REASONS, serverStatsObservation, type DropReason } from "./stats.js";
import {
  initialSystemState,
  linearRootDispersion,
  SystemStateCell,
  type SystemState,
} from "../system/system-state.js";

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const tsHex = (t: NtpTimestamp): string => t.toBits().toString(16).padStart(16, "0");

// ntp_packets.json ntpv4_client_request and the ntpdig request of
// captures/plain-ntpdig_chrony-server.json.
const NTPD_REQUEST =
  "230206e8000003ff0000037d5ec69f0fe5f662987b61b9afe5f663667b64995de5f6636681405590e5f663a8761dde48";
const NTPD_V3_REQUEST =
  "1b0206e8000003ff0000037d5ec69f0fe5f662987b61b9afe5f663667b64995de5f6636681405590e5f663a8761dde48";
const NTPDIG_REQUEST =
  "e3000000000000000000000000000000000000000000000000000000000000000000000000000000eeb25bc95c462000";
// nts_ntp_packets.json captured_request (UID, cookie, authenticator; 296 octets).
const NTS_REQUEST =
  "230004000000000000000000000000000000000000000000000000000000000000000000000000006287db473ff75f5801040024e4833a8d600e1342435cb29de550acc0f8d8fa16e5c5370a620b155f586adad6020400ac1cc40a94da3f94a4d12ac2d609f16f7211596a0acefc62d11f283ad108d801b591385d9bf507f90d2182e6812a58a735dc49c4d3e9b79c72b7f64464f8fc0ded25ea1f7c9b315cd86086fd677490f50e61e6680e290d49770ced44d42f2d9ba89f4d5dce4fdd574951495a1f38dbc7ec1b865ba58f231edd76ee1dafdd66b2b2641f03c6479b429c7ff6596b8244cf67b5a2cd209d39bbe6402bf62045df9550f0387706897912180404002800100010ce89ee973442bc0f43aace4999bdf58e8fee7b1a2d58af6de9a20e561f7ff06a";

const RX = new NtpTimestamp(0xeeb25bc9, 0x5c49aae9);
const TX = new NtpTimestamp(0xeeb25bc9, 0x5c4ff932);

const SYNCED: SystemState = {
  leap: 0,
  stratum: 2,
  referenceId: 0xc0000201,
  precisionLog2: -23,
  rootDelay: 0x236 / 65536,
  ...linearRootDispersion(0x3b7 / 65536, RX, 0),
};

interface Harness {
  core: NtpServerCore;
  out: Uint8Array;
  clockReads: number;
  state: SystemStateCell;
  /** Set by the clock: whether the receive timestamp was already in `out` when it was read. */
  rxWrittenBeforeClockRead: boolean[];
  /** handle() into `out`, then finish(). */
  handle(request: Uint8Array, address?: string, rx?: NtpTimestamp, length?: number): ServerDecision;
  /** As a server does after handle(): T3 from the clock (read only when the finish needs it). */
  finish(d: ServerDecision, out: Uint8Array): void;
}

function harness(policy: Partial<ServerPolicy> = {}, state: SystemState = SYNCED): Harness {
  const out = new Uint8Array(2048);
  const h: Harness = {
    core: undefined as unknown as NtpServerCore,
    out,
    clockReads: 0,
    state: new SystemStateCell(state),
    rxWrittenBeforeClockRead: [],
    handle(request, address = "192.0.2.10", rx = RX, length = request.length) {
      const d = h.core.handle(request, length, address, rx, out);
      h.finish(d, out);
      return d;
    },
    finish(d, to) {
      if (d.action !== "reply" || (d.finish.kind & FinishStep.Stamp) === 0) return;
      h.clockReads++;
      h.rxWrittenBeforeClockRead.push(toHex(to.subarray(32, 40)) === tsHex(RX));
      finishReply(to, d.finish, TX);
    },
  };
  h.core = new NtpServerCore({
    policy,
    systemState: h.state,
    rateLimitSeed: 12345,
  });
  return h;
}

function expectReply(d: ServerDecision, kind: "time" | "deny"): number {
  assert.equal(d.action, "reply", d.action === "drop" ? d.reason : "");
  assert.ok(d.action === "reply");
  assert.equal(d.kind, kind);
  return d.length;
}

function expectDrop(d: ServerDecision, reason: DropReason): void {
  assert.deepEqual({ action: d.action, reason: d.reason }, { action: "drop", reason });
  assert.equal(d.finish.kind, 0, "nothing to finish");
}

function checkStats(h: Harness): void {
  const s = h.core.stats;
  assert.equal(s.receivedPackets, s.acceptedPackets + s.deniedPackets + s.ignoredPackets);
  const sum = DROP_REASONS.reduce((n, r) => n + s.ignoredByReason[r], 0);
  assert.equal(sum, s.ignoredPackets);
  assert.equal(s.rateLimitedPackets, s.ignoredByReason["rate-limited"]);
}

/** A v4 client request with the given transmit timestamp and optional extension fields. */
function request(
  opts: {
    version?: number;
    mode?: number;
    poll?: number;
    fields?: [number, Uint8Array, number][];
  } = {},
): Uint8Array {
  const buf = new Uint8Array(1024);
  const header: NtpHeader = {
    leap: 0,
    version: opts.version ?? 4,
    mode: opts.mode ?? 3,
    stratum: 0,
    poll: opts.poll ?? 6,
    precision: 0,
    rootDelay: 0,
    rootDispersion: 0,
    referenceId: 0,
    referenceTimestamp: NtpTimestamp.ZERO,
    originTimestamp: NtpTimestamp.ZERO,
    receiveTimestamp: NtpTimestamp.ZERO,
    transmitTimestamp: new NtpTimestamp(0x01234567, 0x89abcdef),
  };
  encodeHeader(header, buf);
  let off = 48;
  for (const [type, value, min] of opts.fields ?? [])
    off += encodeExtensionField(type, value, min, buf, off);
  return buf.slice(0, off);
}

test("reply to the captured ntpd client request: every field as ntpd-rs §6.2", () => {
  const h = harness();
  const req = fromHex(NTPD_REQUEST);
  const n = expectReply(h.handle(req), "time");
  assert.equal(n, 48);
  const r = decodeHeader(h.out);
  assert.equal(r.leap, 0);
  assert.equal(r.version, 4);
  assert.equal(r.mode, 4);
  assert.equal(r.stratum, 2);
  assert.equal(r.poll, 6, "poll copied from the request");
  assert.equal(r.precision, -23);
  assert.equal(toHex(h.out.subarray(4, 8)), "00000236");
  assert.equal(toHex(h.out.subarray(8, 12)), "000003b7");
  assert.equal(toHex(h.out.subarray(12, 16)), "c0000201");
  // RX with the fraction and the low 7 bits of the seconds cleared.
  assert.equal(tsHex(r.referenceTimestamp), "eeb25b8000000000");
  assert.equal(tsHex(r.originTimestamp), "e5f663a8761dde48", "origin = request transmit");
  assert.equal(tsHex(r.receiveTimestamp), tsHex(RX));
  assert.equal(tsHex(r.transmitTimestamp), tsHex(TX));
  assert.equal(h.clockReads, 1);
  assert.deepEqual(
    h.rxWrittenBeforeClockRead,
    [true],
    "T3 read after the rest of the reply is built",
  );
  assert.equal(h.core.stats.acceptedPackets, 1);
  checkStats(h);
});

test("reply to the real ntpdig request (capture): same shape as chrony's answer", () => {
  const h = harness(
    {},
    { ...initialSystemState({ localStratum: 1, referenceId: "GPS", precisionLog2: -26 }) },
  );
  const req = fromHex(NTPDIG_REQUEST);
  const n = expectReply(h.handle(req, "127.0.0.1"), "time");
  const parsed = parsePacket(h.out, n);
  assert.ok(parsed.ok);
  const r = parsed.value.header;
  assert.equal(n, 48);
  assert.equal(parsed.value.extensionFields.length, 0);
  // chrony answered: 24 01 00 e6 … (LI 0, VN 4, mode 4, stratum 1, poll 0, precision -26).
  assert.equal(toHex(h.out.subarray(0, 4)), "240100e6");
  assert.equal(toHex(h.out.subarray(12, 16)), "47505320", "GPS, space-padded (ntpd-rs)");
  assert.equal(tsHex(r.originTimestamp), "eeb25bc95c462000");
  assert.equal(tsHex(r.receiveTimestamp), tsHex(RX));
  assert.equal(tsHex(r.transmitTimestamp), tsHex(TX));
});

test("unsynchronized: LI 3, stratum 16, XNON", () => {
  const h = harness({}, initialSystemState());
  expectReply(h.handle(fromHex(NTPD_REQUEST)), "time");
  const r = decodeHeader(h.out);
  assert.equal(r.leap, 3);
  assert.equal(r.stratum, 16);
  assert.equal(toHex(h.out.subarray(12, 16)), "584e4f4e");
  assert.equal(r.precision, -18);
});

test("root dispersion is aged to the receive time", () => {
  const h = harness({}, { ...SYNCED, ...linearRootDispersion(0.001, RX.addSeconds(-100), 15e-6) });
  expectReply(h.handle(fromHex(NTPD_REQUEST)), "time");
  const expected = Math.floor((0.001 + 15e-6 * 100) * 65536);
  assert.equal(decodeHeader(h.out).rootDispersion, expected / 65536);
});

test("NTPv3 requests get NTPv3 replies", () => {
  const h = harness();
  expectReply(h.handle(fromHex(NTPD_V3_REQUEST)), "time");
  assert.equal(h.out[0], 0x1c);
  // A v3 request with a legacy MAC is answered without one.
  const withMac = new Uint8Array(48 + 20);
  withMac.set(fromHex(NTPD_V3_REQUEST));
  assert.equal(expectReply(h.handle(withMac), "time"), 48);
});

test("Unique Identifier fields are echoed; nothing else is", () => {
  const h = harness();
  const uid = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
  const req = request({
    fields: [
      [0x2a, new Uint8Array(12), 16],
      [extensionFieldTypes.UniqueIdentifier, uid, 16],
      [extensionFieldTypes.NtsCookie, new Uint8Array(100), 16],
    ],
  });
  const n = expectReply(h.handle(req), "time");
  assert.equal(n, 48 + 36);
  const parsed = parsePacket(h.out, n);
  assert.ok(parsed.ok);
  assert.deepEqual(
    parsed.value.extensionFields.map((f) => f.type),
    [extensionFieldTypes.UniqueIdentifier],
  );
  assert.deepEqual(parsed.value.extensionFields[0]!.value, uid);
});

test("the real NTS request gets a plain reply echoing only its UID", () => {
  const h = harness();
  const req = fromHex(NTS_REQUEST);
  const n = expectReply(h.handle(req), "time");
  assert.equal(n, 84);
  assert.equal(toHex(h.out.subarray(48, 84)), NTS_REQUEST.slice(96, 168));
  assert.equal(tsHex(decodeHeader(h.out).originTimestamp), "6287db473ff75f58");
  assert.equal(decodeHeader(h.out).poll, 4);
});

test("several UID fields are all echoed (ntpd-rs), still within the request size", () => {
  const h = harness();
  const a = new Uint8Array(32).fill(0xaa);
  const b = new Uint8Array(32).fill(0xbb);
  const req = request({
    fields: [
      [extensionFieldTypes.UniqueIdentifier, a, 16],
      [extensionFieldTypes.UniqueIdentifier, b, 16],
    ],
  });
  assert.equal(expectReply(h.handle(req), "time"), req.length);
  assert.equal(toHex(h.out.subarray(48, req.length)), toHex(req.subarray(48)));
});

test("a Unique Identifier shorter than RFC 8915's 32 octets is not echoed: the reply stays RFC 7822-valid", () => {
  // Found by the server-handle fuzz target: a 16-octet UID field followed by a
  // 20-octet legacy MAC; echoing the UID alone ended the reply in a field
  // shorter than the 28 octets RFC 7822 asks of a last field.
  const h = harness();
  const req = fromHex(
    "2300000000000000000000000000000000000000000000040000000000000000" +
      "000000000000000001020304050607080104001" +
      "03c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c010400143c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c",
  );
  const n = expectReply(h.handle(req), "time");
  assert.equal(n, 48, "only the header: nothing to echo");
  assert.ok(parsePacket(h.out, n).ok);
});

test("only mode 3 is answered: every other mode is dropped and counted", () => {
  const h = harness();
  for (const mode of [0, 1, 2, 4, 5, 6, 7]) {
    expectDrop(h.handle(request({ mode })), "wrong-mode");
  }
  // A short mode 6 (ntpq) or mode 7 (ntpdc) datagram is dropped as wrong mode too.
  expectDrop(h.handle(fromHex("16010001000000000000000000")), "wrong-mode");
  expectDrop(h.handle(fromHex("17000300")), "wrong-mode");
  assert.equal(h.core.stats.ignoredByReason["wrong-mode"], 9);
  assert.equal(h.clockReads, 0);
  expectReply(h.handle(fromHex(NTPD_REQUEST)), "time");
  checkStats(h);
});

test("versions outside accept-ntp-versions are dropped", () => {
  const h = harness();
  for (const version of [0, 1, 2, 5, 6, 7])
    expectDrop(h.handle(request({ version })), "version-not-accepted");
  expectReply(h.handle(request({ version: 3 })), "time");
  expectReply(h.handle(request({ version: 4 })), "time");
  const only4 = harness({ acceptNtpVersions: [4] });
  expectDrop(only4.handle(fromHex(NTPD_V3_REQUEST)), "version-not-accepted");
  expectReply(only4.handle(fromHex(NTPD_REQUEST)), "time");
  // With 5 accepted, a v5 header without the draft identification is malformed (v5.test.ts).
  const with5 = harness({ acceptNtpVersions: [3, 4, 5] });
  expectDrop(with5.handle(request({ version: 5 })), "malformed");
  checkStats(h);
});

test("malformed requests are dropped and counted; a following good request is answered", () => {
  const h = harness();
  const good = fromHex(NTPD_REQUEST);
  const bad: [string, Uint8Array, number?][] = [
    ["empty", new Uint8Array(0)],
    ["truncated header", good.subarray(0, 47)],
    ["one byte", good.subarray(0, 1)],
    ["not a multiple of 4", Uint8Array.from([...good, 0, 0])],
    [
      "oversized",
      (() => {
        const b = new Uint8Array(2052);
        b.set(good);
        return b;
      })(),
    ],
    ["field length 0", Uint8Array.from([...good, 0, 1, 0, 0, ...new Uint8Array(28)])],
    ["field beyond the end", Uint8Array.from([...good, 0, 1, 0, 0x40, ...new Uint8Array(28)])],
    [
      "field length not a multiple of 4",
      Uint8Array.from([...good, 0, 1, 0, 0x1e, ...new Uint8Array(28)]),
    ],
    [
      "too many fields",
      request({
        fields: Array.from(
          { length: 34 },
          () => [0x2a, new Uint8Array(0), 16] as [number, Uint8Array, number],
        ),
      }),
    ],
    [
      "v3 with extension fields",
      Uint8Array.from([...fromHex(NTPD_V3_REQUEST), ...new Uint8Array(28)]),
    ],
    // Issue #9: a UID header whose length (64) runs past the 12 octets present
    // (12 octets are no legacy MAC either), and a lone 16-octet unknown field
    // (the last field of a MAC-less packet must be ≥ 28 octets, RFC 7822).
    [
      "truncated UID field",
      Uint8Array.from([...good, 0x01, 0x04, 0x00, 0x40, ...new Uint8Array(8)]),
    ],
    [
      "lone 16-octet unknown field",
      Uint8Array.from([...good, 0x20, 0x05, 0x00, 0x10, ...new Uint8Array(12)]),
    ],
    ["length beyond the buffer", good, 52],
    ["negative length", good, -1],
  ];
  for (const [name, bytes, length] of bad) {
    const d = h.core.handle(bytes, length ?? bytes.length, "192.0.2.10", RX, h.out);
    assert.deepEqual(
      { action: d.action, reason: d.reason },
      { action: "drop", reason: "malformed" },
      name,
    );
    expectReply(h.handle(good), "time");
  }
  assert.equal(h.core.stats.ignoredByReason.malformed, bad.length);
  assert.equal(h.core.stats.acceptedPackets, bad.length);
  checkStats(h);
});

test("denylist: ignore drops, deny sends a DENY kiss; checked before the allowlist", () => {
  const ignore = harness({ denylist: { filter: cidrs("192.0.2.0/24"), action: "ignore" } });
  expectDrop(ignore.handle(fromHex(NTPD_REQUEST), "192.0.2.10"), "denylist");
  expectReply(ignore.handle(fromHex(NTPD_REQUEST), "198.51.100.1"), "time");

  const deny = harness({
    denylist: { filter: cidrs("192.0.2.0/24"), action: "deny" },
    allowlist: { filter: cidrs("192.0.2.0/24"), action: "ignore" },
  });
  const uid = new Uint8Array(32).fill(7);
  const req = request({ poll: 9, fields: [[extensionFieldTypes.UniqueIdentifier, uid, 16]] });
  const n = expectReply(deny.handle(req, "192.0.2.10"), "deny");
  assert.equal(n, 48 + 36);
  const k = decodeHeader(deny.out);
  assert.equal(kissCode(k), "DENY");
  assert.equal(deny.out[0], 0x24, "LI 0, VN copied, mode 4");
  assert.equal(tsHex(k.originTimestamp), "0123456789abcdef", "origin echoed");
  // Everything else zero: stratum, poll, precision, root delay/dispersion, timestamps.
  assert.equal(toHex(deny.out.subarray(1, 12)), "00".repeat(11));
  assert.equal(toHex(deny.out.subarray(16, 24)), "00".repeat(8));
  assert.equal(toHex(deny.out.subarray(32, 48)), "00".repeat(16));
  assert.deepEqual(deny.out.subarray(52, 84), uid, "UID echoed in the kiss too");
  assert.equal(deny.clockReads, 0);
  assert.equal(deny.core.stats.deniedPackets, 1);
  // A v3 request gets a v3 kiss.
  expectReply(deny.handle(fromHex(NTPD_V3_REQUEST), "192.0.2.10"), "deny");
  assert.equal(deny.out[0], 0x1c);
  // A denied client's malformed packet or wrong mode is still only dropped.
  expectDrop(deny.handle(fromHex(NTPD_REQUEST).subarray(0, 40), "192.0.2.10"), "malformed");
  expectDrop(deny.handle(request({ mode: 6 }), "192.0.2.10"), "wrong-mode");
  checkStats(deny);
});

test("allowlist: clients outside it are ignored or denied", () => {
  const ignore = harness({
    allowlist: { filter: cidrs("10.0.0.0/8", "2001:db8::/32"), action: "ignore" },
  });
  expectReply(ignore.handle(fromHex(NTPD_REQUEST), "10.1.2.3"), "time");
  expectReply(ignore.handle(fromHex(NTPD_REQUEST), "2001:db8::99"), "time");
  expectDrop(ignore.handle(fromHex(NTPD_REQUEST), "11.0.0.1"), "allowlist");
  expectDrop(ignore.handle(fromHex(NTPD_REQUEST), "2001:db9::1"), "allowlist");
  const deny = harness({ allowlist: { filter: cidrs("10.0.0.0/8"), action: "deny" } });
  expectReply(deny.handle(fromHex(NTPD_REQUEST), "11.0.0.1"), "deny");
  expectReply(deny.handle(fromHex(NTPD_REQUEST), "10.0.0.1"), "time");
  checkStats(ignore);
  checkStats(deny);
});

test("IPv4-mapped client addresses are matched as IPv4", () => {
  const h = harness({ denylist: { filter: cidrs("192.0.2.0/24"), action: "ignore" } });
  expectDrop(h.handle(fromHex(NTPD_REQUEST), "::ffff:192.0.2.10"), "denylist");
  expectReply(h.handle(fromHex(NTPD_REQUEST), "::ffff:198.51.100.1"), "time");
  const v6only = harness({ allowlist: { filter: cidrs("::/0"), action: "ignore" } });
  expectDrop(v6only.handle(fromHex(NTPD_REQUEST), "::ffff:192.0.2.10"), "allowlist");
  expectReply(v6only.handle(fromHex(NTPD_REQUEST), "2001:db8::1"), "time");
});

test("an address that is no IP address is dropped (daemon bug guard)", () => {
  const h = harness();
  expectDrop(h.handle(fromHex(NTPD_REQUEST), "localhost"), "invalid-address");
  checkStats(h);
});

test("rate limiting with injected receive times: repeats within the cutoff are dropped silently", () => {
  const h = harness({ rateLimitingCacheSize: 128, rateLimitingCutoffMs: 1000 });
  const req = fromHex(NTPD_REQUEST);
  expectReply(h.handle(req, "192.0.2.1", RX), "time");
  expectDrop(h.handle(req, "192.0.2.1", RX.addSeconds(0.5)), "rate-limited");
  expectReply(h.handle(req, "192.0.2.2", RX.addSeconds(0.5)), "time");
  // The drop refreshed the client's slot: 1.2 s after the first, 0.7 s after the last.
  expectDrop(h.handle(req, "::ffff:192.0.2.1", RX.addSeconds(1.2)), "rate-limited");
  expectReply(h.handle(req, "192.0.2.1", RX.addSeconds(2.3)), "time");
  // Even garbage from a client counts as its last request (ntpd-rs limits before parsing).
  expectDrop(h.handle(Uint8Array.of(0x23, 0, 0), "192.0.2.1", RX.addSeconds(3.4)), "malformed");
  expectDrop(h.handle(req, "192.0.2.1", RX.addSeconds(3.5)), "rate-limited");
  const s = h.core.stats;
  assert.equal(s.rateLimitedPackets, 3);
  assert.equal(s.ignoredPackets, 4);
  assert.equal(s.acceptedPackets, 3);
  checkStats(h);
});

test("rate limiting is off by default and does not apply to denied clients", () => {
  const h = harness();
  for (let i = 0; i < 5; i++) expectReply(h.handle(fromHex(NTPD_REQUEST)), "time");
  const deny = harness({
    rateLimitingCacheSize: 16,
    rateLimitingCutoffMs: 10_000,
    denylist: { filter: cidrs("192.0.2.0/24"), action: "deny" },
  });
  for (let i = 0; i < 3; i++) expectReply(deny.handle(fromHex(NTPD_REQUEST)), "deny");
});

test("require-nts: non-NTS requests are dropped or denied", () => {
  const ignore = harness({ requireNts: "ignore" });
  expectDrop(ignore.handle(fromHex(NTPD_REQUEST)), "nts-required");
  expectDrop(ignore.handle(fromHex(NTS_REQUEST)), "nts-required");
  const deny = harness({ requireNts: "deny" });
  expectReply(deny.handle(fromHex(NTPD_REQUEST)), "deny");
  assert.equal(kissCode(decodeHeader(deny.out)), "DENY");
  const off = harness({ requireNts: false });
  expectReply(off.handle(fromHex(NTPD_REQUEST)), "time");
  checkStats(ignore);
  checkStats(deny);
});

test("a reply that does not fit the output buffer is dropped and counted", () => {
  const h = harness();
  const d = h.core.handle(fromHex(NTPD_REQUEST), 48, "192.0.2.10", RX, new Uint8Array(40));
  expectDrop(d, "response-too-large");
  checkStats(h);
});

test("the request buffer may be the output buffer", () => {
  const h = harness();
  const uid = Uint8Array.from({ length: 32 }, (_, i) => 200 - i);
  const req = request({
    fields: [
      [0x2a, new Uint8Array(40).fill(9), 16],
      [extensionFieldTypes.UniqueIdentifier, uid, 16],
    ],
  });
  const n1 = expectReply(h.handle(req), "time");
  const separate = h.out.slice(0, n1);
  const inPlace = req.slice();
  const d2 = h.core.handle(inPlace, inPlace.length, "192.0.2.10", RX, inPlace);
  h.finish(d2, inPlace);
  const n2 = expectReply(d2, "time");
  assert.equal(n2, n1);
  assert.deepEqual(inPlace.subarray(0, n2), separate);
});

test("send errors are counted through countSendError; observation names are ntpd-rs', then ntpd-ts's", () => {
  const h = harness();
  h.core.countSendError();
  const o = serverStatsObservation(h.core.stats);
  assert.equal(o.response_send_errors, 1);
  assert.deepEqual(Object.keys(o), [
    "received_packets",
    "accepted_packets",
    "denied_packets",
    "ignored_packets",
    "rate_limited_packets",
    "response_send_errors",
    "nts_received_packets",
    "nts_accepted_packets",
    "nts_denied_packets",
    "nts_rate_limited_packets",
    "nts_nak_packets",
    "interleaved_packets",
  ]);
});

/** Requests of random shape: random bytes, sometimes with a valid header and random fields. */
const requestArb = fc.oneof(
  fc.uint8Array({ maxLength: 1100 }),
  fc
    .record({
      byte0: fc.integer({ min: 0, max: 255 }),
      header: fc.uint8Array({ minLength: 47, maxLength: 47 }),
      fields: fc.array(
        fc.record({
          type: fc.oneof(
            fc.constant(extensionFieldTypes.UniqueIdentifier),
            fc.integer({ min: 0, max: 0xffff }),
          ),
          value: fc.uint8Array({ maxLength: 80 }),
          min: fc.constantFrom(0, 16, 28),
        }),
        { maxLength: 8 },
      ),
      tail: fc.uint8Array({ maxLength: 30 }),
      cut: fc.integer({ min: -12, max: 0 }),
    })
    .map(({ byte0, header, fields, tail, cut }) => {
      const buf = new Uint8Array(2048);
      buf[0] = byte0;
      buf.set(header, 1);
      let off = 48;
      for (const f of fields) off += encodeExtensionField(f.type, f.value, f.min, buf, off);
      buf.set(tail, off);
      off += tail.length;
      return buf.slice(0, Math.max(0, off + cut));
    }),
  fc
    .record({
      version: fc.constantFrom(3, 4),
      uid: fc.uint8Array({ minLength: 32, maxLength: 64 }),
      other: fc.uint8Array({ maxLength: 100 }),
    })
    .map(({ version, uid, other }) =>
      request({
        version,
        fields:
          version === 4
            ? [
                [extensionFieldTypes.UniqueIdentifier, uid, 16],
                [0x2a, other, 28],
              ]
            : [],
      }),
    ),
);

test("property: any request → a typed decision, never larger than the request, never throws", () => {
  const h = harness({
    rateLimitingCacheSize: 64,
    rateLimitingCutoffMs: 100,
    denylist: { filter: cidrs("203.0.113.0/24"), action: "deny" },
  });
  const clients = ["192.0.2.1", "203.0.113.5", "2001:db8::1", "::ffff:198.51.100.7"];
  let ms = 0;
  fc.assert(
    fc.property(
      requestArb,
      fc.nat(clients.length - 1),
      fc.integer({ min: -8, max: 8 }),
      (req, c, lengthDelta) => {
        ms += 37;
        const length = Math.max(0, Math.min(req.length, req.length + lengthDelta));
        const out = new Uint8Array(2048).fill(0x55);
        const d = h.core.handle(req, length, clients[c]!, RX.addSeconds(ms / 1000), out);
        h.finish(d, out);
        if (d.action === "reply") {
          assert.ok(d.length <= length, `reply ${d.length} > request ${length}`);
          assert.ok(d.length >= 48);
          const parsed = parsePacket(out, d.length);
          assert.ok(parsed.ok, "the reply is a valid packet");
          assert.equal(parsed.value.header.mode, 4);
          assert.ok(
            parsed.value.header.originTimestamp.equals(decodeHeader(req).transmitTimestamp),
          );
          for (const f of parsed.value.extensionFields)
            assert.equal(f.type, extensionFieldTypes.UniqueIdentifier);
        } else {
          assert.ok(DROP_REASONS.includes(d.reason));
        }
      },
    ),
    { numRuns: 4000 },
  );
  checkStats(h);
  assert.ok(
    h.core.stats.acceptedPackets > 0 &&
      h.core.stats.deniedPackets > 0 &&
      h.core.stats.ignoredPackets > 0,
  );
});
