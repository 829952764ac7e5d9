// NTPv5 loop detection (draft-ietf-ntp-ntpv5 "Reference IDs", ntpd-rs
// `server_reference_id.rs`): instead of NTPv4's single reference ID, a server
// publishes a 4096-bit Bloom filter of the servers it synchronizes to, itself
// included. Each server has a random ID of 10 distinct 12-bit numbers; bit k
// of the filter is bit (k mod 8) of byte ⌊k / 8⌋. A client fetches the filter
// in chunks (Reference ID request/response fields) and refuses a source whose
// filter holds the client's own ID: that source already depends on us.

import { BLOOM_FILTER_LENGTH } from "./v5.js";

/** Bits of a server ID. */
export const SERVER_ID_BITS = 10;

/** A server ID: 10 distinct 12-bit indices, from `random` (2 octets each, retried on a repeat). */
export function newServerId(random: (n: number) => Uint8Array): Uint16Array {
  const id = new Uint16Array(SERVER_ID_BITS);
  let n = 0;
  // Bounded: each draw repeats one of ≤ 9 taken values with odds ≤ 9/4096.
  for (let tries = 0; n < SERVER_ID_BITS && tries < 1000; tries++) {
    const b = random(2);
    const v = (((b[0] ?? 0) << 8) | (b[1] ?? 0)) & 0xfff;
    if (!id.subarray(0, n).includes(v)) id[n++] = v;
  }
  if (n < SERVER_ID_BITS) throw new RangeError("random source is broken");
  return id.sort();
}

/** Sets the ID's bits in `filter` (BLOOM_FILTER_LENGTH octets). */
export function addServerId(filter: Uint8Array, id: Uint16Array): void {
  for (const k of id) filter[k >>> 3]! |= 1 << (k & 7);
}

/** Sets every bit of `from` in `into` (both BLOOM_FILTER_LENGTH octets): the union of two filters. */
export function mergeBloomFilter(into: Uint8Array, from: Uint8Array): void {
  for (let i = 0; i < into.length; i++) into[i]! |= from[i] ?? 0;
}

/** Whether two filters hold the same bits. */
export function sameBloomFilter(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Whether every bit of `id` is set in `filter`. */
export function filterHasServerId(filter: Uint8Array, id: Uint16Array): boolean {
  for (const k of id) if (((filter[k >>> 3] ?? 0) & (1 << (k & 7))) === 0) return false;
  return true;
}

/** A filter holding only `id`. */
export function bloomFilterOf(id: Uint16Array): Uint8Array {
  const filter = emptyBloomFilter();
  addServerId(filter, id);
  return filter;
}

/** An empty filter. */
export function emptyBloomFilter(): Uint8Array {
  return new Uint8Array(BLOOM_FILTER_LENGTH);
}

/** Octets a client asks for per request (ntpd-rs: 16, so 32 polls fill the filter). */
export const BLOOM_CHUNK_LENGTH = 16;

/**
 * The client's copy of one source's filter, fetched a chunk per v5 request
 * (ntpd-rs RemoteBloomFilter): complete once every chunk has arrived in turn.
 */
export class RemoteBloomFilter {
  readonly #filter = emptyBloomFilter();
  #next = 0;
  #filled = false;

  /** Offset of the chunk the next request asks for. */
  nextOffset(): number {
    return this.#next;
  }

  /**
   * A response for the chunk at `offset` (the one our request asked for):
   * stored, and the next chunk is asked for. Returns false (and stores
   * nothing) for a response of the wrong size or for another offset.
   */
  accept(offset: number, bytes: Uint8Array): boolean {
    if (offset !== this.#next || bytes.length !== BLOOM_CHUNK_LENGTH) return false;
    this.#filter.set(bytes, offset);
    this.#next = (offset + BLOOM_CHUNK_LENGTH) % BLOOM_FILTER_LENGTH;
    if (this.#next === 0) this.#filled = true;
    return true;
  }

  /** The whole filter once it has been fetched at least once; null before. */
  full(): Uint8Array | null {
    return this.#filled ? this.#filter : null;
  }
}
