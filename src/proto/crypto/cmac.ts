// AES-CMAC (RFC 4493; NIST SP 800-38B for AES-192/256 keys) on node:crypto's
// AES-CBC, plus the GF(2^128) doubling that CMAC subkeys and SIV's S2V share.
//
// One AES-CBC cipher object (zero IV, no padding) is created per key and
// serves every MAC computed under that key ("one-cbc"): to restart the CBC
// chain at IV = 0 on the same object we XOR the previous output block (the
// object's current chaining value, which we track) into the first block of
// the next message. update() is synchronous, so no other caller can interleave;
// for the same reason every AesCmac shares one scratch buffer (no per-key
// allocation beyond the subkeys and the chaining value).

import { createCipheriv, timingSafeEqual, type Cipher } from "node:crypto";

/** AES block size in octets. */
export const AES_BLOCK_SIZE = 16;

/** Messages up to this size reuse the shared scratch buffer; longer ones get a temporary one. */
const SCRATCH_LIMIT = 4096;

/** Scratch of every AesCmac (grown up to SCRATCH_LIMIT; zeroed after each use). */
let scratch = new Uint8Array(256);
/** views[n] = scratch[0 .. 16n), made on first use (no view allocated per MAC). */
let views: Uint8Array[] = [];

/** A zeroed buffer of exactly `size` octets (a multiple of 16): a view of the scratch if it fits. */
function scratchOf(size: number): Uint8Array {
  if (size > SCRATCH_LIMIT) return new Uint8Array(size);
  if (scratch.length < size) {
    scratch = new Uint8Array(Math.min(SCRATCH_LIMIT, Math.max(size, scratch.length * 2)));
    views = [];
  }
  return (views[size >>> 4] ??= scratch.subarray(0, size));
}

/** The node:crypto cipher name for an AES key of `keyLength` octets in `mode`. */
export function aesAlgorithm(keyLength: number, mode: "cbc" | "ctr" | "ecb"): string {
  switch (keyLength) {
    case 16:
      return `aes-128-${mode}`;
    case 24:
      return `aes-192-${mode}`;
    case 32:
      return `aes-256-${mode}`;
    default:
      throw new RangeError(`AES key must be 16, 24 or 32 octets, got ${keyLength}`);
  }
}

/**
 * `out = dbl(input)` in GF(2^128) (RFC 5297 §2.3, RFC 4493 §2.3): shift the
 * 128-bit big-endian string left by one and, if the dropped top bit was set,
 * XOR 0x87 into the last octet. Branch-free in the data. `out` may be `input`.
 */
export function dblInto(out: Uint8Array, input: Uint8Array): void {
  const first = input[0]!;
  const mask = -(first >> 7) & 0x87;
  for (let i = 0; i < 15; i++) {
    out[i] = ((input[i]! << 1) | (input[i + 1]! >> 7)) & 0xff;
  }
  out[15] = ((input[15]! << 1) & 0xff) ^ mask;
}

/** dbl() of a 16-octet block, into a new array. */
export function dbl(input: Uint8Array): Uint8Array {
  if (input.length !== AES_BLOCK_SIZE) {
    throw new RangeError(`dbl() takes a 16-octet block, got ${input.length}`);
  }
  const out = new Uint8Array(AES_BLOCK_SIZE);
  dblInto(out, input);
  return out;
}

/** AES-CMAC bound to one AES key (16, 24 or 32 octets); keep it for as long as the key lives. */
export class AesCmac {
  /** Octets of AES key (16, 24 or 32). */
  readonly keyLength: number;
  private readonly cbc: Cipher;
  /** The CBC object's current chaining value (its last output block; the zero IV at first). */
  private readonly chain = new Uint8Array(AES_BLOCK_SIZE);
  private readonly k1 = new Uint8Array(AES_BLOCK_SIZE);
  private readonly k2 = new Uint8Array(AES_BLOCK_SIZE);

  constructor(key: Uint8Array) {
    this.keyLength = key.length;
    this.cbc = createCipheriv(aesAlgorithm(key.length, "cbc"), key, new Uint8Array(AES_BLOCK_SIZE));
    this.cbc.setAutoPadding(false);
    // L = AES(K, 0^128): the chain is the zero IV, so a zero block encrypts as itself.
    const l = this.cbc.update(new Uint8Array(AES_BLOCK_SIZE));
    this.chain.set(l);
    dblInto(this.k1, l);
    dblInto(this.k2, this.k1);
    l.fill(0);
  }

  /** The 16-octet tag of `message`. */
  mac(message: Uint8Array): Uint8Array {
    const out = new Uint8Array(AES_BLOCK_SIZE);
    this.macInto(message, out, 0);
    return out;
  }

  /** Whether `tag` is the tag of `message` (constant-time comparison; false for a wrong length). */
  verify(message: Uint8Array, tag: Uint8Array): boolean {
    if (tag.length !== AES_BLOCK_SIZE) return false;
    return timingSafeEqual(this.mac(message), tag);
  }

  /**
   * Writes CMAC(message') to `out[outOffset .. outOffset+16)`, where message'
   * is `message`, or, when `xorEnd` is given, `message xorend xorEnd` (its last
   * 16 octets XORed with the 16-octet `xorEnd`; S2V's final step, RFC 5297 §2.4;
   * needs a message of at least 16 octets). `message` is not modified.
   */
  macInto(message: Uint8Array, out: Uint8Array, outOffset = 0, xorEnd?: Uint8Array): void {
    const len = message.length;
    const padded = len === 0 ? AES_BLOCK_SIZE : (len + 15) & ~15;
    if (xorEnd !== undefined && (len < AES_BLOCK_SIZE || xorEnd.length !== AES_BLOCK_SIZE)) {
      throw new RangeError("xorend needs a message of at least 16 octets and a 16-octet block");
    }
    const buf = scratchOf(padded); // zeroed: the padding after 0x80 is already there
    buf.set(message);
    if (xorEnd !== undefined) {
      const o = len - AES_BLOCK_SIZE;
      for (let i = 0; i < AES_BLOCK_SIZE; i++) buf[o + i]! ^= xorEnd[i]!;
    }
    const last = padded - AES_BLOCK_SIZE;
    // Which subkey depends only on the (public) length.
    let subkey = this.k1;
    if (len !== padded) {
      subkey = this.k2;
      buf[len] = 0x80;
    }
    // Restart the chain at IV = 0: AES(chain ^ (M1 ^ chain)) = AES(M1).
    const chain = this.chain;
    for (let i = 0; i < AES_BLOCK_SIZE; i++) {
      buf[last + i]! ^= subkey[i]!;
      buf[i]! ^= chain[i]!;
    }
    const enc = this.cbc.update(buf);
    for (let i = 0; i < AES_BLOCK_SIZE; i++) {
      const c = enc[last + i]!;
      chain[i] = c;
      out[outOffset + i] = c;
    }
    buf.fill(0);
    enc.fill(0);
  }
}

/** One-shot AES-CMAC: the 16-octet tag of `message` under `key` (16, 24 or 32 octets). */
export function aesCmac(key: Uint8Array, message: Uint8Array): Uint8Array {
  return new AesCmac(key).mac(message);
}
