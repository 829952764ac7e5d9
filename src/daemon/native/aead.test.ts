// The native AES-SIV-CMAC (native/aes_siv.cc via the addon) against RFC 5297's
// vectors and, byte for byte, against the TypeScript implementation it stands in
// for. Skipped, with the reason, only when the addon is not built; under CI the
// addon is required. Every test that computes runs once per implementation the addon
// has for 32- and 64-octet keys (AES-NI and OpenSSL EVP, sivImplementation); the AES-NI
// round is skipped, with the reason, on a CPU without it.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test, type TestContext } from "node:test";
import fc from "fast-check";
import { skipIfMissing } from "../../../test/helpers/skip.js";
import { AeadId } from "../../proto/crypto/aead.js";
import { AesSivCmac } from "../../proto/crypto/aes-siv.js";
import { TS_AEAD } from "../../proto/crypto/registry.js";
import { loadAddon } from "./addon.js";
import { NativeAesSiv, nativeAeadProvider } from "./aead.js";
import type { NativeAddon } from "./types.js";

const { addon, reason } = loadAddon();

function needAddon(t: TestContext): NativeAddon | null {
  if (skipIfMissing(t, addon === null ? `native addon not loaded: ${reason}` : undefined)) {
    return null;
  }
  return addon;
}

const IMPLEMENTATIONS = ["aesni", "openssl"] as const;

/**
 * A test of `body` per implementation: switches the addon to it for the test
 * (skipping when this CPU lacks it) and back to the default afterwards.
 */
function testEach(name: string, body: (a: NativeAddon, t: TestContext) => void): void {
  for (const impl of IMPLEMENTATIONS) {
    test(`${name} [${impl}]`, (t) => {
      const a = needAddon(t);
      if (a === null) return;
      const before = a.sivImplementation();
      try {
        if (a.sivImplementation(impl) !== impl) {
          t.skip(`this CPU has no ${impl} (AES-NI) support`);
          return;
        }
        body(a, t);
      } finally {
        a.sivImplementation(before);
      }
    });
  }
}

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

interface Vector {
  name: string;
  key: string;
  ad: string[];
  plaintext: string;
  output: string;
}
const rfc = JSON.parse(
  readFileSync(
    new URL("../../proto/crypto/fixtures/aes_siv_rfc5297.json", import.meta.url),
    "utf8",
  ),
) as { vectors: Vector[]; negative_test: Omit<Vector, "plaintext" | "name"> };

testEach("native AES-SIV: RFC 5297 (and miscreant) vectors seal and open", (a) => {
  assert.ok(rfc.vectors.length >= 4);
  for (const v of rfc.vectors) {
    const sealed = a.sivSealComponents(hex(v.key), v.ad.map(hex), hex(v.plaintext));
    assert.equal(toHex(sealed), v.output, v.name);
    const opened = a.sivOpenComponents(hex(v.key), v.ad.map(hex), sealed);
    assert.ok(opened !== null, v.name);
    assert.equal(toHex(opened), v.plaintext, v.name);
  }
  const neg = rfc.negative_test;
  assert.equal(a.sivOpenComponents(hex(neg.key), neg.ad.map(hex), hex(neg.output)), null);
});

/** Native and TypeScript seal, then each opens the other's output. */
function crossCheck(
  a: NativeAddon,
  key: Uint8Array,
  ad: Uint8Array,
  nonce: Uint8Array,
  pt: Uint8Array,
): void {
  const ts = new AesSivCmac(key);
  const expected = ts.seal(nonce, ad, pt);
  const id = key.length === 32 ? AeadId.AES_SIV_CMAC_256 : AeadId.AES_SIV_CMAC_512;
  const native = nativeAeadProvider(a).create(id, key);
  const sealed = native.seal(nonce, ad, pt);
  assert.equal(toHex(sealed), toHex(expected));
  // The per-call key (the session ciphers) gives the same bytes as the prepared one.
  const rekeyable = nativeAeadProvider(a).rekeyable(id);
  rekeyable.setKey(key, 0);
  assert.equal(toHex(rekeyable.seal(nonce, ad, pt)), toHex(expected));
  assert.equal(toHex(rekeyable.open(nonce, ad, expected) ?? new Uint8Array([1])), toHex(pt));
  const back = native.open(nonce, ad, expected);
  assert.ok(back !== null);
  assert.equal(toHex(back), toHex(pt));
  // Into a larger buffer at an offset, from ranges of larger arrays.
  const padded = (b: Uint8Array): Uint8Array => Uint8Array.from([7, ...b, 9]);
  const out = new Uint8Array(sealed.length + 5).fill(0xaa);
  const n = native.sealInto(
    padded(nonce),
    1,
    nonce.length,
    padded(ad),
    1,
    ad.length,
    padded(pt),
    1,
    pt.length,
    out,
    3,
  );
  assert.equal(n, sealed.length);
  assert.equal(toHex(out.subarray(3, 3 + n)), toHex(expected));
  assert.equal(out[2], 0xaa, "nothing written before the output range");
  const plain = new Uint8Array(pt.length + 2);
  const m = native.openInto(nonce, 0, nonce.length, ad, 0, ad.length, out, 3, n, plain, 1);
  assert.equal(m, pt.length);
  assert.equal(toHex(plain.subarray(1, 1 + m)), toHex(pt));
  // In place: the ciphertext replaces the plaintext right after the tag.
  const inPlace = new Uint8Array(16 + pt.length);
  inPlace.set(pt, 16);
  native.sealInto(nonce, 0, nonce.length, ad, 0, ad.length, inPlace, 16, pt.length, inPlace, 0);
  assert.equal(toHex(inPlace), toHex(expected));
  assert.equal(
    native.openInto(
      nonce,
      0,
      nonce.length,
      ad,
      0,
      ad.length,
      inPlace,
      0,
      inPlace.length,
      inPlace,
      16,
    ),
    pt.length,
  );
  assert.equal(toHex(inPlace.subarray(16)), toHex(pt));
}

testEach("native AES-SIV: byte-identical to the TypeScript AES-SIV (property)", (a, t) => {
  const seed = Number(process.env.FC_SEED ?? 0x51f);
  t.diagnostic(`fast-check seed ${seed} (set FC_SEED to replay)`);
  fc.assert(
    fc.property(
      fc.constantFrom(32, 64),
      fc.uint8Array({ maxLength: 300 }),
      fc.uint8Array({ minLength: 1, maxLength: 40 }),
      fc.uint8Array({ maxLength: 300 }),
      fc.integer({ min: 0, max: 2 ** 31 }),
      (keyLength, ad, nonce, pt, keySeed) => {
        const key = new Uint8Array(keyLength);
        for (let i = 0; i < keyLength; i++) key[i] = (keySeed * (i + 1) * 2654435761) >>> 24;
        crossCheck(a, key, ad, nonce, pt);
      },
    ),
    { seed, numRuns: 400 },
  );
});

testEach("native AES-SIV: empty plaintext, empty AD, block-sized edges", (a) => {
  const key = Uint8Array.from({ length: 64 }, (_, i) => i);
  for (const adLength of [0, 1, 15, 16, 17, 32, 48]) {
    for (const ptLength of [0, 1, 15, 16, 17, 32, 130]) {
      const ad = Uint8Array.from({ length: adLength }, (_, i) => i ^ 0x5a);
      const pt = Uint8Array.from({ length: ptLength }, (_, i) => i ^ 0xa5);
      crossCheck(a, key.subarray(0, 32), ad, new Uint8Array(16).fill(3), pt);
      crossCheck(a, key, ad, new Uint8Array(16).fill(4), pt);
    }
  }
});

testEach(
  "native AES-SIV: any flipped bit, wrong key or wrong AD is rejected; output zeroed",
  (a) => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => 100 + i);
    const nonce = new Uint8Array(16).fill(1);
    const ad = Uint8Array.from([1, 2, 3]);
    const cipher = nativeAeadProvider(a).create(AeadId.AES_SIV_CMAC_256, key);
    for (const ptLength of [0, 20]) {
      const sealed = cipher.seal(nonce, ad, new Uint8Array(ptLength).fill(0x77));
      for (let bit = 0; bit < sealed.length * 8; bit++) {
        const bad = sealed.slice();
        bad[bit >>> 3]! ^= 1 << (bit & 7);
        const out = new Uint8Array(ptLength).fill(0xee);
        assert.equal(cipher.openInto(nonce, 0, 16, ad, 0, 3, bad, 0, bad.length, out, 0), -1);
        assert.ok(
          out.every((b) => b === 0),
          "the output range is zeroed on failure",
        );
      }
      assert.equal(cipher.open(nonce, Uint8Array.from([1, 2]), sealed), null, "other AD");
      assert.equal(cipher.open(new Uint8Array(16), ad, sealed), null, "other nonce");
      const other = nativeAeadProvider(a).create(
        AeadId.AES_SIV_CMAC_256,
        key.map((b) => b ^ 1),
      );
      assert.equal(other.open(nonce, ad, sealed), null, "other key");
    }
    assert.equal(cipher.open(nonce, ad, new Uint8Array(15)), null, "shorter than a tag");
    assert.equal(cipher.open(new Uint8Array(0), ad, new Uint8Array(16)), null, "empty nonce");
    assert.throws(() => cipher.seal(new Uint8Array(0), ad, ad), RangeError);
  },
);

test("native AES-SIV: bad keys and ranges are RangeErrors, not crashes", (t) => {
  const a = needAddon(t);
  if (a === null) return;
  const buf = new Uint8Array(64);
  for (const n of [0, 16, 31, 33, 63, 65]) {
    assert.throws(
      () => a.sivSeal(new Uint8Array(n), buf, 0, 0, buf, 0, 16, buf, 0, 0, buf, 0),
      RangeError,
      `key of ${n} octets`,
    );
  }
  const key = new Uint8Array(32);
  assert.throws(() => a.sivSeal(key, buf, 60, 8, buf, 0, 16, buf, 0, 0, buf, 0), RangeError);
  assert.throws(() => a.sivSeal(key, buf, 0, 0, buf, 0, 16, buf, 0, 40, buf, 30), RangeError);
  assert.throws(() => a.sivOpen(key, buf, 0, 0, buf, 0, 16, buf, 0, 64, buf, 20), RangeError);
  assert.throws(
    () => a.sivSeal(key, buf, 0, 0, buf, 0, 16, buf, 8, 16, buf, 0),
    RangeError,
    "partial overlap",
  );
  assert.throws(() => nativeAeadProvider(a).create(AeadId.AES_SIV_CMAC_512, key), RangeError);
  assert.throws(() => new NativeAesSiv(a, AeadId.AES_128_GCM_SIV), RangeError);
  const unkeyed = new NativeAesSiv(a, AeadId.AES_SIV_CMAC_256);
  assert.throws(() => unkeyed.seal(buf.subarray(0, 16), buf, buf));
});

testEach("native provider: rekeying matches fresh ciphers; GCM-SIV stays TypeScript", (a) => {
  const provider = nativeAeadProvider(a);
  const rekeyable = provider.rekeyable(AeadId.AES_SIV_CMAC_512);
  const keys = Uint8Array.from({ length: 130 }, (_, i) => (i * 37) & 0xff);
  const nonce = new Uint8Array(16).fill(9);
  for (const offset of [0, 2, 66]) {
    rekeyable.setKey(keys, offset);
    const fresh = TS_AEAD.create(AeadId.AES_SIV_CMAC_512, keys.subarray(offset, offset + 64));
    assert.equal(toHex(rekeyable.seal(nonce, keys, nonce)), toHex(fresh.seal(nonce, keys, nonce)));
  }
  rekeyable.clearKey();
  assert.throws(() => rekeyable.seal(nonce, keys, nonce));
  const gcm = provider.create(AeadId.AES_128_GCM_SIV, new Uint8Array(16));
  assert.equal(gcm.nonceLength, 12);
  const tsGcm = TS_AEAD.create(AeadId.AES_128_GCM_SIV, new Uint8Array(16));
  const n12 = new Uint8Array(12);
  assert.equal(toHex(gcm.seal(n12, keys, nonce)), toHex(tsGcm.seal(n12, keys, nonce)));
});

testEach(
  "native AES-SIV: any number of components, keys of 32, 48, 64 octets (property)",
  (a, t) => {
    const seed = Number(process.env.FC_SEED ?? 0x5172);
    t.diagnostic(`fast-check seed ${seed} (set FC_SEED to replay)`);
    fc.assert(
      fc.property(
        fc.constantFrom(32, 48, 64),
        fc.array(fc.uint8Array({ maxLength: 70 }), { maxLength: 6 }),
        fc.uint8Array({ maxLength: 90 }),
        fc.integer({ min: 0, max: 2 ** 31 }),
        (keyLength, components, pt, keySeed) => {
          const key = new Uint8Array(keyLength);
          for (let i = 0; i < keyLength; i++) key[i] = (keySeed * (i + 3) * 2246822519) >>> 24;
          const expected = new AesSivCmac(key).sealComponents(components, pt);
          const sealed = a.sivSealComponents(key, components, pt);
          assert.equal(toHex(sealed), toHex(expected));
          const opened = a.sivOpenComponents(key, components, sealed);
          assert.ok(opened !== null);
          assert.equal(toHex(opened), toHex(pt));
          sealed[0]! ^= 0x80;
          assert.equal(a.sivOpenComponents(key, components, sealed), null);
        },
      ),
      { seed, numRuns: 300 },
    );
  },
);

test("native AES-SIV: AES-NI is the default where the CPU has it; names are checked", (t) => {
  const a = needAddon(t);
  if (a === null) return;
  const cpuHasAes =
    process.arch === "x64" && /^flags\s*:.*\baes\b/m.test(readFileSync("/proc/cpuinfo", "utf8"));
  assert.equal(a.sivImplementation(), cpuHasAes ? "aesni" : "openssl");
  try {
    assert.equal(a.sivImplementation("openssl"), "openssl");
    assert.equal(a.sivImplementation(), "openssl");
    assert.equal(a.sivImplementation("aesni"), cpuHasAes ? "aesni" : "openssl");
  } finally {
    a.sivImplementation(cpuHasAes ? "aesni" : "openssl");
  }
  assert.throws(() => a.sivImplementation("evp" as "openssl"), RangeError);
  assert.throws(() => a.sivImplementation(1 as unknown as "openssl"), TypeError);
});

testEach(
  "native AES-SIV: prepared keys (the master keys) match per-call keys; wiped on dispose",
  (a) => {
    const nonce = new Uint8Array(16).fill(6);
    const pt = Uint8Array.from({ length: 130 }, (_, i) => i);
    for (const length of [32, 48, 64]) {
      const key = Uint8Array.from({ length }, (_, i) => 200 - i);
      const handle = a.sivPrepareKey(key);
      key.fill(0); // the addon keeps its own copy
      const expected = new AesSivCmac(Uint8Array.from({ length }, (_, i) => 200 - i)).seal(
        nonce,
        new Uint8Array(0),
        pt,
      );
      const out = new Uint8Array(16 + pt.length);
      // Empty AD given as a zero-length range of an unrelated array: not looked at.
      assert.ok(a.sivSeal(handle, out, 999, 0, nonce, 0, 16, pt, 0, pt.length, out, 0));
      assert.equal(toHex(out), toHex(expected), `${length}-octet key`);
      const back = new Uint8Array(pt.length);
      assert.ok(a.sivOpen(handle, nonce, 0, 0, nonce, 0, 16, out, 0, out.length, back, 0));
      assert.equal(toHex(back), toHex(pt));
      out[20]! ^= 1;
      assert.equal(
        a.sivOpen(handle, nonce, 0, 0, nonce, 0, 16, out, 0, out.length, back, 0),
        false,
      );
      assert.ok(
        back.every((b) => b === 0),
        "the output is zeroed on failure",
      );
      a.sivWipeKey(handle);
      assert.throws(
        () => a.sivSeal(handle, out, 0, 0, nonce, 0, 16, pt, 0, 1, out, 0),
        TypeError,
        "a wiped key is unusable",
      );
    }
    const cipher = nativeAeadProvider(a).create(AeadId.AES_SIV_CMAC_256, new Uint8Array(32));
    cipher.seal(nonce, nonce, nonce);
    cipher.dispose?.();
    assert.throws(() => cipher.seal(nonce, nonce, nonce), /after dispose/);
    assert.throws(() => a.sivPrepareKey(new Uint8Array(33)), RangeError);
    assert.throws(() => a.sivWipeKey({}), TypeError);
    const buf = new Uint8Array(64);
    assert.throws(() => a.sivSeal({}, buf, 0, 0, buf, 0, 16, buf, 0, 0, buf, 0), TypeError);
  },
);
