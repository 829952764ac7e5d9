// NTPv5 in the server core: a v5 request as ntpd-rs 1.9.0 builds it answered
// field by field (draft-ietf-ntp-ntpv5-08 layout), the upgrade echo, the
// drops (no or another draft, v5 not accepted), DENY and require-nts, and
// NtpSource ↔ NtpServerCore round trips for ntp-version 5, "auto" and NTS
// over v5.
import { test } from "node:test";
import assert from "node:assert/strict";
import { AeadId } from "../crypto/aead.js";
import { aeadKeyLength } from "../crypto/registry.js";
import { readU32 } from "../packet/header.js";
import { encodeHeader } from "../packet/header.js";
import { NtpMode } from "../packet/types.js";
import { addServerId, emptyBloomFilter, filterHasServerId } from "../packet/v5-bloom.js";
import { DRAFT_ID, parseV5Packet, V5FieldType } from "../packet/v5.js";
import { encodeCookie } from "../nts/cookie/cookie.js";
import { CookieStash } from "../nts/cookie/stash.js";
import { KeySet } from "../nts/keyset/keyset.js";
import { NtsProtector } from "../nts/packet/client-protector.js";
import { NtpSource } from "../source/source.js";
import { cidrs } from "../../../test/helpers/cidr.js";
import { NtpTimestamp } from "../time.js";
import { SystemStateCell, type SystemState } from "../system/system-state.js";
import { finishReply } from "./finish.js";
import type { ServerPolicy } from "./policy.js";
import { NtpServerCore, type ServerDecision } from "./server.js";
import { seededRandom } from "../../../test/helpers/seeded-random.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

const RX = new NtpTimestamp(0xe84948b2, 0xb640d700);
const TX = new NtpTimestamp(0xe84948b2, 0xb644bff8);
const STATE: SystemState = {
  leap: 0,
  stratum: 2,
  referenceId: 0xc0000201,
  precisionLog2: -24,
  rootDelay: 0.0625,
  rootVarianceBaseTime: RX,
  rootVarianceBase: 0.125 ** 2,
  rootVarianceLinear: 0,
  rootVarianceQuadratic: 0,
  rootVarianceCubic: 0,
};

// A Bloom filter whose octets are their own offsets, so an answered chunk shows where it came from.
const FILTER = Uint8Array.from({ length: 512 }, (_, i) => i & 0xff);

function core(
  policy: Partial<ServerPolicy> = { acceptNtpVersions: [3, 4, 5] },
  keys?: KeySet,
  system = new SystemStateCell(STATE),
  referenceIdFilter: Uint8Array = FILTER,
) {
  const out = new Uint8Array(2048);
  const c = new NtpServerCore({
    policy,
    systemState: system,
    rateLimitSeed: 7,
    random: seededRandom(42),
    referenceIdFilter,
    ...(keys === undefined ? {} : { keySet: { current: () => keys } }),
  });
  return {
    core: c,
    handle(request: Uint8Array, address = "192.0.2.10"): ServerDecision {
      const d = c.handle(request, request.length, address, RX, out);
      if (d.action === "reply") finishReply(out, d.finish, TX);
      return d;
    },
    reply(d: ServerDecision): Uint8Array {
      assert.equal(d.action, "reply", d.action === "drop" ? d.reason : "");
      return out.slice(0, d.length);
    },
  };
}

// A v5 request octet for octet as ntpd-rs 1.9.0 sends it (poll_message_v5 +
// a Reference ID request for the first 16-octet chunk): header (LI 0, VN 5,
// mode 3, poll 4, client cookie 0011223344556677), Draft Identification
// (type f5ff, length 27 = 4 + 23, one zero of padding), Reference ID request
// (type f503, length 20, offset 0, zeros).
const DRAFT_HEX = Buffer.from(DRAFT_ID, "ascii").toString("hex");
const NTPD_RS_V5_REQUEST =
  "2b000400" +
  "00000000" +
  "00000000" +
  "00000000" +
  "0000000000000000" +
  "0011223344556677" +
  "0000000000000000" +
  "0000000000000000" +
  "f5ff001b" +
  DRAFT_HEX +
  "00" +
  "f5030014" +
  "0000" +
  "0000" +
  "00".repeat(12);

test("the ntpd-rs v5 request vector is 96 octets and parses as our draft", () => {
  const bytes = hex(NTPD_RS_V5_REQUEST);
  assert.equal(bytes.length, 96);
  const parsed = parseV5Packet(bytes, bytes.length);
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  assert.deepEqual(
    parsed.value.fields.map((f) => [f.type, f.value.length, f.wireLength]),
    [
      [0xf5ff, 23, 28],
      [0xf503, 16, 20],
    ],
  );
});

test("a v5 request is answered field by field as draft-ietf-ntp-ntpv5-08 lays it out", () => {
  const h = core();
  const request = hex(NTPD_RS_V5_REQUEST);
  const d = h.handle(request);
  assert.equal(d.kind, "time");
  assert.equal(d.nts, false);
  const r = h.reply(d);
  assert.equal(r.length, request.length, "padded to the request's length, never longer");
  assert.equal(r[0], (0 << 6) | (5 << 3) | 4, "LI 0, VN 5, mode 4");
  assert.equal(r[1], 2, "stratum");
  assert.equal(r[2], 4, "poll copied");
  assert.equal(r[3], 0xe8, "precision -24");
  assert.equal(readU32(r, 4), 0.0625 * 2 ** 28, "root delay, time32");
  assert.equal(readU32(r, 8), 0.125 * 2 ** 28, "root dispersion, time32");
  assert.equal(r[12], 0, "timescale UTC");
  assert.equal(r[13], 0, "era 0");
  assert.equal(toHex(r.subarray(14, 16)), "0001", "flags: synchronized");
  assert.notEqual(toHex(r.subarray(16, 24)), "0000000000000000", "random server cookie");
  assert.equal(toHex(r.subarray(24, 32)), "0011223344556677", "client cookie echoed");
  assert.equal(toHex(r.subarray(32, 40)), "e84948b2b640d700", "T2");
  assert.equal(readU32(r, 40), TX.seconds, "T3 seconds");
  const parsed = parseV5Packet(r, r.length);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.message);
  if (!parsed.ok) return;
  const fields = parsed.value.fields;
  // 48 + 20 + 28: as long as the request already, so no Padding field.
  assert.deepEqual(
    fields.map((f) => f.type),
    [V5FieldType.ReferenceIdResponse, V5FieldType.DraftIdentification],
  );
  assert.equal(toHex(fields[0]!.value), toHex(FILTER.subarray(0, 16)), "Bloom chunk at 0");
  assert.equal(Buffer.from(fields[1]!.value).toString("ascii"), DRAFT_ID);
  assert.equal(toHex(r.subarray(68, 72)), "f5ff001b", "draft field length 27, not rounded");
  assert.equal(h.core.stats.acceptedPackets, 1);
});

test("a longer v5 request gets a reply padded to its length with a Padding field", () => {
  const h = core();
  // The vector and an unknown 24-octet field (type 0xf5aa), which is not echoed.
  const request = hex(NTPD_RS_V5_REQUEST + "f5aa0018" + "ab".repeat(20));
  const r = h.reply(h.handle(request));
  assert.equal(r.length, 120);
  const parsed = parseV5Packet(r, r.length);
  assert.ok(parsed.ok);
  if (!parsed.ok) return;
  const last = parsed.value.fields.at(-1)!;
  assert.equal(last.type, V5FieldType.Padding);
  assert.equal(last.wireLength, 24);
  assert.ok(last.value.every((b) => b === 0));
});

test("a Bloom chunk request at another offset is answered from there; outside the filter not at all", () => {
  const h = core();
  const request = hex(NTPD_RS_V5_REQUEST);
  request[48 + 28 + 4] = 0x01; // offset 0x0100
  let parsed = parseV5Packet(h.reply(h.handle(request)), 96);
  assert.ok(parsed.ok);
  if (parsed.ok)
    assert.equal(toHex(parsed.value.fields[0]!.value), toHex(FILTER.subarray(256, 272)));
  request[48 + 28 + 4] = 0x02; // offset 512: outside
  parsed = parseV5Packet(h.reply(h.handle(request)), 96);
  assert.ok(parsed.ok);
  if (parsed.ok) {
    assert.deepEqual(
      parsed.value.fields.map((f) => f.type),
      [V5FieldType.DraftIdentification, V5FieldType.Padding],
    );
  }
});

test("the Bloom filter served is our own joined with the upstream filters of the state, and back", () => {
  // Our ID's bits and an upstream filter's bits, both inside the first 16-octet chunk.
  const own = emptyBloomFilter();
  addServerId(own, new Uint16Array([0, 9, 18, 27, 36, 45, 54, 63, 72, 81]));
  const ownCopy = own.slice();
  const upstream = emptyBloomFilter();
  addServerId(upstream, new Uint16Array([1, 10, 19, 28, 37, 46, 55, 64, 73, 82]));
  const system = new SystemStateCell(STATE);
  const h = core({ acceptNtpVersions: [3, 4, 5] }, undefined, system, own);
  const firstChunk = (): string => {
    const parsed = parseV5Packet(h.reply(h.handle(hex(NTPD_RS_V5_REQUEST))), 96);
    assert.ok(parsed.ok);
    return parsed.ok ? toHex(parsed.value.fields[0]!.value) : "";
  };
  assert.equal(firstChunk(), toHex(own.subarray(0, 16)), "no upstream filter: our own");
  system.set({ ...STATE, upstreamReferenceIds: upstream });
  const both = own.slice();
  for (let i = 0; i < both.length; i++) both[i]! |= upstream[i]!;
  assert.notEqual(toHex(both.subarray(0, 16)), toHex(own.subarray(0, 16)));
  assert.equal(firstChunk(), toHex(both.subarray(0, 16)), "our ID and the upstream ones");
  system.set({ ...STATE, upstreamReferenceIds: null });
  assert.equal(firstChunk(), toHex(own.subarray(0, 16)), "the upstream source gone: our own again");
  assert.deepEqual(own, ownCopy, "the shared filter of our own ID is never written");
});

test("v5 requests without our draft identification, or with another, are dropped as malformed", () => {
  const h = core();
  const other = hex(NTPD_RS_V5_REQUEST);
  other[48 + 4 + 22] = "9".charCodeAt(0); // draft-ietf-ntp-ntpv5-09
  assert.equal(h.handle(other).reason, "malformed");
  const bare = hex(NTPD_RS_V5_REQUEST).subarray(0, 48);
  assert.equal(h.handle(bare).reason, "malformed");
  const broken = hex(NTPD_RS_V5_REQUEST);
  broken[48 + 3] = 200; // draft field longer than the packet
  assert.equal(h.handle(broken).reason, "malformed");
  assert.equal(h.core.stats.ignoredByReason.malformed, 3);
});

test("a server without 5 in accept-ntp-versions drops v5 requests and echoes no upgrade", () => {
  const h = core({});
  assert.equal(h.handle(hex(NTPD_RS_V5_REQUEST)).reason, "version-not-accepted");
  const r = h.reply(h.handle(upgradeRequest()));
  assert.notEqual(toHex(r.subarray(16, 24)), Buffer.from("NTP5DRFT").toString("hex"));
  assert.equal(readU32(r, 16), (RX.seconds & 0xffffff80) >>> 0, "the usual reference timestamp");
});

function upgradeRequest(): Uint8Array {
  const bytes = new Uint8Array(48);
  encodeHeader(
    {
      leap: 0,
      version: 4,
      mode: NtpMode.Client,
      stratum: 0,
      poll: 4,
      precision: 0,
      rootDelay: 0,
      rootDispersion: 0,
      referenceId: 0,
      referenceTimestamp: NtpTimestamp.fromBits(
        BigInt("0x" + Buffer.from("NTP5DRFT").toString("hex")),
      ),
      originTimestamp: NtpTimestamp.ZERO,
      receiveTimestamp: NtpTimestamp.ZERO,
      transmitTimestamp: new NtpTimestamp(1, 2),
    },
    bytes,
  );
  return bytes;
}

test("a v4 request with the NTP5DRFT reference timestamp gets it echoed when v5 is accepted", () => {
  const h = core();
  const r = h.reply(h.handle(upgradeRequest()));
  assert.equal((r[0]! >>> 3) & 7, 4, "still a v4 reply");
  assert.equal(Buffer.from(r.subarray(16, 24)).toString("ascii"), "NTP5DRFT");
});

test("v5 DENY: stratum 0, poll 127, no synchronized flag, cookie echoed, draft field, no padding", () => {
  const h = core({
    acceptNtpVersions: [5],
    denylist: { filter: cidrs("192.0.2.0/24"), action: "deny" },
  });
  const d = h.handle(hex(NTPD_RS_V5_REQUEST));
  assert.equal(d.kind, "deny");
  const r = h.reply(d);
  assert.equal(r[1], 0);
  assert.equal(r[2], 127);
  assert.equal(r[15], 0);
  assert.equal(toHex(r.subarray(24, 32)), "0011223344556677");
  const parsed = parseV5Packet(r, r.length);
  assert.ok(parsed.ok);
  assert.equal(r.length, 48 + 28);
});

test("require-nts applies to v5: ignore drops, deny answers DENY", () => {
  assert.equal(
    core({ acceptNtpVersions: [5], requireNts: "ignore" }).handle(hex(NTPD_RS_V5_REQUEST)).reason,
    "nts-required",
  );
  assert.equal(
    core({ acceptNtpVersions: [5], requireNts: "deny" }).handle(hex(NTPD_RS_V5_REQUEST)).kind,
    "deny",
  );
});

test("the reply may be written over the request itself", () => {
  const c = new NtpServerCore({
    policy: { acceptNtpVersions: [5] },
    systemState: new SystemStateCell(STATE),
    random: seededRandom(1),
    referenceIdFilter: FILTER,
  });
  const buf = new Uint8Array(2048);
  buf.set(hex(NTPD_RS_V5_REQUEST));
  const d = c.handle(buf, 96, "192.0.2.1", RX, buf);
  assert.equal(d.action, "reply");
  finishReply(buf, d.finish, TX);
  const parsed = parseV5Packet(buf, d.length);
  assert.ok(parsed.ok);
  assert.equal(toHex(buf.subarray(24, 32)), "0011223344556677");
});

function drive(source: NtpSource, h: ReturnType<typeof core>, polls: number) {
  const versions: number[] = [];
  let now = RX.addSeconds(-0.01);
  for (let i = 0; i < polls; i++) {
    const p = source.poll(now);
    assert.equal(p.kind, "request");
    if (p.kind !== "request") break;
    versions.push((p.request[0]! >>> 3) & 7);
    source.sent(now);
    const d = h.handle(p.request);
    if (d.action === "reply") {
      const reply = h.reply(d);
      assert.ok(reply.length <= p.request.length, "never larger than the request");
      const event = source.handleResponse(reply, reply.length, now.addSeconds(0.02));
      assert.ok(event.kind === "measurement", JSON.stringify(event));
    }
    now = now.addSeconds(16);
  }
  return versions;
}

test("ntp-version = 5: v5 requests, v5 replies measured, the Bloom filter fetched in 32 chunks", () => {
  const h = core();
  const ours = new Uint16Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const filter = emptyBloomFilter();
  addServerId(filter, ours);
  assert.ok(filterHasServerId(filter, ours));
  const source = new NtpSource({ version: 5, random: seededRandom(3) });
  assert.deepEqual(drive(source, h, 3), [5, 5, 5]);
  assert.equal(source.protocolState, "v5");
});

test('ntp-version = "auto" upgrades against a v5 server and stays on v4 against a v4-only one', () => {
  const upgraded = new NtpSource({ version: "auto", random: seededRandom(4) });
  assert.deepEqual(drive(upgraded, core(), 4), [4, 5, 5, 5]);
  assert.equal(upgraded.protocolState, "v5");
  const stays = new NtpSource({ version: "auto", random: seededRandom(5) });
  assert.deepEqual(drive(stays, core({}), 10), [4, 4, 4, 4, 4, 4, 4, 4, 4, 4]);
  assert.equal(stays.protocolState, "v4", "gave up after 8 replies without the echo");
});

test('"auto" falls back to v4 when the server echoes the upgrade but never answers v5', () => {
  // A server that echoes NTP5DRFT (accepts 5) but whose v5 replies get lost.
  const h = core();
  const source = new NtpSource({ version: "auto", random: seededRandom(6) });
  let now = RX;
  const versions: number[] = [];
  for (let i = 0; i < 6; i++) {
    const p = source.poll(now);
    if (p.kind !== "request") break;
    const version = (p.request[0]! >>> 3) & 7;
    versions.push(version);
    source.sent(now);
    if (version === 4) {
      const reply = h.reply(h.handle(p.request));
      source.handleResponse(reply, reply.length, now.addSeconds(0.01));
    }
    now = now.addSeconds(16);
  }
  // upgrade on the 1st reply; 2 unanswered v5 polls; back to v4 for good.
  assert.deepEqual(versions, [4, 5, 5, 4, 4, 4]);
  assert.equal(source.protocolState, "v4");
});

test("a v5 source refuses v4 replies and a v4 source refuses v5 replies", () => {
  const h = core();
  const v5 = new NtpSource({ version: 5, random: seededRandom(7) });
  const p = v5.poll(RX);
  assert.equal(p.kind, "request");
  const v4reply = h.reply(h.handle(upgradeRequest()));
  assert.deepEqual(v5.handleResponse(v4reply, v4reply.length, RX), {
    kind: "ignored",
    reason: "version",
    detail: "version 4",
  });
  const v4 = new NtpSource({ random: seededRandom(8) });
  v4.poll(RX);
  const v5reply = h.reply(h.handle(hex(NTPD_RS_V5_REQUEST)));
  assert.equal(v4.handleResponse(v5reply, v5reply.length, RX).kind, "ignored");
});

test("a v5 source whose server's Bloom filter holds our own ID is unusable (a loop)", () => {
  const ours = new Uint16Array([11, 22, 33, 44, 55, 66, 77, 88, 99, 111]);
  const filter = emptyBloomFilter();
  addServerId(filter, ours);
  const c = new NtpServerCore({
    policy: { acceptNtpVersions: [5] },
    systemState: new SystemStateCell(STATE),
    random: seededRandom(9),
    referenceIdFilter: filter,
  });
  const out = new Uint8Array(2048);
  const source = new NtpSource({ version: 5, random: seededRandom(10), serverId: ours });
  let now = RX;
  const kinds: string[] = [];
  for (let i = 0; i < 33; i++) {
    const p = source.poll(now);
    if (p.kind !== "request") break;
    source.sent(now);
    const d = c.handle(p.request, p.request.length, "192.0.2.1", RX, out);
    finishReply(out, d.finish, TX);
    const e = source.handleResponse(out, d.length, now.addSeconds(0.01));
    kinds.push(e.kind === "unusable" ? `unusable:${e.reason}` : e.kind);
    now = now.addSeconds(16);
  }
  assert.deepEqual(kinds.slice(0, 31), Array(31).fill("measurement"), "filter not complete yet");
  assert.equal(kinds[31], "unusable:loop", "the 32nd chunk completes it");
});

for (const aead of [AeadId.AES_SIV_CMAC_256, AeadId.AES_SIV_CMAC_512]) {
  test(`NTS over v5 (AEAD ${aead}): authenticated v5 replies, cookies refilled, draft field authenticated`, () => {
    const keys = KeySet.fromParts({
      keys: [0, 1, 2].map((i) => new Uint8Array(64).fill(16 + i)),
      idOffset: 100,
      primary: 2,
    });
    const h = core({ acceptNtpVersions: [4, 5] }, keys);
    const k = aeadKeyLength(aead)!;
    const session = { aead, c2s: new Uint8Array(k).fill(1), s2c: new Uint8Array(k).fill(0x81) };
    const stash = new CookieStash();
    stash.add(encodeCookie(keys, session, seededRandom(1)));
    const protector = new NtsProtector({ ...session, stash, random: seededRandom(11) });
    const source = new NtpSource({ version: 5, protector, random: seededRandom(12) });
    let now = RX.addSeconds(-0.01);
    for (let i = 0; i < 4; i++) {
      const p = source.poll(now);
      assert.equal(p.kind, "request");
      if (p.kind !== "request") return;
      source.sent(now);
      const req = parseV5Packet(p.request, p.request.length);
      assert.ok(req.ok);
      if (!req.ok) return;
      const types = req.value.fields.map((f) => f.type);
      assert.ok(
        types.indexOf(V5FieldType.DraftIdentification) < types.indexOf(0x0404),
        "draft field before the authenticator",
      );
      const d = h.handle(p.request);
      assert.equal(d.kind, "time");
      assert.equal(d.nts, true);
      const reply = h.reply(d);
      assert.ok(reply.length <= p.request.length);
      const e = source.handleResponse(reply, reply.length, now.addSeconds(0.02));
      assert.equal(e.kind, "measurement", JSON.stringify(e));
      now = now.addSeconds(16);
    }
    assert.ok(stash.count >= 1, "cookies came back");
    assert.equal(h.core.stats.ntsAcceptedPackets, 4);
  });
}

test("NTS over v5: a bad cookie gets a v5 NAK (flag set), which the client takes as an NTSN kiss", () => {
  const keys = KeySet.fromParts({ keys: [new Uint8Array(64).fill(3)], idOffset: 1, primary: 0 });
  const other = KeySet.fromParts({ keys: [new Uint8Array(64).fill(4)], idOffset: 50, primary: 0 });
  const h = core({ acceptNtpVersions: [5] }, keys);
  const session = {
    aead: AeadId.AES_SIV_CMAC_256,
    c2s: new Uint8Array(32).fill(1),
    s2c: new Uint8Array(32).fill(2),
  };
  const stash = new CookieStash();
  stash.add(encodeCookie(other, session, seededRandom(1)));
  const source = new NtpSource({
    version: 5,
    protector: new NtsProtector({ ...session, stash, random: seededRandom(13) }),
    random: seededRandom(14),
  });
  const p = source.poll(RX);
  assert.equal(p.kind, "request");
  if (p.kind !== "request") return;
  const d = h.handle(p.request);
  assert.equal(d.kind, "nak");
  const r = h.reply(d);
  assert.equal(r[1], 0);
  assert.equal(r[15], 0x04, "NTS NAK flag");
  const e = source.handleResponse(r, r.length, RX);
  assert.equal(e.kind, "kiss");
  if (e.kind === "kiss") assert.equal(e.code, "NTSN");
});

test("v5 replies announce a leap until it happens, and say LI 0 after it", () => {
  const leapDay = (at: number) => {
    const c = new NtpServerCore({
      policy: { acceptNtpVersions: [4, 5] },
      systemState: new SystemStateCell({ ...STATE, leap: 1, leapEvent: { at, insert: true } }),
      rateLimitSeed: 7,
      random: seededRandom(42),
      referenceIdFilter: FILTER,
    });
    const out = new Uint8Array(2048);
    const request = hex(NTPD_RS_V5_REQUEST);
    const d = c.handle(request, request.length, "192.0.2.10", RX, out);
    assert.equal(d.action, "reply");
    return out[0]! >> 6;
  };
  assert.equal(leapDay(RX.seconds + 60), 1, "before midnight: insert announced");
  assert.equal(leapDay(RX.seconds - 1), 0, "after it: no leap pending");
});
