import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { AeadId } from "../../crypto/aead.js";
import { KeySet } from "../keyset/keyset.js";
import {
  cookieKeyLength,
  cookieLength,
  decodeCookie,
  encodeCookie,
  type CookieContents,
} from "./cookie.js";

const random = (n: number): Uint8Array => randomBytes(n);
const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const seq = (from: number, n: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => from + i);

interface Vector {
  master_key_aead17: string;
  key_id: number;
  nonce: string;
  plaintext: string;
  cookie: string;
  cookie_length: number;
}
const vector = JSON.parse(
  readFileSync(new URL("./fixtures/ntpd-rs-cookie.json", import.meta.url), "utf8"),
) as Vector;

function contentsFor(aead: AeadId): CookieContents {
  const k = cookieKeyLength(aead)!;
  return { aead, c2s: seq(1, k), s2c: seq(101, k) };
}

function sameContents(actual: CookieContents | null, expected: CookieContents): void {
  assert.ok(actual !== null, "cookie should decode");
  assert.equal(actual.aead, expected.aead);
  assert.deepEqual(Array.from(actual.c2s), Array.from(expected.c2s));
  assert.deepEqual(Array.from(actual.s2c), Array.from(expected.s2c));
}

test("the ntpd-rs layout vector decodes, and encoding with its nonce reproduces it", () => {
  const keyset = KeySet.fromParts({
    keys: [hex(vector.master_key_aead17)],
    idOffset: vector.key_id,
    primary: 0,
  });
  const cookie = hex(vector.cookie);
  assert.equal(cookie.length, vector.cookie_length);
  const plaintext = hex(vector.plaintext);
  const expected: CookieContents = {
    aead: AeadId.AES_SIV_CMAC_256,
    s2c: plaintext.subarray(2, 34),
    c2s: plaintext.subarray(34, 66),
  };
  sameContents(decodeCookie(keyset, cookie), expected);
  const again = encodeCookie(keyset, expected, (n) => hex(vector.nonce).subarray(0, n));
  assert.equal(Buffer.from(again).toString("hex"), vector.cookie);
});

test("round trip and size for every AEAD a cookie can carry", () => {
  const keyset = KeySet.generate(random);
  const sizes: [AeadId, number][] = [
    [AeadId.AES_SIV_CMAC_256, 104],
    [AeadId.AES_SIV_CMAC_512, 168],
    [AeadId.AES_128_GCM_SIV, 72],
  ];
  for (const [aead, size] of sizes) {
    const contents = contentsFor(aead);
    const cookie = encodeCookie(keyset, contents, random);
    assert.equal(cookie.length, size, `AEAD ${aead}`);
    assert.equal(cookieLength(aead), size);
    assert.equal(new DataView(cookie.buffer).getUint32(0), keyset.primaryId);
    assert.equal(new DataView(cookie.buffer).getUint16(4), size - 22);
    sameContents(decodeCookie(keyset, cookie), contents);
  }
});

test("two cookies for the same keys differ (fresh nonce)", () => {
  const keyset = KeySet.generate(random);
  const contents = contentsFor(AeadId.AES_SIV_CMAC_512);
  const a = encodeCookie(keyset, contents, random);
  const b = encodeCookie(keyset, contents, random);
  assert.notDeepEqual(a, b);
});

test("a cookie from each of the 8 valid keys is accepted; rotated out, it is rejected", () => {
  const keyset = KeySet.generate(random); // stale-key-count 7
  const contents = contentsFor(AeadId.AES_SIV_CMAC_256);
  const cookies: Uint8Array[] = [encodeCookie(keyset, contents, random)];
  for (let i = 0; i < 7; i++) {
    keyset.rotate(random);
    cookies.push(encodeCookie(keyset, contents, random));
  }
  assert.equal(keyset.size, 8);
  const ids = new Set(cookies.map((c) => new DataView(c.buffer).getUint32(0)));
  assert.equal(ids.size, 8, "every key has its own id");
  for (const cookie of cookies) sameContents(decodeCookie(keyset, cookie), contents);

  keyset.rotate(random);
  assert.equal(decodeCookie(keyset, cookies[0]!), null, "the oldest key is gone");
  for (const cookie of cookies.slice(1)) sameContents(decodeCookie(keyset, cookie), contents);
  keyset.rotate(random);
  assert.equal(decodeCookie(keyset, cookies[1]!), null);
});

test("with stale-key-count 0 only the primary key is valid", () => {
  const keyset = KeySet.generate(random, 0);
  const contents = contentsFor(AeadId.AES_SIV_CMAC_512);
  const old = encodeCookie(keyset, contents, random);
  keyset.rotate(random);
  assert.equal(decodeCookie(keyset, old), null);
  sameContents(decodeCookie(keyset, encodeCookie(keyset, contents, random)), contents);
});

test("key ids wrap at 2^32", () => {
  const keyset = KeySet.fromParts({
    keys: [seq(1, 64), seq(2, 64)],
    idOffset: 0xffffffff,
    primary: 0,
  });
  const contents = contentsFor(AeadId.AES_SIV_CMAC_256);
  const first = encodeCookie(keyset, contents, random);
  assert.equal(new DataView(first.buffer).getUint32(0), 0xffffffff);
  const wrapped = KeySet.fromParts({
    keys: [seq(1, 64), seq(2, 64)],
    idOffset: 0xffffffff,
    primary: 1,
  });
  const second = encodeCookie(wrapped, contents, random);
  assert.equal(new DataView(second.buffer).getUint32(0), 0);
  sameContents(decodeCookie(wrapped, first), contents);
  sameContents(decodeCookie(keyset, second), contents);
});

test("a cookie from another key set is rejected", () => {
  const contents = contentsFor(AeadId.AES_SIV_CMAC_256);
  const cookie = encodeCookie(KeySet.generate(random), contents, random);
  assert.equal(decodeCookie(KeySet.generate(random), cookie), null, "same id 0, other key");
});

test("changing any byte of a cookie makes it invalid", () => {
  const keyset = KeySet.generate(random);
  keyset.rotate(random); // ids 0 and 1 valid: a changed id may still name a key
  for (const aead of [AeadId.AES_SIV_CMAC_256, AeadId.AES_SIV_CMAC_512, AeadId.AES_128_GCM_SIV]) {
    const cookie = encodeCookie(keyset, contentsFor(aead), random);
    for (let i = 0; i < cookie.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const bad = Uint8Array.from(cookie);
        bad[i]! ^= mask;
        assert.equal(decodeCookie(keyset, bad), null, `AEAD ${aead} byte ${i} ^ ${mask}`);
      }
    }
  }
});

test("wrong lengths are rejected: every prefix, an extra byte, a lying length field", () => {
  const keyset = KeySet.generate(random);
  const cookie = encodeCookie(keyset, contentsFor(AeadId.AES_SIV_CMAC_512), random);
  for (let n = 0; n < cookie.length; n++) {
    assert.equal(decodeCookie(keyset, cookie.subarray(0, n)), null, `prefix of ${n}`);
  }
  const padded = new Uint8Array(cookie.length + 4);
  padded.set(cookie);
  assert.equal(decodeCookie(keyset, padded), null, "trailing padding");
  // A length field naming another valid AEAD length with the cookie cut to match.
  const short = Uint8Array.from(cookie.subarray(0, 22 + 82));
  new DataView(short.buffer).setUint16(4, 82);
  assert.equal(decodeCookie(keyset, short), null);
  // A view at an offset into a larger buffer decodes like a copy.
  const big = new Uint8Array(cookie.length + 10);
  big.set(cookie, 5);
  assert.ok(decodeCookie(keyset, big.subarray(5, 5 + cookie.length)) !== null);
});

/** Builds a cookie around an arbitrary plaintext, sealed with the primary key. */
function sealRaw(keyset: KeySet, plaintext: Uint8Array): Uint8Array {
  const nonce = random(16);
  const sealed = keyset.primaryCipher().seal(nonce, new Uint8Array(0), plaintext);
  const out = new Uint8Array(22 + sealed.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, keyset.primaryId);
  view.setUint16(4, sealed.length);
  out.set(nonce, 6);
  out.set(sealed, 22);
  return out;
}

test("authentic cookies with an unknown AEAD or wrong-length keys are rejected", () => {
  const keyset = KeySet.generate(random);
  const good = new Uint8Array(66);
  good[1] = 15;
  assert.ok(decodeCookie(keyset, sealRaw(keyset, good)) !== null, "the helper is right");
  const unknown = new Uint8Array(34); // length of AEAD 30, but id 1 (AES-128-GCM)
  unknown[1] = 1;
  assert.equal(decodeCookie(keyset, sealRaw(keyset, unknown)), null);
  const mismatch = new Uint8Array(130); // length of AEAD 17, but id 15
  mismatch[1] = 15;
  assert.equal(decodeCookie(keyset, sealRaw(keyset, mismatch)), null);
  const high = new Uint8Array(66);
  high[0] = 1;
  high[1] = 15; // id 0x010f
  assert.equal(decodeCookie(keyset, sealRaw(keyset, high)), null);
});

test("encodeCookie refuses unknown AEADs and keys of the wrong length", () => {
  const keyset = KeySet.generate(random);
  assert.throws(
    () => encodeCookie(keyset, { aead: 1 as AeadId, c2s: seq(0, 16), s2c: seq(0, 16) }, random),
    RangeError,
  );
  assert.throws(
    () =>
      encodeCookie(
        keyset,
        { aead: AeadId.AES_SIV_CMAC_256, c2s: seq(0, 32), s2c: seq(0, 64) },
        random,
      ),
    /32-octet keys/,
  );
  assert.throws(
    () => encodeCookie(keyset, contentsFor(AeadId.AES_SIV_CMAC_256), () => new Uint8Array(8)),
    /random source/,
  );
  assert.throws(() => cookieLength(2 as AeadId), RangeError);
  assert.equal(cookieKeyLength(2), undefined);
  assert.equal(cookieKeyLength(17), 64);
  assert.equal(cookieKeyLength(16), undefined, "AES-SIV-CMAC-384 is not implemented");
});

test("property: random bytes never throw and never decode", () => {
  const keyset = KeySet.generate(random);
  keyset.rotate(random);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      assert.equal(decodeCookie(keyset, bytes), null);
    }),
    { numRuns: 2000 },
  );
});

test("property: forged cookies with a valid header never decode", () => {
  const keyset = KeySet.generate(random);
  fc.assert(
    fc.property(
      fc.constantFrom(82, 146, 50),
      fc.uint8Array({ minLength: 16 + 146, maxLength: 16 + 146 }),
      (length, body) => {
        const out = new Uint8Array(22 + length);
        new DataView(out.buffer).setUint32(0, keyset.primaryId);
        new DataView(out.buffer).setUint16(4, length);
        out.set(body.subarray(0, 16 + length), 6);
        assert.equal(decodeCookie(keyset, out), null);
      },
    ),
    { numRuns: 500 },
  );
});

test("property: mutated valid cookies never throw and decode only when unchanged", () => {
  const keyset = KeySet.generate(random);
  const cookie = encodeCookie(keyset, contentsFor(AeadId.AES_SIV_CMAC_512), random);
  fc.assert(
    fc.property(
      fc.array(
        fc.record({ at: fc.nat(cookie.length - 1), value: fc.integer({ min: 0, max: 255 }) }),
        {
          maxLength: 4,
        },
      ),
      fc.integer({ min: -4, max: 4 }),
      (edits, resize) => {
        const bytes = new Uint8Array(Math.max(0, cookie.length + resize));
        bytes.set(cookie.subarray(0, bytes.length));
        for (const { at, value } of edits) if (at < bytes.length) bytes[at] = value;
        const unchanged = bytes.length === cookie.length && bytes.every((b, i) => b === cookie[i]);
        assert.equal(decodeCookie(keyset, bytes) !== null, unchanged);
      },
    ),
    { numRuns: 1000 },
  );
});
