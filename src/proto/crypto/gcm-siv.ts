// AEAD_AES_128_GCM_SIV (RFC 8452, AEAD id 30) through @noble/ciphers `gcmsiv`.
//
// node:crypto on Node 20 (OpenSSL 3.0) has no GCM-SIV, and its AES-CTR cannot
// do GCM-SIV's 32-bit little-endian counter. noble implements AES with T-tables
// and POLYVAL with key-dependent lookup tables, so unlike our AES-SIV this is
// not free of cache-timing leaks; it is offered after ids 17 and 15.
//
// NTS use (RFC 8915 §5.6, AEAD.md §3.5): nonce exactly 12 octets, A = packet
// bytes before the 0x0404 field, output = C ‖ tag (tag last, unlike SIV).

import { gcmsiv } from "@noble/ciphers/aes.js";
import { AeadId } from "./aead.js";
import { WholeArrayAead } from "./aead-ranges.js";

const KEY_LENGTH = 16;
const NONCE_LENGTH = 12;
const TAG_LENGTH = 16;

/** AES-128-GCM-SIV bound to one 16-octet key. */
export class Aes128GcmSiv extends WholeArrayAead {
  readonly id = AeadId.AES_128_GCM_SIV;
  readonly keyLength = KEY_LENGTH;
  readonly nonceLength = NONCE_LENGTH;
  readonly tagLength = TAG_LENGTH;
  private readonly key: Uint8Array;

  /** @throws RangeError unless `key` is 16 octets. */
  constructor(key: Uint8Array) {
    super();
    if (key.length !== KEY_LENGTH) {
      throw new RangeError(`AES-128-GCM-SIV key must be 16 octets, got ${key.length}`);
    }
    this.key = Uint8Array.from(key);
  }

  /** C ‖ tag. @throws RangeError unless `nonce` is 12 octets. */
  seal(nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array {
    if (nonce.length !== NONCE_LENGTH) {
      throw new RangeError(`AES-GCM-SIV nonce must be 12 octets, got ${nonce.length}`);
    }
    return gcmsiv(this.key, nonce, associatedData).encrypt(plaintext);
  }

  /** The plaintext, or null on a wrong nonce length, a short input or a failed tag check. */
  open(nonce: Uint8Array, associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array | null {
    if (nonce.length !== NONCE_LENGTH || ciphertext.length < TAG_LENGTH) return null;
    try {
      return gcmsiv(this.key, nonce, associatedData).decrypt(ciphertext);
    } catch {
      return null;
    }
  }
}
