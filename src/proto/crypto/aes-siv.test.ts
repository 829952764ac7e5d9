// AES-SIV-CMAC against RFC 5297 Appendix A, the miscreant vectors, the NTS
// AEAD mapping, and @noble/ciphers `aessiv` as an independent oracle.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import { aessiv } from "@noble/ciphers/aes.js";
import { AesSivCmac, SIV_MAX_AD_COMPONENTS, sivDecrypt, sivEncrypt } from "./aes-siv.js";
import rfc5297 from "./fixtures/aes_siv_rfc5297.json" with { type: "json" };
import ntsStyle from "./fixtures/aes_siv_aead_nts_style.json" with { type: "json" };

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString("hex");
const bytes = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
  fc.uint8Array({ minLength: min, maxLength: max });
const sivKey = fc.constantFrom(32, 48, 64).chain((n) => bytes(n, n));
/** Plaintexts: mostly NTS-sized, sometimes past the 384-octet CTR-object threshold. */
const plaintextArb = fc.oneof(
  { arbitrary: bytes(0, 200), weight: 5 },
  { arbitrary: bytes(200, 1500), weight: 2 },
);

function flipBit(data: Uint8Array, bit: number): Uint8Array {
  const out = data.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

test("RFC 5297 A.1, A.2 and the miscreant vectors: output, V and decryption", () => {
  for (const v of rfc5297.vectors) {
    const ad = v.ad.map(hex);
    const out = sivEncrypt(hex(v.key), ad, hex(v.plaintext));
    assert.equal(toHex(out), v.output, v.name);
    const intermediate = (v as { intermediate?: Record<string, string> }).intermediate;
    const vHex = intermediate?.["CMAC(final)=V"];
    if (vHex !== undefined) assert.equal(toHex(out.subarray(0, 16)), vHex, `${v.name} V`);
    const opened = sivDecrypt(hex(v.key), ad, hex(v.output));
    assert.ok(opened !== null, v.name);
    assert.equal(toHex(opened), v.plaintext, v.name);
  }
});

test("RFC 5297 negative vector: one flipped bit fails", () => {
  const n = rfc5297.negative_test;
  assert.equal(sivDecrypt(hex(n.key), n.ad.map(hex), hex(n.output)), null);
});

test("NTS-style AEAD vectors: components [A, N] then P, A present even when empty", () => {
  for (const v of ntsStyle.vectors) {
    const cipher = new AesSivCmac(hex(v.key));
    const nonce = hex(v.nonce);
    const ad = hex(v.associated_data);
    assert.equal(toHex(cipher.seal(nonce, ad, hex(v.plaintext))), v.output, v.name);
    const opened = cipher.open(nonce, ad, hex(v.output));
    assert.ok(opened !== null, v.name);
    assert.equal(toHex(opened), v.plaintext, v.name);
  }
  // Dropping the empty A changes the tag (ntpd-rs cookies rely on A = "").
  const v = ntsStyle.vectors[0]!;
  const cipher = new AesSivCmac(hex(v.key));
  const withoutA = cipher.sealComponents([hex(v.nonce)], hex(v.plaintext));
  assert.notEqual(toHex(withoutA), v.output);
  assert.equal(cipher.open(hex(v.nonce), new Uint8Array(0), withoutA), null);
});

test("ids and lengths follow the key size; other key sizes are rejected", () => {
  const c15 = new AesSivCmac(new Uint8Array(32));
  const c16 = new AesSivCmac(new Uint8Array(48));
  const c17 = new AesSivCmac(new Uint8Array(64));
  assert.deepEqual([c15.id, c15.keyLength, c15.nonceLength, c15.tagLength], [15, 32, 16, 16]);
  assert.deepEqual([c16.id, c16.keyLength], [16, 48]);
  assert.deepEqual([c17.id, c17.keyLength], [17, 64]);
  for (const n of [0, 16, 31, 33, 63, 65]) {
    assert.throws(() => new AesSivCmac(new Uint8Array(n)), RangeError, `${n}`);
  }
});

test("differential: RFC 5297 form equals @noble/ciphers aessiv on one cached cipher", () => {
  fc.assert(
    fc.property(
      sivKey,
      fc.array(fc.tuple(fc.array(bytes(0, 80), { maxLength: 4 }), plaintextArb), {
        minLength: 1,
        maxLength: 4,
      }),
      (key, messages) => {
        const cipher = new AesSivCmac(key);
        for (const [ad, plaintext] of messages) {
          const expected = aessiv(key, ...ad).encrypt(plaintext);
          const sealed = cipher.sealComponents(ad, plaintext);
          assert.equal(toHex(sealed), toHex(expected));
          const opened = cipher.openComponents(ad, sealed);
          assert.ok(opened !== null);
          assert.equal(toHex(opened), toHex(plaintext));
        }
      },
    ),
    { numRuns: 400 },
  );
});

test("differential: NTS AEAD form seal(N, A, P) equals aessiv(key, A, N)", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(32, 64).chain((n) => bytes(n, n)),
      bytes(1, 40),
      bytes(0, 400),
      plaintextArb,
      (key, nonce, ad, plaintext) => {
        const cipher = new AesSivCmac(key);
        const sealed = cipher.seal(nonce, ad, plaintext);
        assert.equal(toHex(sealed), toHex(aessiv(key, ad, nonce).encrypt(plaintext)));
        assert.equal(sealed.length, 16 + plaintext.length);
        const opened = cipher.open(nonce, ad, sealed);
        assert.ok(opened !== null);
        assert.equal(toHex(opened), toHex(plaintext));
        // noble opens ours, too
        assert.equal(toHex(aessiv(key, ad, nonce).decrypt(sealed)), toHex(plaintext));
      },
    ),
    { numRuns: 1000 },
  );
});

test("tamper: every single-bit flip of tag, ciphertext, AD or nonce is rejected", () => {
  for (const keyLength of [32, 64]) {
    const key = Uint8Array.from({ length: keyLength }, (_, i) => i * 3 + 1);
    const cipher = new AesSivCmac(key);
    const nonce = hex("ce89ee973442bc0f43aace4999bdf58e");
    const ad = Uint8Array.from({ length: 52 }, (_, i) => i);
    const plaintext = Uint8Array.from({ length: 37 }, (_, i) => 255 - i);
    const sealed = cipher.seal(nonce, ad, plaintext);
    for (let bit = 0; bit < sealed.length * 8; bit++) {
      assert.equal(cipher.open(nonce, ad, flipBit(sealed, bit)), null, `ciphertext bit ${bit}`);
    }
    for (let bit = 0; bit < ad.length * 8; bit++) {
      assert.equal(cipher.open(nonce, flipBit(ad, bit), sealed), null, `AD bit ${bit}`);
    }
    for (let bit = 0; bit < nonce.length * 8; bit++) {
      assert.equal(cipher.open(flipBit(nonce, bit), ad, sealed), null, `nonce bit ${bit}`);
    }
    assert.equal(cipher.open(nonce, ad, sealed.subarray(0, sealed.length - 1)), null);
    assert.equal(cipher.open(nonce, ad, Uint8Array.of(...sealed, 0)), null);
    assert.equal(cipher.open(ad, nonce, sealed), null, "A and N swapped");
    assert.equal(cipher.open(nonce, Uint8Array.of(...ad, 0), sealed), null, "A extended");
    // and it still opens afterwards
    assert.equal(toHex(cipher.open(nonce, ad, sealed)!), toHex(plaintext));
  }
});

test("tamper: random single-bit flips on random messages are rejected", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(32, 64).chain((n) => bytes(n, n)),
      bytes(1, 24),
      bytes(0, 64),
      bytes(0, 64),
      fc.nat(),
      fc.constantFrom("ciphertext", "ad", "nonce"),
      (key, nonce, ad, plaintext, where, part) => {
        const cipher = new AesSivCmac(key);
        const sealed = cipher.seal(nonce, ad, plaintext);
        if (part === "ciphertext") {
          const bad = flipBit(sealed, where % (sealed.length * 8));
          assert.equal(cipher.open(nonce, ad, bad), null);
        } else if (part === "nonce") {
          assert.equal(cipher.open(flipBit(nonce, where % (nonce.length * 8)), ad, sealed), null);
        } else if (ad.length > 0) {
          assert.equal(cipher.open(nonce, flipBit(ad, where % (ad.length * 8)), sealed), null);
        }
      },
    ),
    { numRuns: 1000 },
  );
});

test("open never throws on random garbage and returns null", () => {
  const ciphers = [new AesSivCmac(new Uint8Array(32)), new AesSivCmac(new Uint8Array(64).fill(7))];
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1),
      bytes(0, 40),
      bytes(0, 120),
      bytes(0, 200),
      (which, nonce, ad, ciphertext) => {
        assert.equal(ciphers[which]!.open(nonce, ad, ciphertext), null);
        assert.equal(ciphers[which]!.openComponents([ad, nonce, ad], ciphertext), null);
      },
    ),
    { numRuns: 2000 },
  );
});

test("nonce and component limits", () => {
  const cipher = new AesSivCmac(new Uint8Array(32));
  assert.throws(
    () => cipher.seal(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0)),
    RangeError,
  );
  const sealed = cipher.sealComponents([new Uint8Array(0)], new Uint8Array(0));
  assert.equal(cipher.open(new Uint8Array(0), new Uint8Array(0), sealed), null);
  const max = Array.from({ length: SIV_MAX_AD_COMPONENTS }, (_, i) => Uint8Array.of(i));
  const big = cipher.sealComponents(max, Uint8Array.of(1, 2, 3));
  assert.equal(
    toHex(big),
    toHex(aessiv(new Uint8Array(32), ...max).encrypt(Uint8Array.of(1, 2, 3))),
  );
  const tooMany = [...max, new Uint8Array(0)];
  assert.throws(() => cipher.sealComponents(tooMany, new Uint8Array(0)), RangeError);
  assert.equal(cipher.openComponents(tooMany, big), null);
  assert.equal(cipher.openComponents([], new Uint8Array(15)), null);
});

test("the cipher copies its key and does not share output buffers", () => {
  const key = Uint8Array.from({ length: 64 }, (_, i) => i);
  const cipher = new AesSivCmac(key);
  const nonce = new Uint8Array(16).fill(9);
  const plaintext = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17);
  const first = cipher.seal(nonce, new Uint8Array(0), plaintext);
  const expected = toHex(first);
  key.fill(0);
  first.fill(0xff);
  assert.equal(toHex(cipher.seal(nonce, new Uint8Array(0), plaintext)), expected);
  const opened = cipher.open(nonce, new Uint8Array(0), hex(expected))!;
  opened.fill(0);
  assert.equal(toHex(cipher.open(nonce, new Uint8Array(0), hex(expected))!), toHex(plaintext));
  // Buffer.slice() does not copy: a Buffer key (e.g. a subarray of a cookie) must still be copied.
  const bufferKey = Buffer.from(Uint8Array.from({ length: 64 }, (_, i) => i));
  const fromBuffer = new AesSivCmac(bufferKey.subarray(0, 64));
  bufferKey.fill(0);
  assert.equal(toHex(fromBuffer.seal(nonce, new Uint8Array(0), plaintext)), expected);
});

test("CTR stage: both paths equal OpenSSL aes-ctr, including the counter near bit 31", () => {
  type WithCtr = { ctrXor(v: Uint8Array, i: Uint8Array, o: Uint8Array, off: number): void };
  for (const keyLength of [32, 64]) {
    const key = Uint8Array.from({ length: keyLength }, (_, i) => (i * 29) & 0xff);
    const cipher = new AesSivCmac(key) as unknown as WithCtr;
    const k2 = key.subarray(keyLength / 2);
    for (const vHex of ["ffffffffffffffffffffffffffffffff", "00112233445566778899aabbccddeeff"]) {
      const q = hex(vHex);
      q[8]! &= 0x7f;
      q[12]! &= 0x7f;
      for (const n of [1, 15, 16, 17, 100, 383, 384, 385, 1024, 5000]) {
        const input = Uint8Array.from({ length: n }, (_, i) => (i * 13) & 0xff);
        const ref = createCipheriv(`aes-${keyLength * 4}-ctr`, k2, q).update(input);
        const out = new Uint8Array(n + 3);
        cipher.ctrXor(hex(vHex), input, out, 3);
        assert.equal(toHex(out.subarray(3)), toHex(ref), `key ${keyLength} V ${vHex} len ${n}`);
      }
    }
  }
});

test("shared working buffers: ciphers used in turn, empty and non-empty first components, long and short messages, all equal the oracle", () => {
  fc.assert(
    fc.property(
      fc.array(sivKey, { minLength: 2, maxLength: 4 }),
      fc.array(
        fc.tuple(
          fc.nat(3),
          fc.oneof(bytes(0, 0), bytes(1, 300), bytes(4097, 4200)),
          bytes(1, 20),
          plaintextArb,
        ),
        { minLength: 1, maxLength: 12 },
      ),
      (keys, ops) => {
        const ciphers = keys.map((k) => new AesSivCmac(k));
        for (const [which, ad, nonce, plaintext] of ops) {
          const i = which % keys.length;
          const sealed = ciphers[i]!.seal(nonce, ad, plaintext);
          assert.equal(toHex(sealed), toHex(aessiv(keys[i]!, ad, nonce).encrypt(plaintext)));
          const other = ciphers[(i + 1) % keys.length]!;
          // Another key in between must neither disturb nor accept it (unless it is the same key).
          if (toHex(keys[(i + 1) % keys.length]!) !== toHex(keys[i]!)) {
            assert.equal(other.open(nonce, ad, sealed), null);
          }
          assert.equal(toHex(ciphers[i]!.open(nonce, ad, sealed)!), toHex(plaintext));
        }
      },
    ),
    { numRuns: 200 },
  );
});
