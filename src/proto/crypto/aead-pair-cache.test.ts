// The session cipher cache: a hit is the very pair (and behaves as fresh
// ciphers for its keys), different keys never share a pair (not even when
// their hashes collide), the LRU bound holds, evicted pairs are wiped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { AeadId } from "./aead.js";
import {
  AeadPairCache,
  DEFAULT_AEAD_PAIR_CACHE_CAPACITY,
  type AeadPair,
} from "./aead-pair-cache.js";
import { aeadKeyLength, createAead, SUPPORTED_AEADS } from "./registry.js";

const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

interface Keys {
  id: AeadId;
  c2s: Uint8Array;
  s2c: Uint8Array;
}

function keysFor(id: AeadId): Keys {
  const k = aeadKeyLength(id)!;
  return { id, c2s: Uint8Array.from(randomBytes(k)), s2c: Uint8Array.from(randomBytes(k)) };
}

/** Both ciphers of `pair` seal as fresh ciphers for `keys` do, and open their output. */
function behavesAs(pair: AeadPair, keys: Keys): void {
  assert.equal(pair.id, keys.id);
  for (const [cipher, key] of [
    [pair.c2s, keys.c2s],
    [pair.s2c(), keys.s2c],
  ] as const) {
    const fresh = createAead(keys.id, key);
    const nonce = randomBytes(fresh.nonceLength);
    const ad = randomBytes(84);
    const plaintext = randomBytes(104);
    const sealed = cipher.seal(nonce, ad, plaintext);
    assert.equal(toHex(sealed), toHex(fresh.seal(nonce, ad, plaintext)));
    assert.equal(toHex(fresh.open(nonce, ad, sealed)!), toHex(plaintext));
    assert.equal(toHex(cipher.open(nonce, ad, sealed)!), toHex(plaintext));
  }
}

test("a hit returns the admitted pair, whose ciphers behave as fresh ones (every AEAD)", () => {
  const cache = new AeadPairCache(8);
  for (const id of SUPPORTED_AEADS) {
    const keys = keysFor(id);
    const first = cache.get(id, keys.c2s, keys.s2c);
    behavesAs(first, keys);
    cache.admit(first);
    // Equal keys in other buffers find it; the caller may overwrite its keys afterwards.
    const again = cache.get(id, keys.c2s.slice(), keys.s2c.slice());
    assert.equal(again, first);
    behavesAs(again, keys);
  }
  assert.equal(cache.size, SUPPORTED_AEADS.length);
  assert.equal(cache.hits, SUPPORTED_AEADS.length);
  assert.equal(cache.misses, SUPPORTED_AEADS.length);
});

test("a pair is cached only once admitted; admitting it twice changes nothing", () => {
  const cache = new AeadPairCache(4);
  const keys = keysFor(AeadId.AES_SIV_CMAC_256);
  const a = cache.get(keys.id, keys.c2s, keys.s2c);
  const b = cache.get(keys.id, keys.c2s, keys.s2c);
  assert.notEqual(a, b);
  assert.equal(cache.size, 0);
  cache.admit(a);
  cache.admit(a);
  assert.equal(cache.size, 1);
  assert.equal(cache.get(keys.id, keys.c2s, keys.s2c), a);
});

test("keys that differ in one bit, in the other direction, or in the AEAD never share a pair", () => {
  const cache = new AeadPairCache(64);
  const keys = keysFor(AeadId.AES_SIV_CMAC_512);
  const pair = cache.get(keys.id, keys.c2s, keys.s2c);
  cache.admit(pair);
  const variants: Keys[] = [{ id: keys.id, c2s: keys.s2c, s2c: keys.c2s }];
  for (const bit of [0, 7, 100, 511]) {
    const c2s = keys.c2s.slice();
    c2s[bit >> 3]! ^= 1 << (bit & 7);
    const s2c = keys.s2c.slice();
    s2c[bit >> 3]! ^= 1 << (bit & 7);
    variants.push({ id: keys.id, c2s, s2c: keys.s2c }, { id: keys.id, c2s: keys.c2s, s2c });
  }
  // Same 32 octets under AEAD 15 as the first half of... a different AEAD and length.
  variants.push({
    id: AeadId.AES_SIV_CMAC_256,
    c2s: keys.c2s.subarray(0, 32),
    s2c: keys.s2c.subarray(0, 32),
  });
  for (const v of variants) {
    const other = cache.get(v.id, v.c2s, v.s2c);
    assert.notEqual(other, pair);
    behavesAs(other, v);
    cache.admit(other);
  }
  assert.equal(cache.get(keys.id, keys.c2s, keys.s2c), pair);
  behavesAs(pair, keys);
});

test("property: with a 2-bit hash (constant collisions) every lookup gets its own keys' ciphers", () => {
  const ids = [AeadId.AES_SIV_CMAC_256, AeadId.AES_SIV_CMAC_512, AeadId.AES_128_GCM_SIV];
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.constantFrom(...ids), fc.nat(5), fc.nat(5)), {
        minLength: 1,
        maxLength: 40,
      }),
      (ops) => {
        const cache = new AeadPairCache(3, { seed: 1, hashBits: 2 });
        const nonce = new Uint8Array(16).fill(7);
        for (const [id, a, b] of ops) {
          // Few distinct keys, so hits, misses and replacements all happen.
          const k = aeadKeyLength(id)!;
          const c2s = new Uint8Array(k).fill(a);
          const s2c = new Uint8Array(k).fill(b + 0x40);
          const pair = cache.get(id, c2s, s2c);
          const n = nonce.subarray(0, pair.c2s.nonceLength);
          const expectC2s = createAead(id, c2s).seal(n, nonce, nonce);
          const expectS2c = createAead(id, s2c).seal(n, nonce, nonce);
          assert.equal(toHex(pair.c2s.seal(n, nonce, nonce)), toHex(expectC2s));
          assert.equal(toHex(pair.s2c().seal(n, nonce, nonce)), toHex(expectS2c));
          cache.admit(pair);
          assert.ok(cache.size <= 3);
        }
      },
    ),
    { numRuns: 60 },
  );
});

test("eviction bound: never more than capacity pairs; one random pair goes per admission, wiped", () => {
  const cache = new AeadPairCache(4, { seed: 3 });
  const keys = Array.from({ length: 5 }, () => keysFor(AeadId.AES_SIV_CMAC_256));
  const pairs = keys.map((k) => cache.get(k.id, k.c2s, k.s2c));
  for (const p of pairs.slice(0, 4)) cache.admit(p);
  assert.equal(cache.size, 4);
  cache.admit(pairs[4]!);
  assert.equal(cache.size, 4);
  const found = keys.map((k, i) => cache.get(k.id, k.c2s, k.s2c) === pairs[i]);
  assert.equal(found.filter(Boolean).length, 4);
  assert.ok(found[4], "the admitted pair is kept");
  const gone = found.indexOf(false);
  // The evicted pair's key copy is wiped; its S2C cipher, never created, cannot be anymore.
  assert.ok(pairs[gone]!.wiped);
  assert.ok(pairs[gone]!.material.every((b) => b === 0));
  assert.throws(() => pairs[gone]!.s2c(), /after eviction/);
  // Admitting it again changes nothing; its keys get a fresh pair.
  cache.admit(pairs[gone]!);
  assert.equal(cache.size, 4);
  const k = keys[gone]!;
  const fresh = cache.get(k.id, k.c2s, k.s2c);
  assert.notEqual(fresh, pairs[gone]);
  behavesAs(fresh, k);

  // Many more sessions: the bound holds throughout.
  for (let i = 0; i < 200; i++) {
    const more = keysFor(AeadId.AES_SIV_CMAC_256);
    cache.admit(cache.get(more.id, more.c2s, more.s2c));
    assert.ok(cache.size <= 4);
  }
  assert.equal(cache.size, 4);
  cache.clear();
  assert.equal(cache.size, 0);
  assert.ok(pairs.every((p) => p.wiped));
});

test("periodic clients outnumbering the slots still hit (where LRU would never)", () => {
  const cache = new AeadPairCache(64, { seed: 11 });
  const sessions = Array.from({ length: 96 }, () => keysFor(AeadId.AES_SIV_CMAC_256));
  for (let round = 0; round < 20; round++) {
    for (const k of sessions) cache.admit(cache.get(k.id, k.c2s, k.s2c));
  }
  assert.equal(cache.size, 64);
  // 96 sessions in turn through 64 slots: LRU would miss every time.
  assert.ok(cache.hits > 0.2 * 96 * 19, `only ${cache.hits} hits`);
});

test("an evicted pair whose S2C cipher exists keeps working for its own keys", () => {
  const cache = new AeadPairCache(1);
  const a = keysFor(AeadId.AES_SIV_CMAC_512);
  const pa = cache.get(a.id, a.c2s, a.s2c);
  pa.s2c();
  cache.admit(pa);
  const b = keysFor(AeadId.AES_SIV_CMAC_512);
  cache.admit(cache.get(b.id, b.c2s, b.s2c));
  assert.equal(cache.size, 1);
  behavesAs(pa, a);
});

test("capacity 0 caches nothing; bad arguments throw RangeError", () => {
  const cache = new AeadPairCache(0);
  const keys = keysFor(AeadId.AES_SIV_CMAC_256);
  const p = cache.get(keys.id, keys.c2s, keys.s2c);
  cache.admit(p);
  assert.equal(cache.size, 0);
  assert.notEqual(cache.get(keys.id, keys.c2s, keys.s2c), p);
  behavesAs(p, keys);

  assert.equal(new AeadPairCache().capacity, DEFAULT_AEAD_PAIR_CACHE_CAPACITY);
  assert.throws(() => new AeadPairCache(-1), RangeError);
  assert.throws(() => new AeadPairCache(1.5), RangeError);
  assert.throws(() => new AeadPairCache(1, { hashBits: 0 }), RangeError);
  assert.throws(() => new AeadPairCache(1, { hashBits: 31 }), RangeError);
  assert.throws(() => cache.get(keys.id, keys.c2s, keys.s2c.subarray(1)), RangeError);
  assert.throws(() => cache.get(keys.id, new Uint8Array(31), new Uint8Array(31)), RangeError);
  assert.throws(
    () => cache.get(AeadId.AES_SIV_CMAC_384, new Uint8Array(48), new Uint8Array(48)),
    RangeError,
  );
});
