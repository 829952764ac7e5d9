// The server core serving NTS: the synthetic AEAD 15 response rebuilt, chrony,
// NTPsec and ntpd-rs requests served once their keys are in a cookie of ours,
// client ↔ server round trips through NtpSource, NAKs, DENY, require-nts, the
// size rule, and hostile input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { AeadId } from "../crypto/aead.js";
import { aeadKeyLength, createAead } from "../crypto/registry.js";
import { encodeExtensionField } from "../packet/extension-fields.js";
import { decodeHeader } from "../packet/header.js";
import { kissCode } from "../packet/kiss.js";
import { MAX_NTP_PACKET_LENGTH, parsePacket } from "../packet/parse.js";
import type { ExtensionField, NtpPacket } from "../packet/types.js";
import { NtpSource } from "../source/source.js";
import { NtpTimestamp } from "../time.js";
import { cookieLength, decodeCookie, encodeCookie } from "../nts/cookie/cookie.js";
import { CookieStash } from "../nts/cookie/stash.js";
import { KeySet, fillFrom } from "../nts/keyset/keyset.js";
import {
  AuthenticatorView,
  NtsFieldType,
  openAuthenticator,
  readAuthenticator,
  writeAuthenticator,
  writeCookie,
  writePlaceholder,
  writeUniqueIdentifier,
} from "../nts/packet/fields.js";
import { NtsProtector } from "../nts/packet/client-protector.js";
import type { ServerPolicy } from "./policy.js";
import { cidrs } from "../../../test/helpers/cidr.js";
import { finishReply, ReplyFinish } from "./finish.js";
import { NtpServerCore, type ServerDecision } from "./server.js";
import { DROP_REASONS, ServerStats } from "./stats.js";
import { SystemStateCell, type SystemState } from "../system/system-state.js";
import { NtsRequestHandler } from "./nts.js";
import { NtsFieldScanner } from "../nts/packet/scan.js";
import { seededRandom } from "../../../test/helpers/seeded-random.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`../nts/packet/fixtures/${name}`, import.meta.url), "utf8")) as T;

interface Packets {
  captured: Record<string, string>;
  synthetic_aead15: Record<string, string>;
}
interface Exchange {
  name: string;
  c2s_key: string;
  s2c_key: string;
  request: string;
  response: string;
}
const packets = fixture<Packets>("nts_ntp_packets.json");
const exchanges = fixture<{ exchanges: Exchange[] }>("captures.json").exchanges;

// ---------------------------------------------------------------- helpers

/** The synthetic response's time fields: RX, TX and a system state giving its header. */
const RX = new NtpTimestamp(0xe84948b2, 0xb640d701);
const TX = new NtpTimestamp(0xe84948b2, 0xb644bff8);
const STATE: SystemState = {
  leap: 0,
  stratum: 2,
  referenceId: 0xc0000201,
  precisionLog2: -24,
  rootDelay: 0x10 / 65536,
  rootVarianceBaseTime: RX,
  rootVarianceBase: (0x20 / 65536) ** 2,
  rootVarianceLinear: 0,
  rootVarianceQuadratic: 0,
  rootVarianceCubic: 0,
};

function keySet(seed = 1): KeySet {
  const keys = [0, 1, 2].map((i) => new Uint8Array(64).fill(seed * 16 + i));
  return KeySet.fromParts({ keys, idOffset: 100, primary: 2 });
}

interface Harness {
  core: NtpServerCore;
  keys: KeySet;
  out: Uint8Array;
  /** handle() into `out`, then finishReply with T3 = TX. */
  handle(request: Uint8Array, address?: string): ServerDecision;
  /** The same into another buffer (e.g. the request itself). */
  handleInto(request: Uint8Array, length: number, address: string, to: Uint8Array): ServerDecision;
  /** The reply of the last handle(). */
  reply(d: ServerDecision): Uint8Array;
}

function harness(
  options: {
    policy?: Partial<ServerPolicy>;
    keys?: KeySet;
    /** "default": the core's own (pooled node:crypto randomness, as in the daemon). */
    random?: ((n: number) => Uint8Array) | "default";
  } = {},
): Harness {
  const keys = options.keys ?? keySet();
  const out = new Uint8Array(2048);
  const core = new NtpServerCore({
    policy: options.policy ?? {},
    systemState: new SystemStateCell(STATE),
    rateLimitSeed: 7,
    keySet: { current: () => keys },
    random: options.random === "default" ? undefined : (options.random ?? seededRandom(42)),
  });
  const handleInto = (request: Uint8Array, length: number, address: string, to: Uint8Array) => {
    const d = core.handle(request, length, address, RX, to);
    if (d.action === "reply") finishReply(to, d.finish, TX);
    return d;
  };
  return {
    core,
    keys,
    out,
    handle: (request, address = "192.0.2.10") => handleInto(request, request.length, address, out),
    handleInto,
    reply(d) {
      assert.equal(d.action, "reply", d.action === "drop" ? d.reason : "");
      return d.action === "reply" ? out.slice(0, d.length) : new Uint8Array(0);
    },
  };
}

function parse(bytes: Uint8Array): NtpPacket {
  const parsed = parsePacket(bytes);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
  return parsed.value;
}

const types = (fields: ExtensionField[]): number[] => fields.map((f) => f.type);

interface Keys {
  aead: AeadId;
  c2s: Uint8Array;
  s2c: Uint8Array;
}

function sessionKeys(aead: AeadId, seed = 1): Keys {
  const k = aeadKeyLength(aead)!;
  return { aead, c2s: new Uint8Array(k).fill(seed), s2c: new Uint8Array(k).fill(seed + 0x80) };
}

interface RequestSpec {
  keys: Keys;
  /** Cookie fields before the authenticator (default: one cookie of ours). */
  cookies?: Uint8Array[];
  /** Placeholder body lengths. */
  placeholders?: number[];
  uid?: Uint8Array;
  /** Unknown fields before the authenticator (authenticated, ignored). */
  extra?: number;
  /** Fields inside the authenticator. */
  encrypted?: [number, Uint8Array][];
  nonceLength?: number;
  additionalPadding?: number;
  /** Key the request is sealed with (default keys.c2s). */
  sealWith?: Uint8Array;
  header?: Uint8Array;
}

const UID = new Uint8Array(32).fill(0x3c);
const ORIGIN = "0123456789abcdef";

function defaultHeader(): Uint8Array {
  const h = new Uint8Array(48);
  h[0] = 0x23;
  h[2] = 6;
  h.set(hex(ORIGIN), 40);
  return h;
}

/** An NTS request built with the field writers. */
function ntsRequest(spec: RequestSpec, keys: KeySet): Uint8Array {
  const out = new Uint8Array(4096);
  out.set(spec.header ?? defaultHeader());
  let off = 48;
  off += writeUniqueIdentifier(out, off, spec.uid ?? UID);
  for (const cookie of spec.cookies ?? [encodeCookie(keys, spec.keys, seededRandom(9))]) {
    off += writeCookie(out, off, cookie, false);
  }
  for (const n of spec.placeholders ?? []) off += writePlaceholder(out, off, n);
  for (let i = 0; i < (spec.extra ?? 0); i++) {
    off += encodeExtensionField(0x7777, new Uint8Array(12).fill(i), 16, out, off);
  }
  const inner = new Uint8Array(2048);
  let n = 0;
  for (const [type, value] of spec.encrypted ?? []) {
    n += encodeExtensionField(type, value, 0, inner, n);
  }
  const cipher = createAead(spec.keys.aead, spec.sealWith ?? spec.keys.c2s);
  const nonce = new Uint8Array(spec.nonceLength ?? cipher.nonceLength).fill(0x11);
  off += writeAuthenticator(out, off, cipher, nonce, inner.subarray(0, n), spec.additionalPadding);
  return out.slice(0, off);
}

/** Verifies an NTS reply under `s2c`: its cookies (bodies) and authenticated fields. */
function openReply(reply: Uint8Array, keys: Keys) {
  const packet = parse(reply);
  const fields = packet.extensionFields;
  const index = fields.findIndex((f) => f.type === NtsFieldType.Authenticator);
  assert.ok(index >= 0, "reply has no authenticator");
  assert.equal(index, fields.length - 1, "the authenticator is the last field");
  const field = fields[index]!;
  const view = new AuthenticatorView();
  assert.ok(readAuthenticator(reply, field.offset, field.value.length, view));
  const plaintext = openAuthenticator(reply, view, createAead(keys.aead, keys.s2c));
  assert.ok(plaintext !== null, "reply does not verify under S2C");
  const inner = parse(concat(new Uint8Array(48), plaintext)).extensionFields;
  assert.ok(inner.every((f) => f.type === NtsFieldType.Cookie));
  return {
    packet,
    authenticated: fields.slice(0, index),
    cookies: inner.map((f) => f.value.slice()),
    nonce: reply.slice(view.nonceOffset, view.nonceOffset + view.nonceLength),
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function sameKeys(cookie: Uint8Array, keys: KeySet, expected: Keys): void {
  const contents = decodeCookie(keys, cookie);
  assert.ok(contents !== null, "new cookie does not decode");
  assert.equal(contents.aead, expected.aead);
  assert.deepEqual(contents.c2s, expected.c2s);
  assert.deepEqual(contents.s2c, expected.s2c);
}

function expectKind(d: ServerDecision, kind: "time" | "deny" | "nak", nts: boolean): void {
  assert.equal(d.action, "reply", d.action === "drop" ? d.reason : "");
  if (d.action !== "reply") return;
  assert.equal(d.kind, kind);
  assert.equal(d.nts, nts);
}

function expectDrop(d: ServerDecision, reason: string): void {
  assert.deepEqual({ action: d.action, reason: d.reason }, { action: "drop", reason });
  assert.equal(d.finish.kind, 0, "nothing to finish");
}

function checkStats(h: Harness): void {
  const s = h.core.stats;
  assert.equal(
    s.receivedPackets,
    s.acceptedPackets + s.deniedPackets + s.ignoredPackets + s.ntsNakPackets,
  );
  assert.equal(
    DROP_REASONS.reduce((n, r) => n + s.ignoredByReason[r], 0),
    s.ignoredPackets,
  );
  assert.ok(s.ntsAcceptedPackets <= s.acceptedPackets);
  assert.ok(s.ntsDeniedPackets <= s.deniedPackets);
  assert.ok(s.ntsReceivedPackets >= s.ntsAcceptedPackets + s.ntsDeniedPackets + s.ntsNakPackets);
}

/** The NAK shape: stratum 0, NTSN, origin echoed, UIDs only, no cookie, no authenticator. */
function expectNak(h: Harness, request: Uint8Array): void {
  const d = h.handle(request);
  expectKind(d, "nak", true);
  const reply = h.reply(d);
  const header = decodeHeader(reply);
  assert.equal(kissCode(header), "NTSN");
  assert.equal(header.mode, 4);
  assert.equal(header.version, 4);
  assert.equal(header.originTimestamp.toBits().toString(16).padStart(16, "0"), ORIGIN);
  assert.ok(header.receiveTimestamp.isZero() && header.transmitTimestamp.isZero());
  const fields = parse(reply).extensionFields;
  assert.deepEqual(types(fields), [NtsFieldType.UniqueIdentifier]);
  assert.deepEqual(fields[0]!.value, UID);
}

// ---------------------------------------------------------------- byte-exact

test("server builder: the synthetic AEAD 15 response, byte for byte", () => {
  const v = packets.synthetic_aead15;
  const expected = hex(v.response!);
  const out = new Uint8Array(400);
  out.set(expected.subarray(0, 48));
  let off = 48 + writeUniqueIdentifier(out, 48, hex(v.unique_identifier!));
  const plaintext = new Uint8Array(300);
  let n = writeCookie(plaintext, 0, new Uint8Array(100).fill(0x5a), true);
  n += writeCookie(plaintext, n, new Uint8Array(100).fill(0xa5), true);
  assert.equal(toHex(plaintext.subarray(0, n)), v.response_plaintext);
  const s2c = createAead(AeadId.AES_SIV_CMAC_256, hex(v.s2c_key!));
  off += writeAuthenticator(out, off, s2c, hex(v.server_nonce!), plaintext.subarray(0, n));
  assert.equal(off, 332);
  assert.equal(toHex(out.subarray(0, off)), v.response);
});

test("handle(): the synthetic request with a cookie of ours gets the synthetic header, UID and two cookies", () => {
  const v = packets.synthetic_aead15;
  const h = harness({
    // Two cookie nonces, then the reply nonce of the synthetic response.
    random: (() => {
      const chunks = [
        new Uint8Array(16).fill(0x01),
        new Uint8Array(16).fill(0x02),
        hex(v.server_nonce!),
      ];
      return (n: number) => chunks.shift()!.subarray(0, n);
    })(),
  });
  const keys: Keys = { aead: AeadId.AES_SIV_CMAC_256, c2s: hex(v.c2s_key!), s2c: hex(v.s2c_key!) };
  const ours = encodeCookie(h.keys, keys, seededRandom(3));
  assert.equal(ours.length, 104);
  const request = ntsRequest(
    {
      keys,
      header: hex(v.request!).subarray(0, 48),
      uid: hex(v.unique_identifier!),
      cookies: [ours],
      placeholders: [104],
    },
    h.keys,
  );
  assert.equal(request.length, 340);
  const d = h.handle(request);
  expectKind(d, "time", true);
  const reply = h.reply(d);
  assert.equal(reply.length, 340, "placeholders pay for the extra cookie: same size");
  assert.equal(toHex(reply.subarray(0, 84)), v.response!.slice(0, 168));
  const opened = openReply(reply, keys);
  assert.equal(toHex(opened.nonce), v.server_nonce);
  assert.equal(opened.cookies.length, 2);
  for (const c of opened.cookies) sameKeys(c, h.keys, keys);
  assert.notDeepEqual(opened.cookies[0], opened.cookies[1]);
  assert.notDeepEqual(opened.cookies[0], ours);
  assert.equal(new DataView(opened.cookies[0]!.buffer).getUint32(0), h.keys.primaryId);
  assert.equal(h.core.stats.ntsAcceptedPackets, 1);
  checkStats(h);
});

// ---------------------------------------------------------------- interop

test("chrony and NTPsec clients: their requests with our cookie are served, replies verify under their S2C", () => {
  for (const e of exchanges) {
    const h = harness();
    const keys: Keys = { aead: AeadId.AES_SIV_CMAC_256, c2s: hex(e.c2s_key), s2c: hex(e.s2c_key) };
    const captured = hex(e.request);
    const fields = parse(captured).extensionFields;
    const cookieField = fields.find((f) => f.type === NtsFieldType.Cookie)!;
    const authField = fields.find((f) => f.type === NtsFieldType.Authenticator)!;
    // Put our cookie (their keys) in place of theirs and re-authenticate with C2S.
    const ours = encodeCookie(h.keys, keys, seededRandom(5));
    const request = new Uint8Array(captured.length + 64);
    request.set(captured.subarray(0, cookieField.offset));
    let off = cookieField.offset + writeCookie(request, cookieField.offset, ours, false);
    const between = captured.subarray(
      cookieField.offset + 4 + cookieField.value.length,
      authField.offset,
    );
    request.set(between, off);
    off += between.length;
    const nonce = authField.value.subarray(4, 20);
    off += writeAuthenticator(
      request,
      off,
      createAead(keys.aead, keys.c2s),
      nonce,
      new Uint8Array(0),
    );
    // (chrony's own cookies are 100 octets, ours 104: the request may grow by 4.)
    const req = request.slice(0, off);

    const d = h.handle(req);
    expectKind(d, "time", true);
    const reply = h.reply(d);
    assert.ok(reply.length <= req.length, e.name);
    const opened = openReply(reply, keys);
    const uid = fields.find((f) => f.type === NtsFieldType.UniqueIdentifier)!.value;
    assert.deepEqual(types(opened.authenticated), [NtsFieldType.UniqueIdentifier], e.name);
    assert.deepEqual(opened.authenticated[0]!.value, uid, e.name);
    assert.deepEqual(
      opened.packet.header.originTimestamp,
      decodeHeader(captured).transmitTimestamp,
    );
    assert.equal(opened.cookies.length, 1, e.name);
    sameKeys(opened.cookies[0]!, h.keys, keys);

    // The same datagram served in place (out is the request buffer).
    const inPlace = new Uint8Array(2048);
    inPlace.set(req);
    const d2 = h.handleInto(inPlace, req.length, "192.0.2.10", inPlace);
    expectKind(d2, "time", true);
    openReply(inPlace.slice(0, d2.action === "reply" ? d2.length : 0), keys);
    checkStats(h);
  }
});

test("the real ntpd-rs request (AEAD 17) with a cookie of ours: same size reply, 168-octet cookie", () => {
  const c = packets.captured;
  const h = harness();
  const keys: Keys = { aead: AeadId.AES_SIV_CMAC_512, c2s: hex(c.c2s_key!), s2c: hex(c.s2c_key!) };
  const captured = hex(c.request!);
  const request = ntsRequest(
    {
      keys,
      header: captured.subarray(0, 48),
      uid: captured.subarray(52, 84),
      cookies: [encodeCookie(h.keys, keys, seededRandom(8))],
    },
    h.keys,
  );
  assert.equal(request.length, 296);
  const d = h.handle(request);
  expectKind(d, "time", true);
  const reply = h.reply(d);
  assert.equal(reply.length, 296);
  const opened = openReply(reply, keys);
  assert.equal(opened.cookies[0]!.length, 168);
  sameKeys(opened.cookies[0]!, h.keys, keys);
  assert.equal(decodeHeader(reply).poll, 4, "poll copied");
});

// ---------------------------------------------------------------- round trips

for (const aead of [AeadId.AES_SIV_CMAC_256, AeadId.AES_SIV_CMAC_512, AeadId.AES_128_GCM_SIV]) {
  test(`round trip AEAD ${aead}: NtsProtector → NtpServerCore → NtpSource measurement, stash refilled`, () => {
    const h = harness({ random: "default" });
    const keys = sessionKeys(aead);
    const stash = new CookieStash();
    const first = encodeCookie(h.keys, keys, seededRandom(1));
    stash.add(first);
    stash.add(encodeCookie(h.keys, keys, seededRandom(2)));
    const protector = new NtsProtector({ ...keys, stash, random: seededRandom(77) });
    const source = new NtpSource({ random: seededRandom(78), protector });
    const sent = new Set<string>();
    let now = RX.addSeconds(-0.01);
    for (let poll = 0; poll < 12; poll++) {
      const before = stash.count;
      const result = source.poll(now);
      assert.equal(result.kind, "request");
      if (result.kind !== "request") return;
      const cookie = parse(result.request).extensionFields[1]!.value;
      assert.ok(!sent.has(toHex(cookie)), "a cookie is never sent twice");
      sent.add(toHex(cookie));
      source.sent(now);
      const d = h.handle(result.request, "2001:db8::5");
      expectKind(d, "time", true);
      const reply = h.reply(d);
      assert.ok(reply.length <= result.request.length);
      const event = source.handleResponse(reply, reply.length, now.addSeconds(0.02));
      assert.equal(event.kind, "measurement", JSON.stringify(event));
      // 1 + placeholders cookies came back: the stash is as full as the request could ask.
      const asked = Math.min(8 - (before - 1), Math.floor(724 / cookie.length));
      assert.equal(stash.count, Math.min(8, before - 1 + asked));
      now = now.addSeconds(16);
    }
    assert.equal(stash.count, 8);
    assert.equal(h.core.stats.ntsAcceptedPackets, 12);
    checkStats(h);
  });
}

// ---------------------------------------------------------------- NAK

test("NAK: cookie of an unknown key, tampered cookie, tampered authenticator, 0 or 2 cookies", () => {
  const h = harness();
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const good = ntsRequest({ keys }, h.keys);
  expectKind(h.handle(good), "time", true);

  expectNak(
    h,
    ntsRequest({ keys, cookies: [encodeCookie(keySet(9), keys, seededRandom())] }, h.keys),
  );
  const cookieAt = 48 + 36 + 4;
  for (const at of [cookieAt + 1, cookieAt + 3, cookieAt + 10, cookieAt + 60]) {
    const bad = good.slice();
    bad[at]! ^= 0x08; // key id, length, nonce, ciphertext
    expectNak(h, bad);
  }
  for (const at of [good.length - 1, good.length - 17, 3, 30]) {
    const bad = good.slice();
    bad[at]! ^= 0x01; // tag, nonce, header fields (in the AAD)
    expectNak(h, bad);
  }
  expectNak(h, ntsRequest({ keys, sealWith: keys.s2c }, h.keys));
  expectNak(h, ntsRequest({ keys, cookies: [] }, h.keys));
  const c = encodeCookie(h.keys, keys, seededRandom());
  expectNak(h, ntsRequest({ keys, cookies: [c, c] }, h.keys));
  assert.equal(h.core.stats.ntsNakPackets, 12);
  assert.equal(h.core.stats.ntsReceivedPackets, 13);
  checkStats(h);
});

test("NAK reaches the client as an unauthenticated NTSN kiss, which the source ignores", () => {
  const h = harness();
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const stash = new CookieStash();
  stash.add(encodeCookie(keySet(9), keys, seededRandom())); // a key the server does not have
  stash.add(encodeCookie(h.keys, keys, seededRandom()));
  const source = new NtpSource({
    random: seededRandom(3),
    protector: new NtsProtector({ ...keys, stash, random: seededRandom(4) }),
  });
  const poll = source.poll(RX);
  assert.equal(poll.kind, "request");
  if (poll.kind !== "request") return;
  source.sent(RX);
  const d = h.handle(poll.request, "192.0.2.1");
  expectKind(d, "nak", true);
  const reply = h.reply(d);
  const event = source.handleResponse(reply, reply.length, RX.addSeconds(0.01));
  assert.deepEqual(
    {
      kind: event.kind,
      code: event.kind === "kiss" ? event.code : "",
      action: event.kind === "kiss" ? event.action : "",
    },
    { kind: "kiss", code: "NTSN", action: "none" },
  );
});

test("key rotation: cookies of a stale key are served, new cookies use the primary; dropped keys NAK", () => {
  const rnd = seededRandom(11);
  const keys = KeySet.generate(rnd, 2);
  const h = harness({ keys });
  const session = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const old = encodeCookie(keys, session, rnd);
  keys.rotate(rnd);
  const d = h.handle(ntsRequest({ keys: session, cookies: [old] }, keys));
  expectKind(d, "time", true);
  const fresh = openReply(h.reply(d), session).cookies[0]!;
  assert.equal(new DataView(fresh.buffer).getUint32(0), keys.primaryId);
  assert.notEqual(new DataView(old.buffer, old.byteOffset).getUint32(0), keys.primaryId);
  keys.rotate(rnd);
  keys.rotate(rnd); // the first key is gone
  expectNak(h, ntsRequest({ keys: session, cookies: [old] }, keys));
  expectKind(h.handle(ntsRequest({ keys: session, cookies: [fresh] }, keys)), "time", true);
});

// ---------------------------------------------------------------- policy

test("deny policy: a valid NTS request gets an NTS-signed DENY; a bad one a plain DENY", () => {
  const h = harness({ policy: { denylist: { filter: cidrs("192.0.2.0/24"), action: "deny" } } });
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const d = h.handle(ntsRequest({ keys, placeholders: [104, 104] }, h.keys));
  expectKind(d, "deny", true);
  const reply = h.reply(d);
  assert.equal(kissCode(decodeHeader(reply)), "DENY");
  const opened = openReply(reply, keys);
  assert.equal(opened.cookies.length, 0, "a DENY carries no cookies");
  assert.deepEqual(types(opened.authenticated), [NtsFieldType.UniqueIdentifier]);

  const bad = ntsRequest(
    { keys, cookies: [encodeCookie(keySet(9), keys, seededRandom())] },
    h.keys,
  );
  const plain = h.handle(bad);
  expectKind(plain, "deny", false);
  assert.deepEqual(types(parse(h.reply(plain)).extensionFields), [NtsFieldType.UniqueIdentifier]);
  assert.equal(h.core.stats.ntsDeniedPackets, 1);
  assert.equal(h.core.stats.deniedPackets, 2);
  checkStats(h);

  // The client: the signed DENY demobilizes the source at once.
  const stash = new CookieStash();
  stash.add(encodeCookie(h.keys, keys, seededRandom()));
  const source = new NtpSource({
    random: seededRandom(3),
    protector: new NtsProtector({ ...keys, stash, random: seededRandom(4) }),
  });
  const poll = source.poll(RX);
  if (poll.kind !== "request") throw new Error(poll.kind);
  source.sent(RX);
  const signed = h.handle(poll.request, "192.0.2.1");
  const event = source.handleResponse(
    h.reply(signed),
    signed.action === "reply" ? signed.length : 0,
    RX,
  );
  assert.equal(event.kind === "kiss" ? event.action : event.kind, "demobilize");
});

test("require-nts applies to requests that are not NTS; a cookie without authenticator is plain NTP", () => {
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_256);
  for (const requireNts of ["ignore", "deny"] as const) {
    const h = harness({ policy: { requireNts } });
    expectKind(h.handle(ntsRequest({ keys }, h.keys)), "time", true);
    const plain = defaultHeader();
    const cookieOnly = new Uint8Array(48 + 36 + 108);
    cookieOnly.set(plain);
    writeUniqueIdentifier(cookieOnly, 48, UID);
    writeCookie(cookieOnly, 84, encodeCookie(h.keys, keys, seededRandom()), false);
    for (const req of [plain, cookieOnly]) {
      const d = h.handle(req);
      if (requireNts === "ignore") expectDrop(d, "nts-required");
      else expectKind(d, "deny", false);
    }
    checkStats(h);
  }
  const h = harness();
  const cookieOnly = new Uint8Array(48 + 36 + 108);
  cookieOnly.set(defaultHeader());
  writeUniqueIdentifier(cookieOnly, 48, UID);
  writeCookie(cookieOnly, 84, encodeCookie(h.keys, keys, seededRandom()), false);
  const d = h.handle(cookieOnly);
  expectKind(d, "time", false);
  assert.deepEqual(types(parse(h.reply(d)).extensionFields), [NtsFieldType.UniqueIdentifier]);
});

test("without a key set the server speaks no NTS: NTS requests get plain replies", () => {
  const core = new NtpServerCore({
    systemState: new SystemStateCell(STATE),
    rateLimitSeed: 1,
  });
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const request = ntsRequest({ keys }, keySet());
  const out = new Uint8Array(2048);
  const d = core.handle(request, request.length, "192.0.2.1", RX, out);
  expectKind(d, "time", false);
  assert.equal(core.stats.ntsReceivedPackets, 0);
});

// ---------------------------------------------------------------- malformed

test("malformed NTS requests are dropped: authenticator lengths, nonce padding rule, nested authenticator", () => {
  const h = harness();
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const good = ntsRequest({ keys }, h.keys);
  const bad = good.slice();
  bad[good.length - 40 + 5] = 0xff; // nonce length 0x00ff: beyond the field
  expectDrop(h.handle(bad), "malformed");

  // A 4-octet nonce: 12 octets of additional padding are required.
  expectDrop(h.handle(ntsRequest({ keys, nonceLength: 4 }, h.keys)), "malformed");
  expectDrop(
    h.handle(ntsRequest({ keys, nonceLength: 4, additionalPadding: 8 }, h.keys)),
    "malformed",
  );
  const padded = ntsRequest({ keys, nonceLength: 4, additionalPadding: 12 }, h.keys);
  const d = h.handle(padded);
  expectKind(d, "time", true);
  assert.ok(h.reply(d).length <= padded.length);

  const nested = ntsRequest(
    { keys, encrypted: [[NtsFieldType.Authenticator, new Uint8Array(36)]] },
    h.keys,
  );
  expectDrop(h.handle(nested), "malformed");
  checkStats(h);
});

test("encrypted placeholders and cookies in the request also earn cookies; at most 8", () => {
  const h = harness();
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const d = h.handle(
    ntsRequest(
      {
        keys,
        placeholders: [104],
        encrypted: [[NtsFieldType.CookiePlaceholder, new Uint8Array(104)]],
      },
      h.keys,
    ),
  );
  expectKind(d, "time", true);
  assert.equal(openReply(h.reply(d), keys).cookies.length, 3);

  const many = ntsRequest({ keys, placeholders: new Array<number>(10).fill(104) }, h.keys);
  const d2 = h.handle(many);
  const opened = openReply(h.reply(d2), keys);
  assert.equal(opened.cookies.length, 8);
  assert.equal(h.core.stats.ntsCookiesWithheld, 0, "the cap is not a misfit");
});

test("placeholders shorter than our cookie earn nothing (ntpd-rs), and are counted", () => {
  const h = harness();
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_512); // our cookie: 168
  const d = h.handle(ntsRequest({ keys, placeholders: [100, 168, 16] }, h.keys));
  expectKind(d, "time", true);
  const reply = h.reply(d);
  assert.equal(openReply(reply, keys).cookies.length, 2);
  assert.equal(h.core.stats.ntsCookiesWithheld, 2);
});

// ---------------------------------------------------------------- properties

test("property: an NTS reply is never larger than its request and always verifies", () => {
  const h = harness({ policy: { denylist: { filter: cidrs("198.51.100.0/24"), action: "deny" } } });
  fc.assert(
    fc.property(
      fc.constantFrom(AeadId.AES_SIV_CMAC_256, AeadId.AES_SIV_CMAC_512, AeadId.AES_128_GCM_SIV),
      fc.array(fc.integer({ min: 0, max: 220 }), { maxLength: 10 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 32, max: 64 }),
      fc.boolean(),
      (aead, generated, extra, uidLength, deny) => {
        const keys = sessionKeys(aead);
        const build = (placeholders: number[]): Uint8Array =>
          ntsRequest({ keys, placeholders, extra, uid: new Uint8Array(uidLength).fill(7) }, h.keys);
        // A request above the 2048-octet cap is malformed (parse.ts; the
        // "oversized" case of server.test.ts) and no client sends one: the
        // placeholders that would push it over are left off.
        let placeholders = generated;
        let request = build(placeholders);
        while (request.length > MAX_NTP_PACKET_LENGTH) {
          placeholders = placeholders.slice(0, -1);
          request = build(placeholders);
        }
        const d = h.handle(request, deny ? "198.51.100.1" : "192.0.2.10");
        expectKind(d, deny ? "deny" : "time", true);
        if (d.action !== "reply") return;
        assert.ok(d.length <= request.length, `${d.length} > ${request.length}`);
        const opened = openReply(h.reply(d), keys);
        const ours = cookieLength(aead);
        // The first 8 slots (the cookie, then the placeholders) each earn a cookie if it fits.
        const slots = [ours, ...placeholders].slice(0, 8);
        const fitting = slots.filter((n) => ((n + 3) & ~3) >= ours).length;
        assert.equal(opened.cookies.length, deny ? 0 : fitting);
        for (const c of opened.cookies) sameKeys(c, h.keys, keys);
      },
    ),
    { numRuns: 150 },
  );
  checkStats(h);
});

test("property: random and mutated datagrams never throw; replies never outgrow requests", () => {
  const h = harness();
  const keys = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const base = ntsRequest({ keys, placeholders: [104, 104] }, h.keys);
  const mutated = fc
    .tuple(
      fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.nat(base.length),
    )
    .map(([edits, cut]) => {
      const b = base.slice(0, Math.max(1, cut));
      for (const [i, v] of edits) if (i < b.length) b[i] = v;
      return b;
    });
  const random = fc.uint8Array({ minLength: 0, maxLength: 600 }).map((b) => {
    if (b.length > 0) b[0] = (b[0]! & ~7) | 3; // mode 3, so more of it is read
    return b;
  });
  fc.assert(
    fc.property(fc.oneof(mutated, random), (request) => {
      const copy = request.slice();
      const d = h.handle(request);
      if (d.action === "reply") assert.ok(d.length <= request.length);
      assert.deepEqual(request, copy, "the request is not modified");
    }),
    { numRuns: 3000 },
  );
  checkStats(h);
});

test("NtsRequestHandler: cookies are cut to keep the reply within maxLength; -1 when nothing fits", () => {
  const keys = keySet();
  const stats = new ServerStats();
  const handler = new NtsRequestHandler(fillFrom(seededRandom(5)), stats);
  const session = sessionKeys(AeadId.AES_SIV_CMAC_256);
  const request = ntsRequest({ keys: session, placeholders: [104, 104] }, keys);
  const scan = new NtsFieldScanner(32);
  assert.ok(scan.scan(request, 48, request.length));
  const out = new Uint8Array(2048);
  out.set(request.subarray(0, 84));
  // Header + UID (84) + bare authenticator (40) + one 108-octet cookie field.
  const finish = new ReplyFinish();
  assert.equal(handler.check(request, scan, keys), "ok");
  assert.equal(
    handler.layoutAuthenticator(out, 84, 84 + 40 + 108 + 107, true, finish),
    84 + 40 + 108,
  );
  assert.equal(stats.ntsCookiesWithheld, 2);
  finish.clear();
  assert.equal(handler.check(request, scan, keys), "ok");
  assert.equal(handler.layoutAuthenticator(out, 84, 84 + 39, true, finish), -1);
  assert.equal(finish.kind, 0);
  // Nothing kept after a layout: a second one without check() writes nothing.
  assert.equal(handler.layoutAuthenticator(out, 84, 2048, true, finish), -1);
  assert.equal(handler.check(request, scan, keySet(9)), "nak");
});

// ---------------------------------------------------------------- session ciphers

/** check() + layoutAuthenticator() + finishReply() for `request`; the reply bytes, or the verdict. */
function serve(handler: NtsRequestHandler, request: Uint8Array, keys: KeySet): Uint8Array | string {
  const scan = new NtsFieldScanner(32);
  assert.ok(scan.scan(request, 48, request.length));
  const verdict = handler.check(request, scan, keys);
  if (verdict !== "ok") return verdict;
  const out = new Uint8Array(2048);
  out.set(request.subarray(0, 84)); // header + UID, as the server core echoes them
  const finish = new ReplyFinish();
  const end = handler.layoutAuthenticator(out, 84, request.length, true, finish);
  assert.ok(end > 0);
  finishReply(out, finish, TX);
  return out.slice(0, end);
}

test("session ciphers: one handler rekeyed per request replies byte for byte as fresh handlers", () => {
  const keys = keySet();
  const reused = new NtsRequestHandler(fillFrom(seededRandom(5)), new ServerStats());
  const random = fillFrom(seededRandom(5)); // one nonce stream, shared by the fresh handlers
  // Interleaved sessions of every AEAD: each request rekeys the reused handler's ciphers.
  const sessions = [
    sessionKeys(AeadId.AES_SIV_CMAC_256, 1),
    sessionKeys(AeadId.AES_SIV_CMAC_512, 2),
    sessionKeys(AeadId.AES_128_GCM_SIV, 3),
    sessionKeys(AeadId.AES_SIV_CMAC_256, 4),
  ];
  const order = [0, 0, 1, 3, 0, 1, 2, 2, 3, 0, 1, 1, 0, 2, 0];
  for (const i of order) {
    const session = sessions[i]!;
    const request = ntsRequest({ keys: session, placeholders: [200] }, keys);
    const a = serve(reused, request, keys);
    const b = serve(new NtsRequestHandler(random, new ServerStats()), request, keys);
    assert.ok(a instanceof Uint8Array && b instanceof Uint8Array);
    assert.equal(toHex(a), toHex(b));
    const opened = openReply(a, session);
    assert.equal(opened.cookies.length, 2);
    for (const c of opened.cookies) sameKeys(c, keys, session);
  }
});

test("session ciphers: a forged authenticator under a valid cookie is a NAK, the session goes on", () => {
  const keys = keySet();
  const handler = new NtsRequestHandler(fillFrom(seededRandom(6)), new ServerStats());
  const session = sessionKeys(AeadId.AES_SIV_CMAC_512, 4);
  const forged = ntsRequest({ keys: session, sealWith: new Uint8Array(64).fill(0xee) }, keys);
  assert.equal(serve(handler, forged, keys), "nak");
  for (let i = 0; i < 3; i++) {
    const reply = serve(handler, ntsRequest({ keys: session }, keys), keys);
    assert.ok(reply instanceof Uint8Array);
    assert.equal(openReply(reply, session).cookies.length, 1);
    assert.equal(serve(handler, forged, keys), "nak");
  }
  // A cookie for other keys of the same AEAD: the same ciphers, rekeyed.
  const other = sessionKeys(AeadId.AES_SIV_CMAC_512, 5);
  const reply = serve(handler, ntsRequest({ keys: other }, keys), keys);
  assert.ok(reply instanceof Uint8Array);
  openReply(reply, other);
});

test("session ciphers: the server core serves repeated requests of several sessions", () => {
  const h = harness();
  for (let i = 0; i < 3; i++) {
    const session = sessionKeys(AeadId.AES_SIV_CMAC_256, 10 + i);
    for (let j = 0; j < 2; j++) {
      const d = h.handle(ntsRequest({ keys: session }, h.keys));
      expectKind(d, "time", true);
      openReply(h.reply(d), session);
    }
  }
  checkStats(h);
});
