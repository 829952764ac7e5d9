// What a fuzz target is: one function over bytes that calls a real parser and
// checks its contract. Anything it throws is a crasher: an exception escaping
// the parser, or a violated invariant (FuzzInvariantError).

import type { Rng } from "./rng.js";

/** Length-prefixed records the mutator can edit as records (TLV-aware mutations). */
export interface RecordLayout {
  /** Offset of the first record. */
  start: number;
  /** Octets of a record header; the length is the big-endian u16 at headerLength - 2. */
  headerLength: number;
  /** The length field counts the header too (NTP extension fields) or only the body (NTS-KE). */
  lengthIncludesHeader: boolean;
  /** Record lengths are multiples of this (4 for extension fields, 1 for NTS-KE). */
  align: number;
  /** Type values worth trying (first two octets of a header). */
  types: readonly number[];
}

export interface FuzzTarget {
  readonly name: string;
  /** One line: the parser and the invariant. */
  readonly description: string;
  /** "text": inputs are UTF-8 text and text mutations are added. */
  readonly kind: "bytes" | "text";
  /** Longest input generated. */
  readonly maxLength: number;
  readonly layout?: RecordLayout;
  /** Tokens the mutator inserts (keywords, magic numbers). */
  readonly dictionary?: readonly Uint8Array[];
  /**
   * A structure-aware mutation of the target's own (e.g. edit one JSON value
   * and fix the length prefix); null when it does not apply to `input`.
   */
  mutate?(input: Uint8Array, rng: Rng): Uint8Array | null;
  /** Seed inputs (vectors, captures, fixtures, synthesized valid inputs). */
  seeds(): Uint8Array[];
  /** Runs the parser on `input`; throws on a broken contract. */
  run(input: Uint8Array): void;
}

/** A contract the parser broke (not an exception of its own). */
export class FuzzInvariantError extends Error {
  override name = "FuzzInvariantError";
}

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new FuzzInvariantError(message);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const textEncoder = new TextEncoder();
export const utf8 = (s: string): Uint8Array => textEncoder.encode(s);
export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
