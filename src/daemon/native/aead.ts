// AES-SIV-CMAC (AEAD 15 and 17) on the addon's implementation (native/aes_siv*.cc), as
// an AeadProvider the daemon gives the server core, with the NTS request crypto that
// goes with it (nts-crypto.ts). AEAD 30 (AES-128-GCM-SIV) has no native
// implementation: it stays TypeScript.
//
// Two kinds of native cipher, one class each over one shared base, neither allocating
// in sealInto/openInto:
//   * create() (long-lived keys: the cookie master keys) prepares the key in the addon
//     once (sivPrepareKey: on AES-NI the expanded schedules), wiped by dispose() (the key
//     set calls it when a key rotates out) or when collected;
//   * rekeyable() (the per-request session keys) is a key copy and nothing else: the
//     addon sets the key up on every call (on AES-NI ~20 ns per schedule), so rekeying is
//     a 32/64-octet copy.
// The addon's sivSeal/sivOpen take either the key bytes or the prepared key's handle, so
// both kinds share the range methods; each says only what its key argument is.

import {
  AeadId,
  type AeadCipher,
  type AeadProvider,
  type RekeyableAeadCipher,
} from "../../proto/crypto/aead.js";
import { RangeAead } from "../../proto/crypto/aead-ranges.js";
import { TS_AEAD, aeadKeyLength } from "../../proto/crypto/registry.js";
import type { NtsCryptoProvider } from "../../proto/server/nts-crypto.js";
import { getAddon } from "./addon.js";
import { NativeNtsRequestCrypto } from "./nts-crypto.js";
import type { NativeAddon } from "./types.js";

const TAG_LENGTH = 16;
const NONCE_LENGTH = 16;

function isNativeId(id: AeadId): boolean {
  return id === AeadId.AES_SIV_CMAC_256 || id === AeadId.AES_SIV_CMAC_512;
}

function nativeKeyLength(id: AeadId): number {
  const keyLength = isNativeId(id) ? aeadKeyLength(id) : null;
  if (keyLength === null) throw new RangeError(`no native AES-SIV for AEAD ${id}`);
  return keyLength;
}

/**
 * What both native ciphers share: everything but where their key is. seal/open
 * (AesSivCmac's: tag ‖ ciphertext; an empty nonce is a RangeError, or null on
 * open) come from RangeAead.
 */
abstract class NativeSiv extends RangeAead {
  readonly nonceLength = NONCE_LENGTH;
  readonly tagLength = TAG_LENGTH;
  readonly keyLength: number;

  constructor(
    protected readonly addon: NativeAddon,
    readonly id: AeadId,
  ) {
    super();
    this.keyLength = nativeKeyLength(id);
  }

  /** The addon's key argument: key bytes or a prepared key. Throws when there is none. */
  protected abstract keyArgument(): Uint8Array | object;

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
    const key = this.keyArgument();
    if (nonceLength === 0) throw new RangeError("AES-SIV nonce must not be empty");
    const ok = this.addon.sivSeal(
      key,
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
    const key = this.keyArgument();
    if (nonceLength === 0 || ctLength < TAG_LENGTH) return -1;
    const ok = this.addon.sivOpen(
      key,
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

/** One AES-SIV-CMAC key (32 or 64 octets), copied in and set up by the addon per call. */
export class NativeAesSiv extends NativeSiv implements RekeyableAeadCipher {
  private readonly key: Uint8Array;
  private keyed = false;

  constructor(addon: NativeAddon, id: AeadId) {
    super(addon, id);
    this.key = new Uint8Array(this.keyLength);
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

  protected keyArgument(): Uint8Array {
    if (!this.keyed) throw new Error("native AES-SIV cipher used without a key");
    return this.key;
  }
}

/** A long-lived AES-SIV-CMAC key prepared once in the addon (sivPrepareKey). */
export class PreparedNativeAesSiv extends NativeSiv {
  private handle: object | null;

  /** @throws RangeError for an id without native AES-SIV or a key of the wrong length. */
  constructor(addon: NativeAddon, id: AeadId, key: Uint8Array) {
    super(addon, id);
    if (key.length !== this.keyLength) {
      throw new RangeError(`AEAD ${id} needs a ${this.keyLength}-octet key, got ${key.length}`);
    }
    this.handle = addon.sivPrepareKey(key);
  }

  /** Wipes the addon's copy of the key now; the cipher is unusable afterwards. */
  dispose(): void {
    if (this.handle !== null) this.addon.sivWipeKey(this.handle);
    this.handle = null;
  }

  /** The addon's handle of the key (for the nts* calls of nts-crypto.ts). */
  keyArgument(): object {
    if (this.handle === null) throw new Error("native AES-SIV cipher used after dispose()");
    return this.handle;
  }
}

/** The addon's handle of `cipher`'s key when it is a prepared native one, else null. */
export function preparedKey(cipher: AeadCipher): object | null {
  return cipher instanceof PreparedNativeAesSiv ? cipher.keyArgument() : null;
}

/** Native AES-SIV for AEAD 15 and 17, the TypeScript ciphers for the rest. */
export function nativeAeadProvider(addon: NativeAddon): NtsCryptoProvider {
  const provider: NtsCryptoProvider = Object.freeze({
    name: "native",
    create(id: AeadId, key: Uint8Array): AeadCipher {
      return isNativeId(id) ? new PreparedNativeAesSiv(addon, id, key) : TS_AEAD.create(id, key);
    },
    rekeyable(id: AeadId): RekeyableAeadCipher {
      return isNativeId(id) ? new NativeAesSiv(addon, id) : TS_AEAD.rekeyable(id);
    },
    requestCrypto() {
      return new NativeNtsRequestCrypto(addon, provider, preparedKey);
    },
  });
  return provider;
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
