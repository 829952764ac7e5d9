// The two adapters between the AEAD interface's whole-array methods (seal/open)
// and its range methods (sealInto/openInto, aead.ts), one per direction:
//   * WholeArrayAead: ranges on whole arrays, for ciphers whose work is done by
//     seal/open (the TypeScript implementations). They allocate the views and
//     the result, which the native ciphers avoid; the behaviour is the same.
//   * RangeAead: whole arrays on ranges, for ciphers whose work is done by
//     sealInto/openInto (the addon's, src/daemon/native/aead.ts): one
//     allocation, the result.

import type { AeadCipher, AeadId, RekeyableAeadCipher } from "./aead.js";

/** The base of ciphers that implement sealInto/openInto: seal/open run them. */
export abstract class RangeAead implements AeadCipher {
  abstract readonly id: AeadId;
  abstract readonly keyLength: number;
  abstract readonly nonceLength: number;
  abstract readonly tagLength: number;
  // The range methods as aead.ts declares them, implemented by the subclass.
  abstract sealInto(...range: Parameters<AeadCipher["sealInto"]>): number;
  abstract openInto(...range: Parameters<AeadCipher["openInto"]>): number;

  /** sealInto() into a new array of its output's length. */
  seal(nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array {
    const out = new Uint8Array(this.tagLength + plaintext.length);
    this.sealInto(
      nonce,
      0,
      nonce.length,
      associatedData,
      0,
      associatedData.length,
      plaintext,
      0,
      plaintext.length,
      out,
      0,
    );
    return out;
  }

  /** openInto() into a new array; null when it does not authenticate. */
  open(nonce: Uint8Array, associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    if (ciphertext.length < this.tagLength) return null;
    const out = new Uint8Array(ciphertext.length - this.tagLength);
    const n = this.openInto(
      nonce,
      0,
      nonce.length,
      associatedData,
      0,
      associatedData.length,
      ciphertext,
      0,
      ciphertext.length,
      out,
      0,
    );
    return n < 0 ? null : out;
  }
}

/**
 * The base of the TypeScript ciphers: a subclass implements seal/open, and
 * sealInto/openInto run them on views of the ranges (allocating inside).
 */
export abstract class WholeArrayAead implements AeadCipher {
  abstract readonly id: AeadId;
  abstract readonly keyLength: number;
  abstract readonly nonceLength: number;
  abstract readonly tagLength: number;
  abstract seal(nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array;
  abstract open(
    nonce: Uint8Array,
    associatedData: Uint8Array,
    ciphertext: Uint8Array,
  ): Uint8Array | null;

  /** seal() over ranges (aead.ts); allocates internally. */
  sealInto(
    nonce: Uint8Array,
    nonceOffset: number,
    nonceLength: number,
    ad: Uint8Array,
    adOffset: number,
    adLength: number,
    pt: Uint8Array,
    ptOffset: number,
    ptLength: number,
    out: Uint8Array,
    outOffset: number,
  ): number {
    const sealed = this.seal(
      nonce.subarray(nonceOffset, nonceOffset + nonceLength),
      ad.subarray(adOffset, adOffset + adLength),
      pt.subarray(ptOffset, ptOffset + ptLength),
    );
    out.set(sealed, outOffset);
    return sealed.length;
  }

  /** open() over ranges (aead.ts); allocates internally. */
  openInto(
    nonce: Uint8Array,
    nonceOffset: number,
    nonceLength: number,
    ad: Uint8Array,
    adOffset: number,
    adLength: number,
    ct: Uint8Array,
    ctOffset: number,
    ctLength: number,
    out: Uint8Array,
    outOffset: number,
  ): number {
    const plaintext = this.open(
      nonce.subarray(nonceOffset, nonceOffset + nonceLength),
      ad.subarray(adOffset, adOffset + adLength),
      ct.subarray(ctOffset, ctOffset + ctLength),
    );
    if (plaintext === null) return -1;
    out.set(plaintext, outOffset);
    plaintext.fill(0);
    return plaintext.length;
  }
}

/**
 * A RekeyableAeadCipher made of a factory of fixed-key ciphers: each setKey
 * creates the cipher anew (the TypeScript ciphers precompute per-key state).
 * Its sealInto/openInto go through seal/open as the TypeScript ciphers' own do
 * (the factory makes only those: registry.ts).
 */
export class RekeyableByFactory extends WholeArrayAead implements RekeyableAeadCipher {
  readonly nonceLength: number;
  readonly tagLength: number;
  private readonly key: Uint8Array;
  private cipher: AeadCipher | null = null;

  constructor(
    readonly id: AeadId,
    readonly keyLength: number,
    private readonly factory: (key: Uint8Array) => AeadCipher,
  ) {
    super();
    this.key = new Uint8Array(keyLength);
    const probe = factory(this.key); // lengths only; the all-zero key is never used
    this.nonceLength = probe.nonceLength;
    this.tagLength = probe.tagLength;
  }

  setKey(key: Uint8Array, offset: number): void {
    if (offset < 0 || offset + this.keyLength > key.length) {
      throw new RangeError(`no ${this.keyLength}-octet key at offset ${offset}`);
    }
    for (let i = 0; i < this.keyLength; i++) this.key[i] = key[offset + i]!;
    this.cipher = this.factory(this.key);
  }

  clearKey(): void {
    this.key.fill(0);
    this.cipher = null;
  }

  seal(nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return this.keyed().seal(nonce, associatedData, plaintext);
  }

  open(nonce: Uint8Array, associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    return this.keyed().open(nonce, associatedData, ciphertext);
  }

  private keyed(): AeadCipher {
    if (this.cipher === null) throw new Error("rekeyable cipher used without a key");
    return this.cipher;
  }
}
