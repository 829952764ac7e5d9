// Per-client rate limiting as ntpd-rs `TimestampedCache` (server.rs): a
// fixed-size table of `cacheSize` slots indexed by a keyed hash of the client
// address. Each request overwrites its slot with (address, arrival time); a
// request whose slot already holds the same address seen less than `cutoffMs`
// ago is refused. Collisions simply evict, so memory is fixed and an attacker
// spraying addresses can only make the limiter forget, never grow it.
//
// Times are the requests' receive timestamps (NTP time, no clock read here). A
// negative elapsed time (the clock was stepped back) counts as "long ago":
// a clock step can make the limiter lenient, never drop a legitimate client.

import { MAX_RATE_LIMITING_CACHE_SIZE } from "../config/schema-server.js";
import type { IpFamily } from "../ip-address.js";

const TWO_POW_32 = 4_294_967_296;

export class RateLimiter {
  private readonly size: number;
  private readonly cutoffSeconds: number;
  private readonly seed: number;
  private readonly families: Uint8Array;
  private readonly keys: Uint32Array;
  private readonly seenSeconds: Uint32Array;
  private readonly seenFractions: Uint32Array;

  /**
   * `cacheSize` 0 or `cutoffMs` 0 disables limiting (ntpd-rs defaults). `seed`
   * keys the hash (pass a random u32; tests pass a constant). The configuration
   * has validated both numbers; the check below only guards the allocation
   * against a caller's bug.
   */
  constructor(cacheSize: number, cutoffMs: number, seed: number) {
    if (
      !Number.isSafeInteger(cacheSize) ||
      cacheSize < 0 ||
      cacheSize > MAX_RATE_LIMITING_CACHE_SIZE
    ) {
      throw new RangeError(
        `rate-limiting-cache-size must be an integer in 0..${MAX_RATE_LIMITING_CACHE_SIZE}, got ${cacheSize}`,
      );
    }
    if (!Number.isFinite(cutoffMs) || cutoffMs < 0) {
      throw new RangeError(`rate-limiting-cutoff-ms must be a number ≥ 0, got ${cutoffMs}`);
    }
    this.size = cutoffMs > 0 ? cacheSize : 0;
    this.cutoffSeconds = cutoffMs / 1000;
    this.seed = seed >>> 0;
    this.families = new Uint8Array(this.size);
    this.keys = new Uint32Array(this.size * 4);
    this.seenSeconds = new Uint32Array(this.size);
    this.seenFractions = new Uint32Array(this.size);
  }

  get enabled(): boolean {
    return this.size > 0;
  }

  /**
   * Records a request from (family, words) that arrived at (rxSeconds,
   * rxFraction) and returns whether it is allowed.
   */
  allow(family: IpFamily, words: Uint32Array, rxSeconds: number, rxFraction: number): boolean {
    const size = this.size;
    if (size === 0) return true;
    const w0 = words[0] ?? 0;
    const w1 = words[1] ?? 0;
    const w2 = words[2] ?? 0;
    const w3 = words[3] ?? 0;
    let h = this.seed ^ family;
    h = Math.imul(h ^ w0, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ w1, 0x85ebca77);
    h = Math.imul(h ^ (h >>> 13) ^ w2, 0xc2b2ae3d);
    h = Math.imul(h ^ (h >>> 16) ^ w3, 0x27d4eb2f);
    h ^= h >>> 15;
    const slot = (h >>> 0) % size;
    const k = slot * 4;
    const keys = this.keys;
    const same =
      this.families[slot] === family &&
      keys[k] === w0 &&
      keys[k + 1] === w1 &&
      keys[k + 2] === w2 &&
      keys[k + 3] === w3;
    let allowed = true;
    if (same) {
      const elapsed =
        ((rxSeconds - (this.seenSeconds[slot] ?? 0)) | 0) +
        (rxFraction - (this.seenFractions[slot] ?? 0)) / TWO_POW_32;
      allowed = elapsed < 0 || elapsed >= this.cutoffSeconds;
    } else {
      this.families[slot] = family;
      keys[k] = w0;
      keys[k + 1] = w1;
      keys[k + 2] = w2;
      keys[k + 3] = w3;
    }
    this.seenSeconds[slot] = rxSeconds;
    this.seenFractions[slot] = rxFraction;
    return allowed;
  }
}
