// AEAD_AES_128_GCM_SIV (id 30) against RFC 8452 Appendix C.1; C.2 (AES-256,
// id 31, which we do not offer) checks the library underneath.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { gcmsiv } from "@noble/ciphers/aes.js";
import { Aes128GcmSiv } from "./gcm-siv.js";
import vectors from "./fixtures/aes_gcm_siv_rfc8452.json" with { type: "json" };

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: min, maxLength: max });

function flipBit(data: Uint8Array, bit: number): Uint8Array {
  const out = data.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

test("RFC 8452 C.1: every AEAD_AES_128_GCM_SIV vector seals and opens", () => {
  for (const v of vectors.aead_aes_128_gcm_siv) {
    const cipher = new Aes128GcmSiv(hex(v.key));
    const sealed = cipher.seal(hex(v.nonce), hex(v.aad), hex(v.plaintext));
    assert.equal(toHex(sealed), v.result, v.result);
    assert.equal(toHex(sealed.subarray(sealed.length - 16)), v.tag, "tag is last");
    const opened = cipher.open(hex(v.nonce), hex(v.aad), hex(v.result));
    assert.ok(opened !== null);
    assert.equal(toHex(opened), v.plaintext);
  }
});

test("RFC 8452 C.2: the AES-256 vectors through the same library", () => {
  for (const v of vectors.aead_aes_256_gcm_siv) {
    const sealed = gcmsiv(hex(v.key), hex(v.nonce), hex(v.aad)).encrypt(hex(v.plaintext));
    assert.equal(toHex(sealed), v.result);
  }
});

test("lengths, key and nonce checks", () => {
  const cipher = new Aes128GcmSiv(new Uint8Array(16));
  assert.deepEqual(
    [cipher.id, cipher.keyLength, cipher.nonceLength, cipher.tagLength],
    [30, 16, 12, 16],
  );
  for (const n of [0, 12, 15, 17, 24, 32]) {
    assert.throws(() => new Aes128GcmSiv(new Uint8Array(n)), RangeError, `${n}`);
  }
  for (const n of [0, 11, 13, 16]) {
    assert.throws(
      () => cipher.seal(new Uint8Array(n), new Uint8Array(0), new Uint8Array(0)),
      RangeError,
    );
  }
  const sealed = cipher.seal(new Uint8Array(12), new Uint8Array(0), new Uint8Array(0));
  assert.equal(sealed.length, 16);
  assert.equal(cipher.open(new Uint8Array(16), new Uint8Array(0), sealed), null);
  assert.equal(cipher.open(new Uint8Array(12), new Uint8Array(0), sealed.subarray(0, 15)), null);
});

test("tamper: every single-bit flip of ciphertext, tag, AD or nonce is rejected", () => {
  const v = vectors.aead_aes_128_gcm_siv[8]!;
  const cipher = new Aes128GcmSiv(hex(v.key));
  const [nonce, ad, sealed] = [hex(v.nonce), hex(v.aad), hex(v.result)];
  for (let bit = 0; bit < sealed.length * 8; bit++) {
    assert.equal(cipher.open(nonce, ad, flipBit(sealed, bit)), null, `ciphertext bit ${bit}`);
  }
  for (let bit = 0; bit < ad.length * 8; bit++) {
    assert.equal(cipher.open(nonce, flipBit(ad, bit), sealed), null, `AD bit ${bit}`);
  }
  for (let bit = 0; bit < nonce.length * 8; bit++) {
    assert.equal(cipher.open(flipBit(nonce, bit), ad, sealed), null, `nonce bit ${bit}`);
  }
});

test("round trip for random inputs; the key is copied", () => {
  fc.assert(
    fc.property(bytes(16, 16), bytes(12, 12), bytes(0, 300), bytes(0, 300), (key, n, a, p) => {
      const keyCopy = key.slice();
      const cipher = new Aes128GcmSiv(key);
      key.fill(0);
      const sealed = cipher.seal(n, a, p);
      assert.equal(toHex(sealed), toHex(gcmsiv(keyCopy, n, a).encrypt(p)));
      assert.equal(toHex(cipher.open(n, a, sealed)!), toHex(p));
    }),
    { numRuns: 300 },
  );
});

test("open never throws on random garbage and returns null", () => {
  const cipher = new Aes128GcmSiv(new Uint8Array(16).fill(3));
  fc.assert(
    fc.property(bytes(0, 20), bytes(0, 100), bytes(0, 100), (n, a, c) => {
      assert.equal(cipher.open(n, a, c), null);
    }),
    { numRuns: 2000 },
  );
});
