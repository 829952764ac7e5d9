// The NTS client protector: requests reproduced byte for byte (synthetic AEAD 15
// pair, the real ntpd-rs request, chrony and NTPsec requests), replies checked
// (real ntpd-rs, chrony and NTPsec replies accepted; everything unauthenticated
// but an NTS NAK refused), cookie accounting, hostile input.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { AeadId } from "../../crypto/aead.js";
import { createAead } from "../../crypto/registry.js";
import { encodeExtensionField } from "../../packet/extension-fields.js";
import { encodeHeader } from "../../packet/header.js";
import { kissCodes } from "../../packet/kiss.js";
import { parsePacket } from "../../packet/parse.js";
import type { NtpHeader, NtpPacket } from "../../packet/types.js";
import { NtpTimestamp } from "../../time.js";
import { CookieStash } from "../cookie/stash.js";
import { NtsFieldType, writeAuthenticator, writeCookie, writeUniqueIdentifier } from "./fields.js";
import { NtsProtector, cookiesToRequest, MAX_REQUEST_COOKIE_LENGTH } from "./client-protector.js";
import { seededRandom } from "../../../../test/helpers/seeded-random.js";

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const fixture = <T>(name: string): T =>
  JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8")) as T;

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

/** "Randomness" handing out `chunks` in order (each of the asked length). */
function scripted(...chunks: Uint8Array[]): (n: number) => Uint8Array {
  let i = 0;
  return (n) => {
    const chunk = chunks[i++];
    assert.ok(chunk !== undefined, `scripted random: nothing left for ${n} octets`);
    assert.equal(chunk.length, n, "scripted random: wrong length asked");
    return chunk.slice();
  };
}

function parse(bytes: Uint8Array): NtpPacket {
  const parsed = parsePacket(bytes);
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error.message);
  return parsed.value;
}

/** A stash holding `first` followed by `more` filler cookies of `fillerLength` octets. */
function stashWith(first: Uint8Array, more: number, fillerLength = first.length): CookieStash {
  const stash = new CookieStash();
  stash.add(first);
  for (let i = 0; i < more; i++) stash.add(new Uint8Array(fillerLength).fill(0xf0 + i));
  return stash;
}

/** Every cookie in the stash, oldest first (empties it). */
function drain(stash: CookieStash): string[] {
  const out: string[] = [];
  for (let c = stash.take(); c !== null; c = stash.take()) out.push(toHex(c));
  return out;
}

const KEY15 = { c2s: new Uint8Array(32).fill(0x11), s2c: new Uint8Array(32).fill(0x22) };

function responseHeader(origin: NtpTimestamp, stratum = 2, referenceId = 0xc0000201): NtpHeader {
  return {
    leap: 0,
    version: 4,
    mode: 4,
    stratum,
    poll: 6,
    precision: -20,
    rootDelay: 0,
    rootDispersion: 0,
    referenceId,
    referenceTimestamp: new NtpTimestamp(0xe8494880, 0),
    originTimestamp: origin,
    receiveTimestamp: new NtpTimestamp(0xe84948b2, 1),
    transmitTimestamp: new NtpTimestamp(0xe84948b2, 2),
  };
}

interface ResponseParts {
  origin: NtpTimestamp;
  stratum?: number;
  referenceId?: number;
  /** Fields before the authenticator (type, value). */
  clear?: [number, Uint8Array][];
  /** Fields inside the authenticator. */
  encrypted?: [number, Uint8Array][];
  /** Fields after the authenticator. */
  after?: [number, Uint8Array][];
  /** S2C key; null: no authenticator. */
  s2c?: Uint8Array | null;
  aead?: AeadId;
}

/** A server response built from parts with the field writers. */
function buildResponse(p: ResponseParts): Uint8Array {
  const out = new Uint8Array(2048);
  encodeHeader(responseHeader(p.origin, p.stratum, p.referenceId), out);
  let off = 48;
  for (const [type, value] of p.clear ?? []) off += encodeExtensionField(type, value, 16, out, off);
  if (p.s2c !== null) {
    const inner = new Uint8Array(1024);
    let n = 0;
    for (const [type, value] of p.encrypted ?? [])
      n += encodeExtensionField(type, value, 0, inner, n);
    const cipher = createAead(p.aead ?? AeadId.AES_SIV_CMAC_256, p.s2c ?? KEY15.s2c);
    const nonce = new Uint8Array(cipher.nonceLength).fill(0x5e);
    off += writeAuthenticator(out, off, cipher, nonce, inner.subarray(0, n));
  }
  for (const [type, value] of p.after ?? []) off += encodeExtensionField(type, value, 28, out, off);
  return out.slice(0, off);
}

/** A protector with KEY15 and a request outstanding; returns its UID and origin. */
function withRequest(stash = stashWith(new Uint8Array(104).fill(1), 7)) {
  const uid = new Uint8Array(32).fill(0x3c);
  const protector = new NtsProtector({
    aead: AeadId.AES_SIV_CMAC_256,
    ...KEY15,
    stash,
    random: scripted(uid, new Uint8Array(16).fill(0x4d)),
  });
  const header = new Uint8Array(48);
  header[0] = 0x23;
  header.set([1, 2, 3, 4, 5, 6, 7, 8], 40);
  const request = protector.finishRequest(header);
  assert.ok(request !== null);
  return { protector, stash, uid, request, origin: new NtpTimestamp(0x01020304, 0x05060708) };
}

function check(protector: NtsProtector, response: Uint8Array) {
  return protector.checkResponse(parse(response), response, response.length);
}

// ---------------------------------------------------------------- requests

test("cookies asked for: min(free slots, ⌊724 / cookie length⌋, 255), none for unusable cookies", () => {
  assert.equal(cookiesToRequest(1, 168), 1);
  assert.equal(cookiesToRequest(8, 168), 4); // ntpd-rs.md §4.8: at most 4 with 168-octet cookies
  assert.equal(cookiesToRequest(8, 104), 6);
  assert.equal(cookiesToRequest(8, 72), 8);
  assert.equal(cookiesToRequest(300, 1), 255);
  assert.equal(cookiesToRequest(3, MAX_REQUEST_COOKIE_LENGTH), 1);
  assert.equal(cookiesToRequest(3, MAX_REQUEST_COOKIE_LENGTH + 1), 0);
  assert.equal(cookiesToRequest(3, 0), 0);
});

test("the synthetic AEAD 15 request, byte for byte (one placeholder), and its response", () => {
  const v = packets.synthetic_aead15;
  const expected = hex(v.request!);
  // Seven cookies: taking the oldest leaves two free slots → one placeholder.
  const stash = stashWith(hex(v.cookie!), 6);
  const protector = new NtsProtector({
    aead: AeadId.AES_SIV_CMAC_256,
    c2s: hex(v.c2s_key!),
    s2c: hex(v.s2c_key!),
    stash,
    random: scripted(hex(v.unique_identifier!), hex(v.client_nonce!)),
  });
  const request = protector.finishRequest(expected.subarray(0, 48));
  assert.ok(request !== null);
  assert.equal(request.length, 332);
  assert.equal(toHex(request), v.request);
  assert.equal(protector.lastFailure, null);
  assert.equal(stash.count, 6);

  const response = hex(v.response!);
  assert.deepEqual(check(protector, response), { ok: true, authenticated: true });
  const cookies = drain(stash);
  assert.equal(cookies.length, 8);
  assert.deepEqual(cookies.slice(6), ["5a".repeat(100), "a5".repeat(100)]);
});

test("the real ntpd-rs request (AEAD 17), byte for byte, and its real response", () => {
  const c = packets.captured;
  const expected = hex(c.request!);
  const cookie = expected.subarray(88, 88 + 168);
  const uid = expected.subarray(52, 84);
  const stash = stashWith(cookie.slice(), 7); // full: no placeholder
  const protector = new NtsProtector({
    aead: AeadId.AES_SIV_CMAC_512,
    c2s: hex(c.c2s_key!),
    s2c: hex(c.s2c_key!),
    stash,
    random: scripted(uid.slice(), hex(c.request_nonce!)),
  });
  const request = protector.finishRequest(expected.subarray(0, 48));
  assert.ok(request !== null);
  assert.equal(toHex(request), c.request);

  const response = hex(c.response!);
  assert.deepEqual(check(protector, response), { ok: true, authenticated: true });
  const cookies = drain(stash);
  assert.equal(cookies.length, 8);
  // The new cookie is the body of the one encrypted Cookie field.
  assert.equal(cookies[7], c.response_plaintext!.slice(8));
});

test("chrony and NTPsec requests, byte for byte, and their real responses accepted", () => {
  for (const e of exchanges) {
    const expected = hex(e.request);
    const fields = parse(expected).extensionFields;
    const uid = fields.find((f) => f.type === NtsFieldType.UniqueIdentifier)!.value;
    const cookie = fields.find((f) => f.type === NtsFieldType.Cookie)!.value;
    const auth = fields.find((f) => f.type === NtsFieldType.Authenticator)!.value;
    const stash = stashWith(cookie.slice(), 7);
    const protector = new NtsProtector({
      aead: AeadId.AES_SIV_CMAC_256,
      c2s: hex(e.c2s_key),
      s2c: hex(e.s2c_key),
      stash,
      random: scripted(uid.slice(), auth.slice(4, 20)),
    });
    const request = protector.finishRequest(expected.subarray(0, 48));
    assert.ok(request !== null, e.name);
    assert.equal(toHex(request), e.request, e.name);

    const response = hex(e.response);
    assert.deepEqual(check(protector, response), { ok: true, authenticated: true }, e.name);
    assert.equal(stash.count, 8, e.name);
  }
});

test("request layout: UID, the oldest cookie, placeholders of its size, authenticator last", () => {
  const stash = new CookieStash();
  stash.add(new Uint8Array(168).fill(0xc1));
  stash.add(new Uint8Array(168).fill(0xc2));
  const protector = new NtsProtector({
    aead: AeadId.AES_SIV_CMAC_512,
    c2s: new Uint8Array(64).fill(1),
    s2c: new Uint8Array(64).fill(2),
    stash,
    random: seededRandom(),
  });
  const header = new Uint8Array(48).fill(0x77);
  const request = protector.finishRequest(header)!;
  const fields = parse(request).extensionFields;
  // 7 free slots, ⌊724/168⌋ = 4 → 3 placeholders.
  assert.deepEqual(
    fields.map((f) => [f.type, f.value.length]),
    [
      [0x0104, 32],
      [0x0204, 168],
      [0x0304, 168],
      [0x0304, 168],
      [0x0304, 168],
      [0x0404, 36],
    ],
  );
  assert.deepEqual(fields[1]!.value, new Uint8Array(168).fill(0xc1));
  assert.ok(fields[2]!.value.every((b) => b === 0));
  assert.deepEqual(request.subarray(0, 48), header);
  assert.equal(request.length, 48 + 36 + 4 * 172 + 40);
  const again = protector.finishRequest(header)!;
  assert.deepEqual(parse(again).extensionFields[1]!.value, new Uint8Array(168).fill(0xc2));
  assert.notDeepEqual(again.subarray(52, 84), request.subarray(52, 84), "fresh UID");
});

test("AEAD 30 (GCM-SIV) requests use a 12-octet nonce", () => {
  const stash = stashWith(new Uint8Array(72).fill(3), 7);
  const protector = new NtsProtector({
    aead: AeadId.AES_128_GCM_SIV,
    c2s: new Uint8Array(16).fill(1),
    s2c: new Uint8Array(16).fill(2),
    stash,
    random: seededRandom(),
  });
  const request = protector.finishRequest(new Uint8Array(48))!;
  const auth = parse(request).extensionFields.at(-1)!;
  assert.equal(auth.type, 0x0404);
  assert.deepEqual([...auth.value.subarray(0, 4)], [0, 12, 0, 16]);
  assert.equal(request.length, 48 + 36 + 76 + 36);
});

test("no cookie, or an unusable one: no request; a cookie is never sent twice", () => {
  const stash = new CookieStash();
  const protector = new NtsProtector({
    aead: AeadId.AES_SIV_CMAC_256,
    ...KEY15,
    stash,
    random: seededRandom(),
  });
  assert.equal(protector.finishRequest(new Uint8Array(48)), null);
  assert.equal(protector.lastFailure, "no-cookie");
  stash.add(new Uint8Array(MAX_REQUEST_COOKIE_LENGTH + 1));
  assert.equal(protector.finishRequest(new Uint8Array(48)), null);
  assert.equal(protector.lastFailure, "unusable-cookie");
  assert.equal(stash.count, 0, "the unusable cookie is gone");
  stash.add(new Uint8Array(0));
  assert.equal(protector.finishRequest(new Uint8Array(48)), null);
  assert.equal(protector.lastFailure, "unusable-cookie");

  for (let i = 0; i < 8; i++) stash.add(new Uint8Array(104).fill(i));
  const sent = new Set<string>();
  for (let i = 0; i < 8; i++) {
    const request = protector.finishRequest(new Uint8Array(48))!;
    sent.add(toHex(parse(request).extensionFields[1]!.value));
  }
  assert.equal(sent.size, 8);
  assert.equal(protector.finishRequest(new Uint8Array(48)), null);
});

// ---------------------------------------------------------------- responses

test("an authenticated response with our UID passes; its encrypted cookies fill the stash", () => {
  const { protector, stash, uid, origin } = withRequest();
  const response = buildResponse({
    origin,
    clear: [[NtsFieldType.UniqueIdentifier, uid]],
    encrypted: [
      [NtsFieldType.Cookie, new Uint8Array(104).fill(0xa1)],
      [NtsFieldType.Cookie, new Uint8Array(104).fill(0xa2)],
    ],
  });
  assert.deepEqual(check(protector, response), { ok: true, authenticated: true });
  assert.equal(stash.count, 8); // 7 left after the request, + 2, the oldest dropped
  // Same request answered again (e.g. a kiss then the reply): no second helping of cookies.
  stash.take();
  assert.deepEqual(check(protector, response), { ok: true, authenticated: true });
  assert.equal(stash.count, 7);
});

test("our UID may also come inside the encrypted part", () => {
  const { protector, uid, origin } = withRequest();
  const response = buildResponse({ origin, encrypted: [[NtsFieldType.UniqueIdentifier, uid]] });
  assert.deepEqual(check(protector, response), { ok: true, authenticated: true });
});

test("cookies outside the encrypted part are ignored (ntpd-rs new_cookies_only_from_encrypted)", () => {
  const { protector, stash, uid, origin } = withRequest();
  const before = stash.count;
  const response = buildResponse({
    origin,
    clear: [
      [NtsFieldType.UniqueIdentifier, uid],
      [NtsFieldType.Cookie, new Uint8Array(104).fill(0xbb)],
    ],
    after: [[NtsFieldType.Cookie, new Uint8Array(104).fill(0xcc)]],
  });
  assert.deepEqual(check(protector, response), { ok: true, authenticated: true });
  assert.equal(stash.count, before);
});

test("refused: unauthenticated replies, wrong or untrusted UID, bad tag, wrong key", () => {
  const { protector, stash, uid, origin } = withRequest();
  const before = stash.count;
  const other = new Uint8Array(32).fill(0x99);
  const cookie: [number, Uint8Array] = [NtsFieldType.Cookie, new Uint8Array(104).fill(0xdd)];
  const refused = (response: Uint8Array, why: RegExp) => {
    const verdict = check(protector, response);
    assert.equal(verdict.ok, false, why.source);
    if (!verdict.ok) assert.match(verdict.reason, why);
  };
  refused(
    buildResponse({ origin, s2c: null, clear: [[NtsFieldType.UniqueIdentifier, uid]] }),
    /not authenticated/,
  );
  // An unauthenticated DENY is not passed: only NTSN is.
  refused(
    buildResponse({
      origin,
      s2c: null,
      stratum: 0,
      referenceId: kissCodes.DENY,
      clear: [[NtsFieldType.UniqueIdentifier, uid]],
    }),
    /not authenticated/,
  );
  refused(
    buildResponse({ origin, clear: [[NtsFieldType.UniqueIdentifier, other]], encrypted: [cookie] }),
    /unique identifier/,
  );
  refused(buildResponse({ origin, encrypted: [cookie] }), /unique identifier/);
  // A UID after the authenticator is not authenticated.
  refused(
    buildResponse({ origin, encrypted: [cookie], after: [[NtsFieldType.UniqueIdentifier, uid]] }),
    /unique identifier/,
  );
  refused(
    buildResponse({
      origin,
      s2c: KEY15.c2s,
      clear: [[NtsFieldType.UniqueIdentifier, uid]],
      encrypted: [cookie],
    }),
    /does not verify/,
  );
  const good = buildResponse({
    origin,
    clear: [[NtsFieldType.UniqueIdentifier, uid]],
    encrypted: [cookie],
  });
  for (const at of [10, 60, good.length - 1, good.length - 20]) {
    const bad = good.slice();
    bad[at]! ^= 0x40;
    refused(bad, /does not verify/);
  }
  assert.equal(stash.count, before, "no cookie from a refused reply");
  assert.deepEqual(check(protector, good), { ok: true, authenticated: true });
});

test("an NTS NAK echoing our UID passes unauthenticated; one without it is refused", () => {
  const { protector, stash, uid, origin } = withRequest();
  const before = stash.count;
  const nak = (id: Uint8Array) =>
    buildResponse({
      origin,
      s2c: null,
      stratum: 0,
      referenceId: kissCodes.NTSN,
      after: [[NtsFieldType.UniqueIdentifier, id]],
    });
  assert.deepEqual(check(protector, nak(uid)), { ok: true, authenticated: false });
  const verdict = check(protector, nak(new Uint8Array(32)));
  assert.equal(verdict.ok, false);
  assert.equal(stash.count, before);
});

test("nothing passes before the first request", () => {
  const protector = new NtsProtector({
    aead: AeadId.AES_SIV_CMAC_256,
    ...KEY15,
    stash: new CookieStash(),
    random: seededRandom(),
  });
  const verdict = check(protector, buildResponse({ origin: NtpTimestamp.ZERO }));
  assert.deepEqual(verdict, { ok: false, reason: "no NTS request outstanding" });
});

test("malformed encrypted fields and empty or oversized new cookies", () => {
  const { protector, stash, uid, origin } = withRequest();
  const out = new Uint8Array(300);
  encodeHeader(responseHeader(origin), out);
  let off = 48 + writeUniqueIdentifier(out, 48, uid);
  const cipher = createAead(AeadId.AES_SIV_CMAC_256, KEY15.s2c);
  const inner = Uint8Array.of(0x02, 0x04, 0x00, 0x09, 0, 0, 0, 0); // length 9: broken framing
  off += writeAuthenticator(out, off, cipher, new Uint8Array(16), inner);
  const verdict = check(protector, out.subarray(0, off));
  assert.equal(verdict.ok, false);

  const before = stash.count;
  const plaintext = new Uint8Array(1200);
  let n = writeCookie(plaintext, 0, new Uint8Array(0), true);
  n += writeCookie(plaintext, n, new Uint8Array(MAX_REQUEST_COOKIE_LENGTH + 4), true);
  n += writeCookie(plaintext, n, new Uint8Array(8).fill(1), true);
  const big = new Uint8Array(1500);
  encodeHeader(responseHeader(origin), big);
  let o = 48 + writeUniqueIdentifier(big, 48, uid);
  o += writeAuthenticator(big, o, cipher, new Uint8Array(16), plaintext.subarray(0, n));
  assert.deepEqual(check(protector, big.subarray(0, o)), { ok: true, authenticated: true });
  assert.equal(stash.count, before + 1, "only the usable cookie is kept");
});

test("property: mutated responses never throw, and refused ones add no cookie", () => {
  const { protector, stash, uid, origin } = withRequest();
  const good = buildResponse({
    origin,
    clear: [[NtsFieldType.UniqueIdentifier, uid]],
    encrypted: [[NtsFieldType.Cookie, new Uint8Array(104).fill(0xa1)]],
  });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.nat(good.length),
      (edits, cut) => {
        const bytes = good.slice(0, Math.max(48, cut & ~3));
        for (const [i, v] of edits) if (i < bytes.length) bytes[i] = v;
        const parsed = parsePacket(bytes);
        if (!parsed.ok) return;
        const before = stash.count;
        const verdict = protector.checkResponse(parsed.value, bytes, bytes.length);
        if (!verdict.ok) assert.equal(stash.count, before);
      },
    ),
    { numRuns: 1500 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 48, maxLength: 400 }), (bytes) => {
      const parsed = parsePacket(bytes);
      if (parsed.ok) protector.checkResponse(parsed.value, bytes, bytes.length);
    }),
    { numRuns: 1000 },
  );
});
