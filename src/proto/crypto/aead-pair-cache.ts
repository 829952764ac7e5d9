// A bounded cache of AEAD cipher pairs keyed by their exact key bytes: the NTS
// server's per-session (C2S, S2C) ciphers. A client sends request after
// request with cookies that all carry the same session keys; keeping the pair
// spares the per-request key setup (for AES-SIV-CMAC two or three node:crypto
// cipher objects and four AES calls, several microseconds of a request).
//
// Exactness: an entry is found through a seeded 30-bit hash of the AEAD id and
// both keys, then compared in full (timingSafeEqual) with a copy of the key
// bytes it was made from, so a pair is never returned for other keys. Two key
// sets with the same hash replace each other (session keys are TLS exporter
// output, so that is as rare as a random 30-bit collision).
//
// Bounds and eviction: at most `capacity` pairs (about 8 KiB each, mostly
// OpenSSL cipher contexts and their node:crypto wrappers). Admitting one more
// evicts a pair chosen at random and overwrites its copy of the keys (the
// cipher objects are freed by the garbage collector; OpenSSL cleanses their
// key schedules). Random, not least-recently-used: NTP clients poll
// periodically, so with more active sessions than slots LRU would evict every
// session just before its next request and never hit, while random eviction
// still keeps a share of them. Capacity 0 disables the cache.
//
// Trade-offs (why this is acceptable, and what it costs):
//   * Secrets in memory: session keys stay in process memory while their pair
//     is cached, instead of only for the duration of one request. The same
//     process holds the cookie master keys, which open every cookie and so
//     give every session key anyway; the cache adds no new class of secret.
//   * Timing: the hash and comparison take the same time for all keys of one
//     length (no early exit); the Map lookup indexes its table by the hash,
//     which is a secret-dependent memory access (as any table keyed by key
//     bytes would be). What is observable is hit against miss: a hit skips
//     the key setup, a few microseconds. Pairs are admitted only by the
//     caller, and the NTS server admits them only after a request
//     authenticated under them, so a replayed cookie with a forged
//     authenticator cannot seed the cache, and it redoes the key setup when
//     such a request fails on a cached pair, so its NAK takes the same work
//     either way. What remains: replaying a whole captured authentic request
//     gets a faster reply if its session's pair is cached, i.e. if the
//     session sent a request recently. That replay admits the pair itself, so
//     it is a one-shot measurement of a few microseconds across the network
//     per captured request: a weak activity oracle, related to the cookie
//     linkability RFC 8915 §9.1 guards against. Run with capacity 0 where
//     that matters more than CPU.

import { randomFillSync, timingSafeEqual } from "node:crypto";
import type { AeadCipher, AeadId } from "./aead.js";
import { createAead } from "./registry.js";

/** Default number of cached pairs: about 8 MiB of cipher state when full. */
export const DEFAULT_AEAD_PAIR_CACHE_CAPACITY = 1024;

/** Ciphers for one session: C2S at once, S2C on first use. */
export class AeadPair {
  readonly id: AeadId;
  /** The client-to-server cipher (verifies requests). */
  readonly c2s: AeadCipher;
  #s2c: AeadCipher | null = null;
  #wiped = false;
  /** aead id (2 octets) ‖ C2S key ‖ S2C key: what the entry is compared against. */
  readonly material: Uint8Array;
  /** The seeded hash of `material` (the cache's map key). */
  readonly hash: number;
  /** @internal Index in the cache's slot array while cached, else -1. */
  slot = -1;

  constructor(id: AeadId, material: Uint8Array, hash: number, keyLength: number) {
    this.id = id;
    this.material = material;
    this.hash = hash;
    this.c2s = createAead(id, material.subarray(2, 2 + keyLength));
  }

  /**
   * The server-to-client cipher (seals responses), created on first use.
   * @throws Error once the cache has evicted the pair before it was created
   * (a caller bug: use a pair only within the request that got it).
   */
  s2c(): AeadCipher {
    if (this.#s2c === null) {
      if (this.#wiped) throw new Error("AEAD pair used after eviction");
      const keyLength = (this.material.length - 2) >>> 1;
      this.#s2c = createAead(this.id, this.material.subarray(2 + keyLength));
    }
    return this.#s2c;
  }

  /** Whether the pair is in the cache now. */
  get cached(): boolean {
    return this.slot >= 0;
  }

  /** Whether the cache has evicted (and wiped) the pair. */
  get wiped(): boolean {
    return this.#wiped;
  }

  /** Overwrites the key copy; the pair must not be used afterwards. */
  wipe(): void {
    this.#wiped = true;
    this.material.fill(0);
  }
}

export interface AeadPairCacheOptions {
  /** Hash seed; random by default. */
  seed?: number;
  /** Bits of the hash used (1..30, default 30); fewer only to make tests collide. */
  hashBits?: number;
}

export class AeadPairCache {
  readonly capacity: number;
  /** hash → pair. */
  readonly #pairs = new Map<number, AeadPair>();
  /** The same pairs, densely, for picking one to evict. */
  readonly #slots: AeadPair[] = [];
  readonly #seed: number;
  readonly #hashMask: number;
  /** xorshift32 state for choosing evictions (not secret: it picks a slot, not a key). */
  #rng: number;
  /** Scratch for the lookup key: aead id ‖ C2S ‖ S2C (longest: 2 + 2 × 64). */
  #scratch = new Uint8Array(2 + 2 * 64);
  #hits = 0;
  #misses = 0;

  /** `capacity`: most pairs kept (0 disables caching). */
  constructor(capacity = DEFAULT_AEAD_PAIR_CACHE_CAPACITY, options: AeadPairCacheOptions = {}) {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new RangeError(`AEAD pair cache capacity ${capacity} is not a non-negative integer`);
    }
    const bits = options.hashBits ?? 30;
    if (!Number.isInteger(bits) || bits < 1 || bits > 30) {
      throw new RangeError(`AEAD pair cache hash bits ${bits} not in 1..30`);
    }
    this.capacity = capacity;
    this.#seed = (options.seed ?? randomFillSync(new Uint32Array(1))[0]!) >>> 0;
    this.#hashMask = 2 ** bits - 1;
    this.#rng = this.#seed ^ 0x6d2b79f5 || 1;
  }

  /** Pairs held now. */
  get size(): number {
    return this.#pairs.size;
  }

  /** Lookups that found their pair. */
  get hits(): number {
    return this.#hits;
  }

  /** Lookups that did not. */
  get misses(): number {
    return this.#misses;
  }

  /**
   * The pair for exactly these keys: the cached one (now the most recently
   * used), or a new one that is not cached until `admit`ted.
   * @throws RangeError for an unsupported id or keys of the wrong length.
   */
  get(id: AeadId, c2sKey: Uint8Array, s2cKey: Uint8Array): AeadPair {
    const keyLength = c2sKey.length;
    if (s2cKey.length !== keyLength) {
      throw new RangeError(`C2S key has ${keyLength} octets, S2C key ${s2cKey.length}`);
    }
    const length = 2 + 2 * keyLength;
    if (this.#scratch.length < length) this.#scratch = new Uint8Array(length);
    const material = this.#scratch.subarray(0, length);
    material[0] = id >>> 8;
    material[1] = id & 0xff;
    material.set(c2sKey, 2);
    material.set(s2cKey, 2 + keyLength);
    const hash = hashOf(material, this.#seed) & this.#hashMask;
    const cached = this.#pairs.get(hash);
    if (
      cached !== undefined &&
      cached.material.length === length &&
      timingSafeEqual(cached.material, material)
    ) {
      material.fill(0);
      this.#hits++;
      return cached;
    }
    this.#misses++;
    try {
      return new AeadPair(id, Uint8Array.from(material), hash, keyLength);
    } finally {
      material.fill(0);
    }
  }

  /**
   * Keeps `pair` (from this cache's `get`) for later lookups; when full,
   * evicts (and wipes) a pair chosen at random. Admitting a cached or an
   * evicted pair changes nothing.
   */
  admit(pair: AeadPair): void {
    if (this.capacity === 0 || pair.slot >= 0 || pair.wiped) return;
    const pairs = this.#pairs;
    const slots = this.#slots;
    let slot: number;
    const present = pairs.get(pair.hash);
    if (present !== undefined) {
      slot = present.slot; // same hash, other keys (or an earlier pair for the same keys)
    } else if (slots.length >= this.capacity) {
      slot = this.#nextRandom() % slots.length;
    } else {
      slot = slots.length;
    }
    const evicted = slots[slot];
    if (evicted !== undefined) {
      pairs.delete(evicted.hash);
      evicted.slot = -1;
      evicted.wipe();
    }
    slots[slot] = pair;
    pair.slot = slot;
    pairs.set(pair.hash, pair);
  }

  /** Forgets (and wipes) every pair. */
  clear(): void {
    for (const pair of this.#slots) {
      pair.slot = -1;
      pair.wipe();
    }
    this.#slots.length = 0;
    this.#pairs.clear();
  }

  #nextRandom(): number {
    let x = this.#rng;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#rng = x;
    return x >>> 0;
  }
}

/**
 * A seeded 30-bit hash (a small positive integer, so Map keeps it unboxed) of
 * all of `bytes`, in time that depends only on their length.
 */
function hashOf(bytes: Uint8Array, seed: number): number {
  let h = seed ^ bytes.length;
  const n = bytes.length;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const w = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    h = Math.imul(h ^ w, 0x9e3779b1);
    h ^= h >>> 15;
  }
  for (; i < n; i++) {
    h = Math.imul(h ^ bytes[i]!, 0x85ebca77);
    h ^= h >>> 13;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  h ^= h >>> 16;
  return h & 0x3fffffff;
}
