// Helpers shared by the targets: fixed keys, deterministic randomness and
// the chunking of a byte stream.

import { KeySet } from "../../src/proto/nts/keyset/keyset.js";
import { Rng } from "../engine/rng.js";

/** Deterministic octets (the same sequence for the same seed). */
export function seededRandom(seed: number): (n: number) => Uint8Array {
  const rng = new Rng(seed);
  return (n) => rng.bytes(n);
}

/** The server's cookie keys in every target: three keys, ids 100..102, primary 102. */
export function fixedKeySet(): KeySet {
  const keys = [0, 1, 2].map((i) => new Uint8Array(64).fill(0x10 + i));
  return KeySet.fromParts({ keys, idOffset: 100, primary: 2 });
}

/**
 * Splits `bytes` into chunks whose boundaries depend only on the bytes, so a
 * streaming decoder sees a reproducible, input-dependent segmentation
 * (TCP may deliver a message in any pieces).
 */
export function chunks(bytes: Uint8Array): Uint8Array[] {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 0x01000193);
  const rng = new Rng(h);
  const out: Uint8Array[] = [];
  let off = 0;
  const mode = rng.below(4); // 0: whole, 1: byte by byte, 2-3: random pieces
  while (off < bytes.length) {
    const n = mode === 0 ? bytes.length : mode === 1 ? 1 : 1 + rng.below(rng.oneIn(2) ? 8 : 300);
    out.push(bytes.subarray(off, Math.min(bytes.length, off + n)));
    off += n;
  }
  if (rng.oneIn(8)) out.splice(rng.below(out.length + 1), 0, new Uint8Array(0));
  return out;
}
