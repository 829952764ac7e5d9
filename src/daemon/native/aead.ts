// AES-SIV-CMAC (AEAD 15 and 17) on the addon's OpenSSL implementation
// (native/aes_siv.cc), as an AeadProvider the daemon gives the server core.
// AEAD 30 (AES-128-GCM-SIV) has no native implementation: it stays TypeScript.
//
// Two kinds of native cipher, neither allocating in sealInto/openInto:
//   * create() (long-lived keys: the cookie master keys) prepares the key in the
//     addon once (sivPrepareKey: on AES-NI the expanded schedules), wiped by
//     dispose() (the key set calls it when a key rotates out) or when collected;
//   * rekeyable() (the per-request session keys) is a key copy and nothing else:
//     the addon sets the key up on every call (on AES-NI ~20 ns per schedule), so
//     rekeying is a 32/64-octet copy.

import {
  AeadId,
  type AeadCipher,
  type AeadProvider,
  type RekeyableAeadCipher,
} from "../../proto/crypto/aead.js";
import { TS_AEAD, aeadKeyLength } from "../../proto/crypto/registry.js";
import { getAddon } from "./addon.js";
import type { NativeAddon } from "./types.js";

const TAG_LENGTH = 16;
const NONCE_LENGTH = 16;

function isNativeId(id: AeadId): boolean {
  return id === AeadId.AES_SIV_CMAC_256 || id === AeadId.AES_SIV_CMAC_512;
}

// The whole-array seal/open of both native ciphers, on their sealInto/openInto:
// one allocation, the result. The range methods (the server's per-request path)
// stay each class's own: they differ in the key argument and addon function,
// and sharing them would put a call or a function argument on every request.

/** AeadCipher.seal on `cipher.sealInto` (AES-SIV output: tag ‖ ciphertext). */
function sealWhole(
  cipher: AeadCipher,
  nonce: Uint8Array,
  associatedData: Uint8Array,
  plaintext: Uint8Array,
): Uint8Array {
  const out = new Uint8Array(TAG_LENGTH + plaintext.length);
  cipher.sealInto(
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

/** AeadCipher.open on `cipher.openInto`: null when it does not authenticate. */
function openWhole(
  cipher: AeadCipher,
  nonce: Uint8Array,
  associatedData: Uint8Array,
  ciphertext: Uint8Array,
): Uint8Array | null {
  if (ciphertext.length < TAG_LENGTH) return null;
  const out = new Uint8Array(ciphertext.length - TAG_LENGTH);
  const n = cipher.openInto(
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

/** One AES-SIV-CMAC key (32 or 64 octets) for the addon's sivSeal/sivOpen. */
export class NativeAesSiv implements RekeyableAeadCipher {
  readonly nonceLength = NONCE_LENGTH;
  readonly tagLength = TAG_LENGTH;
  readonly keyLength: number;
  private readonly key: Uint8Array;
  private keyed = false;

  constructor(
    private readonly addon: NativeAddon,
    readonly id: AeadId,
  ) {
    const keyLength = isNativeId(id) ? aeadKeyLength(id) : null;
    if (keyLength === null) throw new RangeError(`no native AES-SIV for AEAD ${id}`);
    this.keyLength = keyLength;
    this.key = new Uint8Array(keyLength);
  }

  setKey(key: Uint8Array, offset: number): void {
    if (offset < 0 || offset + this.keyLength > key.length) {
      throw new RangeError(`no ${this.keyLength}-octet key at offset ${offset}`);
    }
    const own = this.key;
    for (let i = 0; i < own.length; i++) own[i] = key[offset + i]!;
    this.keyed = true;
  }

  clearKey(): void {
    const own = this.key;
    for (let i = 0; i < own.length; i++) own[i] = 0; // per request: a loop is cheaper than fill()
    this.keyed = false;
  }

  /** As AesSivCmac.seal. @throws RangeError for an empty nonce. */
  seal(nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return sealWhole(this, nonce, associatedData, plaintext);
  }

  /** As AesSivCmac.open: null when it does not authenticate (or the nonce is empty). */
  open(nonce: Uint8Array, associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    return openWhole(this, nonce, associatedData, ciphertext);
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
    if (!this.keyed) throw new Error("native AES-SIV cipher used without a key");
    if (nonceLength === 0) throw new RangeError("AES-SIV nonce must not be empty");
    const ok = this.addon.sivSeal(
      this.key,
      ad,
      adOffset,
      adLength,
      nonce,
      nonceOffset,
      nonceLength,
      pt,
      ptOffset,
      ptLength,
      out,
      outOffset,
    );
    if (!ok) throw new Error("native AES-SIV seal failed (OpenSSL)");
    return TAG_LENGTH + ptLength;
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
    if (!this.keyed) throw new Error("native AES-SIV cipher used without a key");
    if (nonceLength === 0 || ctLength < TAG_LENGTH) return -1;
    const ok = this.addon.sivOpen(
      this.key,
      ad,
      adOffset,
      adLength,
      nonce,
      nonceOffset,
      nonceLength,
      ct,
      ctOffset,
      ctLength,
      out,
      outOffset,
    );
    return ok ? ctLength - TAG_LENGTH : -1;
  }
}

/** A long-lived AES-SIV-CMAC key prepared once in the addon (sivPrepareKey). */
export class PreparedNativeAesSiv implements AeadCipher {
  readonly nonceLength = NONCE_LENGTH;
  readonly tagLength = TAG_LENGTH;
  readonly keyLength: number;
  private handle: object | null;

  /** @throws RangeError for an id without native AES-SIV or a key of the wrong length. */
  constructor(
    private readonly addon: NativeAddon,
    readonly id: AeadId,
    key: Uint8Array,
  ) {
    const keyLength = isNativeId(id) ? aeadKeyLength(id) : null;
    if (keyLength === null) throw new RangeError(`no native AES-SIV for AEAD ${id}`);
    if (key.length !== keyLength) {
      throw new RangeError(`AEAD ${id} needs a ${keyLength}-octet key, got ${key.length}`);
    }
    this.keyLength = keyLength;
    this.handle = addon.sivPrepareKey(key);
  }

  /** Wipes the addon's copy of the key now; the cipher is unusable afterwards. */
  dispose(): void {
    if (this.handle !== null) this.addon.sivWipeKey(this.handle);
    this.handle = null;
  }

  seal(nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array {
    return sealWhole(this, nonce, associatedData, plaintext);
  }

  open(nonce: Uint8Array, associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    return openWhole(this, nonce, associatedData, ciphertext);
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
    if (this.handle === null) throw new Error("native AES-SIV cipher used after dispose()");
    if (nonceLength === 0) throw new RangeError("AES-SIV nonce must not be empty");
    const ok = this.addon.sivSealPrepared(
      this.handle,
      ad,
      adOffset,
      adLength,
      nonce,
      nonceOffset,
      nonceLength,
      pt,
      ptOffset,
      ptLength,
      out,
      outOffset,
    );
    if (!ok) throw new Error("native AES-SIV seal failed (OpenSSL)");
    return TAG_LENGTH + ptLength;
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
    if (this.handle === null) throw new Error("native AES-SIV cipher used after dispose()");
    if (nonceLength === 0 || ctLength < TAG_LENGTH) return -1;
    const ok = this.addon.sivOpenPrepared(
      this.handle,
      ad,
      adOffset,
      adLength,
      nonce,
      nonceOffset,
      nonceLength,
      ct,
      ctOffset,
      ctLength,
      out,
      outOffset,
    );
    return ok ? ctLength - TAG_LENGTH : -1;
  }
}

/** Native AES-SIV for AEAD 15 and 17, the TypeScript ciphers for the rest. */
export function nativeAeadProvider(addon: NativeAddon): AeadProvider {
  return Object.freeze({
    name: "native",
    create(id: AeadId, key: Uint8Array): AeadCipher {
      return isNativeId(id) ? new PreparedNativeAesSiv(addon, id, key) : TS_AEAD.create(id, key);
    },
    rekeyable(id: AeadId): RekeyableAeadCipher {
      return isNativeId(id) ? new NativeAesSiv(addon, id) : TS_AEAD.rekeyable(id);
    },
  });
}

let cachedDefault: AeadProvider | undefined;

/** The daemon's ciphers: native AES-SIV when the addon is loaded, else the TypeScript ones. */
export function defaultAeadProvider(): AeadProvider {
  if (cachedDefault === undefined) {
    const addon = getAddon();
    cachedDefault = addon === null ? TS_AEAD : nativeAeadProvider(addon);
  }
  return cachedDefault;
}
