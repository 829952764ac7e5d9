// AES-SIV-CMAC (RFC 5297) on node:crypto AES primitives: AEAD ids 15 (32-octet
// key, AES-128), 16 (48, AES-192) and 17 (64, AES-256).
//
// Key = K1 ‖ K2: K1 drives S2V (AES-CMAC, one cached CBC object per key, see
// cmac.ts), K2 the CTR stage. For NTS-sized plaintexts the CTR keystream comes
// from a cached ECB object per key fed with counter blocks we build ourselves
// (one native call, no per-message cipher object: ~0.5-1.1 µs against ~1.8-2 µs
// for creating an aes-*-ctr object, measured on Node 20); above
// CTR_OBJECT_THRESHOLD octets the JS counter/XOR loop costs more than the
// object, so a per-message aes-*-ctr object is used (OpenSSL's 128-bit
// big-endian counter increment is exactly RFC 5297's). Both give the same bytes.
//
// As an RFC 5116 AEAD (what NTS uses, RFC 8915 §5.6), the S2V components are
// [associated data, nonce] followed by the plaintext; the associated data is a
// component even when empty. Output = V (16-octet synthetic IV) ‖ C.
//
// Per-key state is the CMAC object, the CTR key and two S2V constants: D0 =
// CMAC(K1, <zero>) and, computed on first use, the S2V state after an empty
// first component (NTS cookies have empty associated data: one AES call less
// per cookie). Working buffers are shared by all instances (every method runs
// to completion synchronously), so a key costs little memory to keep and
// nothing to allocate beyond its own state.

import { createCipheriv, timingSafeEqual, type Cipher } from "node:crypto";
import { AeadId } from "./aead.js";
import { WholeArrayAead } from "./aead-ranges.js";
import { AES_BLOCK_SIZE, AesCmac, aesAlgorithm, dblInto } from "./cmac.js";

/** RFC 5297 §7: at most 126 associated-data components (127 S2V inputs with the plaintext). */
export const SIV_MAX_AD_COMPONENTS = 126;

/** Plaintexts longer than this use a per-message aes-*-ctr object instead of ECB counter blocks. */
const CTR_OBJECT_THRESHOLD = 384;

const EMPTY = new Uint8Array(0);

// Shared working buffers (see above); zeroed after each use.
const D = new Uint8Array(AES_BLOCK_SIZE);
const BLOCK = new Uint8Array(AES_BLOCK_SIZE);
const V = new Uint8Array(AES_BLOCK_SIZE);
const COUNTERS = new Uint8Array(CTR_OBJECT_THRESHOLD);

/** AEAD id for an AES-SIV-CMAC key of `keyLength` octets, or null. */
function sivAeadId(keyLength: number): AeadId | null {
  switch (keyLength) {
    case 32:
      return AeadId.AES_SIV_CMAC_256;
    case 48:
      return AeadId.AES_SIV_CMAC_384;
    case 64:
      return AeadId.AES_SIV_CMAC_512;
    default:
      return null;
  }
}

/** AES-SIV-CMAC bound to one key (32, 48 or 64 octets). Keep it for as long as the key lives. */
export class AesSivCmac extends WholeArrayAead {
  readonly id: AeadId;
  readonly keyLength: number;
  readonly nonceLength = 16;
  readonly tagLength = AES_BLOCK_SIZE;

  private readonly cmac: AesCmac;
  private readonly ctrKey: Uint8Array;
  private ecb: Cipher | null = null;
  /** CMAC(K1, <zero>): the first S2V step, the same for every message under this key. */
  private readonly d0: Uint8Array;
  /** dbl(D0) xor CMAC(K1, <empty>): S2V after an empty first component; on first use. */
  private dEmpty: Uint8Array | null = null;

  /** @throws RangeError unless `key` is 32, 48 or 64 octets. */
  constructor(key: Uint8Array) {
    super();
    const id = sivAeadId(key.length);
    if (id === null) {
      throw new RangeError(`AES-SIV-CMAC key must be 32, 48 or 64 octets, got ${key.length}`);
    }
    this.id = id;
    this.keyLength = key.length;
    const half = key.length >>> 1;
    this.cmac = new AesCmac(key.subarray(0, half));
    this.ctrKey = Uint8Array.from(key.subarray(half)); // a copy, even when key is a Buffer
    this.d0 = this.cmac.mac(BLOCK); // BLOCK is all zero between uses
  }

  /** RFC 5116 AEAD: SIV-ENCRYPT(K, P, A, N) = V ‖ C. `nonce` must not be empty. */
  seal(nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (nonce.length === 0) throw new RangeError("AES-SIV nonce must not be empty");
    return this.sealComponents([associatedData, nonce], plaintext);
  }

  /** RFC 5116 AEAD: the plaintext, or null if `ciphertext` (V ‖ C) does not authenticate. */
  open(nonce: Uint8Array, associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    if (nonce.length === 0) return null;
    return this.openComponents([associatedData, nonce], ciphertext);
  }

  /**
   * RFC 5297 SIV-ENCRYPT with any list of associated-data components (the last
   * of them is the nonce in nonce-based use): V ‖ C.
   * @throws RangeError for more than 126 components.
   */
  sealComponents(components: readonly Uint8Array[], plaintext: Uint8Array): Uint8Array {
    if (components.length > SIV_MAX_AD_COMPONENTS) {
      throw new RangeError(`AES-SIV takes at most ${SIV_MAX_AD_COMPONENTS} AD components`);
    }
    const out = new Uint8Array(AES_BLOCK_SIZE + plaintext.length);
    this.s2v(components, plaintext, out);
    this.ctrXor(out, plaintext, out, AES_BLOCK_SIZE);
    return out;
  }

  /**
   * RFC 5297 SIV-DECRYPT with any list of associated-data components: the
   * plaintext, or null when authentication fails or the input is malformed.
   */
  openComponents(components: readonly Uint8Array[], ciphertext: Uint8Array): Uint8Array | null {
    if (components.length > SIV_MAX_AD_COMPONENTS || ciphertext.length < AES_BLOCK_SIZE) {
      return null;
    }
    const tag = ciphertext.subarray(0, AES_BLOCK_SIZE);
    const plaintext = new Uint8Array(ciphertext.length - AES_BLOCK_SIZE);
    this.ctrXor(tag, ciphertext.subarray(AES_BLOCK_SIZE), plaintext, 0);
    const v = V;
    this.s2v(components, plaintext, v);
    const ok = timingSafeEqual(v, tag);
    v.fill(0);
    if (!ok) {
      plaintext.fill(0);
      return null;
    }
    return plaintext;
  }

  /** S2V(K1, components..., last) into out[0..16) (RFC 5297 §2.4; here n >= 1 always). */
  private s2v(components: readonly Uint8Array[], last: Uint8Array, out: Uint8Array): void {
    const d = D;
    const block = BLOCK;
    let first = 0;
    if (components.length > 0 && components[0]!.length === 0) {
      d.set(this.emptyFirstComponent());
      first = 1;
    } else {
      d.set(this.d0);
    }
    for (let c = first; c < components.length; c++) {
      dblInto(d, d);
      this.cmac.macInto(components[c]!, block, 0);
      for (let i = 0; i < AES_BLOCK_SIZE; i++) d[i]! ^= block[i]!;
    }
    if (last.length >= AES_BLOCK_SIZE) {
      this.cmac.macInto(last, out, 0, d);
    } else {
      // T = dbl(D) xor pad(last)
      dblInto(d, d);
      block.fill(0);
      block.set(last);
      block[last.length] = 0x80;
      for (let i = 0; i < AES_BLOCK_SIZE; i++) block[i]! ^= d[i]!;
      this.cmac.macInto(block, out, 0);
    }
    d.fill(0);
    block.fill(0);
  }

  /**
   * output[outOffset ..] = input XOR CTR(K2, Q), Q = v[0..16) with bits 63 and
   * 31 cleared. `v` may be `output` (seal writes V first, then C after it).
   */
  private ctrXor(v: Uint8Array, input: Uint8Array, output: Uint8Array, outOffset: number): void {
    const len = input.length;
    if (len === 0) return;
    const q = BLOCK;
    for (let i = 0; i < AES_BLOCK_SIZE; i++) q[i] = v[i]!;
    q[8]! &= 0x7f;
    q[12]! &= 0x7f;
    if (len > CTR_OBJECT_THRESHOLD) {
      const ctr = createCipheriv(aesAlgorithm(this.ctrKey.length, "ctr"), this.ctrKey, q);
      const xored = ctr.update(input);
      output.set(xored, outOffset);
      xored.fill(0);
    } else {
      // Counter blocks Q, Q+1, ...: bit 31 of Q is clear, so the low 32-bit word
      // cannot carry for any message shorter than 2^35 octets.
      const blocks = (len + 15) >>> 4;
      const counters = COUNTERS;
      const base = ((q[12]! << 24) | (q[13]! << 16) | (q[14]! << 8) | q[15]!) >>> 0;
      for (let b = 0; b < blocks; b++) {
        const o = b << 4;
        counters.set(q, o);
        const c = (base + b) >>> 0;
        counters[o + 12] = c >>> 24;
        counters[o + 13] = (c >>> 16) & 0xff;
        counters[o + 14] = (c >>> 8) & 0xff;
        counters[o + 15] = c & 0xff;
      }
      const keystream = this.ecbCipher().update(counters.subarray(0, blocks << 4));
      for (let i = 0; i < len; i++) output[outOffset + i] = input[i]! ^ keystream[i]!;
      keystream.fill(0); // counter blocks derive from V, which is public: left as they are
    }
    q.fill(0);
  }

  /** dbl(D0) xor CMAC(K1, <empty>), computed once per key. */
  private emptyFirstComponent(): Uint8Array {
    if (this.dEmpty === null) {
      const d = new Uint8Array(AES_BLOCK_SIZE);
      dblInto(d, this.d0);
      const mac = this.cmac.mac(EMPTY);
      for (let i = 0; i < AES_BLOCK_SIZE; i++) d[i]! ^= mac[i]!;
      mac.fill(0);
      this.dEmpty = d;
    }
    return this.dEmpty;
  }

  private ecbCipher(): Cipher {
    if (this.ecb === null) {
      this.ecb = createCipheriv(aesAlgorithm(this.ctrKey.length, "ecb"), this.ctrKey, null);
      this.ecb.setAutoPadding(false);
    }
    return this.ecb;
  }
}

/** One-shot RFC 5297 SIV-ENCRYPT(K, P, AD1..ADn) = V ‖ C (key 32, 48 or 64 octets). */
export function sivEncrypt(
  key: Uint8Array,
  components: readonly Uint8Array[],
  plaintext: Uint8Array,
): Uint8Array {
  return new AesSivCmac(key).sealComponents(components, plaintext);
}

/** One-shot RFC 5297 SIV-DECRYPT: the plaintext, or null when authentication fails. */
export function sivDecrypt(
  key: Uint8Array,
  components: readonly Uint8Array[],
  ciphertext: Uint8Array,
): Uint8Array | null {
  return new AesSivCmac(key).openComponents(components, ciphertext);
}
