// sealInto/openInto (aead.ts) for ciphers whose work is done by whole-array
// seal/open: the TypeScript implementations. They allocate the views and the
// result, which the native ciphers avoid; the behaviour is the same.

import type { AeadCipher, AeadId, RekeyableAeadCipher } from "./aead.js";

/** AeadCipher.sealInto on top of `cipher.seal`. */
export function sealIntoBySeal(
  cipher: AeadCipher,
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
  const sealed = cipher.seal(
    nonce.subarray(nonceOffset, nonceOffset + nonceLength),
    ad.subarray(adOffset, adOffset + adLength),
    pt.subarray(ptOffset, ptOffset + ptLength),
  );
  out.set(sealed, outOffset);
  return sealed.length;
}

/** AeadCipher.openInto on top of `cipher.open`. */
export function openIntoByOpen(
  cipher: AeadCipher,
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
  const plaintext = cipher.open(
    nonce.subarray(nonceOffset, nonceOffset + nonceLength),
    ad.subarray(adOffset, adOffset + adLength),
    ct.subarray(ctOffset, ctOffset + ctLength),
  );
  if (plaintext === null) return -1;
  out.set(plaintext, outOffset);
  plaintext.fill(0);
  return plaintext.length;
}

/**
 * A RekeyableAeadCipher made of a factory of fixed-key ciphers: each setKey
 * creates the cipher anew (the TypeScript ciphers precompute per-key state).
 */
export class RekeyableByFactory implements RekeyableAeadCipher {
  readonly nonceLength: number;
  readonly tagLength: number;
  private readonly key: Uint8Array;
  private cipher: AeadCipher | null = null;

  constructor(
    readonly id: AeadId,
    readonly keyLength: number,
    private readonly factory: (key: Uint8Array) => AeadCipher,
  ) {
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
    return this.keyed().sealInto(
      nonce,
      nonceOffset,
      nonceLength,
      ad,
      adOffset,
      adLength,
      pt,
      ptOffset,
      ptLength,
      out,
      outOffset,
    );
  }

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
    return this.keyed().openInto(
      nonce,
      nonceOffset,
      nonceLength,
      ad,
      adOffset,
      adLength,
      ct,
      ctOffset,
      ctLength,
      out,
      outOffset,
    );
  }

  private keyed(): AeadCipher {
    if (this.cipher === null) throw new Error("rekeyable cipher used without a key");
    return this.cipher;
  }
}
