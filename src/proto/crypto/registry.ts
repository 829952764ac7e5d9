// Which AEADs we implement, their key lengths, and the factory that binds one
// to a key. Users (NTS-KE negotiation, cookies, the NTS extension fields) go
// through here rather than naming a cipher class.

import { AeadId, type AeadCipher, type AeadProvider } from "./aead.js";
import { RekeyableByFactory } from "./aead-ranges.js";
import { AesSivCmac } from "./aes-siv.js";
import { Aes128GcmSiv } from "./gcm-siv.js";

/**
 * The AEADs we support, in server preference order: ntpd-rs's [17, 15], then
 * 30 (which ntpd-rs lacks; chrony prefers it).
 */
export const SUPPORTED_AEADS: readonly AeadId[] = Object.freeze([
  AeadId.AES_SIV_CMAC_512,
  AeadId.AES_SIV_CMAC_256,
  AeadId.AES_128_GCM_SIV,
]);

/** Whether `id` (e.g. from an NTS-KE AEAD record) is one we implement. */
export function isSupportedAead(id: number): id is AeadId {
  return id === 17 || id === 15 || id === 30;
}

/** Key length in octets for a supported AEAD id (32, 64, 16), or null for any other id. */
export function aeadKeyLength(id: number): number | null {
  switch (id) {
    case AeadId.AES_SIV_CMAC_256:
      return 32;
    case AeadId.AES_SIV_CMAC_512:
      return 64;
    case AeadId.AES_128_GCM_SIV:
      return 16;
    default:
      return null;
  }
}

/**
 * A cipher for AEAD `id` bound to `key`. Keep the result for as long as the key
 * lives: per-key setup happens here, once.
 * @throws RangeError for an unsupported id or a key of the wrong length.
 */
export function createAead(id: AeadId, key: Uint8Array): AeadCipher {
  const keyLength = aeadKeyLength(id);
  if (keyLength === null) throw new RangeError(`unsupported AEAD algorithm id ${id}`);
  if (key.length !== keyLength) {
    throw new RangeError(`AEAD ${id} needs a ${keyLength}-octet key, got ${key.length}`);
  }
  return id === AeadId.AES_128_GCM_SIV ? new Aes128GcmSiv(key) : new AesSivCmac(key);
}

/** The TypeScript ciphers, as an AeadProvider: the default wherever one is taken. */
export const TS_AEAD: AeadProvider = Object.freeze({
  name: "typescript",
  create: createAead,
  rekeyable(id: AeadId) {
    const keyLength = aeadKeyLength(id);
    if (keyLength === null) throw new RangeError(`unsupported AEAD algorithm id ${id}`);
    return new RekeyableByFactory(id, keyLength, (key) => createAead(id, key));
  },
});
