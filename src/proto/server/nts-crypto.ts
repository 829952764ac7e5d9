// The AEAD work of the NTS server per request (RFC 8915 §5.7, nts.ts): open the
// request's cookie with a master key, check the authenticator with the cookie's
// C2S key, seal each new cookie under the primary master key. The request
// handler (nts.ts) decides what to do; this class holds the key material of one
// request and does the cryptography, on the ciphers of an AeadProvider: one
// cipher call per step.
//
// A provider may do better (NtsCryptoProvider): the daemon's native one
// (src/daemon/native/nts-crypto.ts) opens the cookie and checks the
// authenticator in one call into the addon, and seals a cookie with a call of
// three arguments instead of twelve (issue #8: the argument conversions of a
// call cost more than its AES work). It extends this class and must give the
// same results, byte for byte (the differential test in nts-crypto.test.ts).

import type { AeadId, AeadProvider, RekeyableAeadCipher } from "../crypto/aead.js";
import { aeadKeyLength } from "../crypto/registry.js";
import {
  COOKIE_S2C_KEY_OFFSET,
  MAX_COOKIE_PLAINTEXT_LENGTH,
  cookiePlaintextLength,
  openCookieInto,
  sealCookieInto,
} from "../nts/cookie/cookie.js";
import type { KeySet, RandomFill } from "../nts/keyset/keyset.js";
import { openAuthenticatorInto, type AuthenticatorView } from "../nts/packet/fields.js";
import { MAX_NTP_PACKET_LENGTH } from "../packet/parse.js";

/** open(): the cookie did not open, or carries nothing usable (NTS NAK). */
export const COOKIE_REJECTED = -1;
/** open(): the authenticator did not verify with the cookie's C2S key (NTS NAK). */
export const AUTHENTICATOR_REJECTED = -2;

/** The two session ciphers of one AEAD, rekeyed for every request. */
export interface SessionCiphers {
  readonly c2s: RekeyableAeadCipher;
  readonly s2c: RekeyableAeadCipher;
}

/** An AeadProvider with its own NtsRequestCrypto (the daemon's native ciphers). */
export interface NtsCryptoProvider extends AeadProvider {
  requestCrypto(): NtsRequestCrypto;
}

/** The request crypto for `aead`: its own when it has one, else the generic one. */
export function requestCryptoFor(aead: AeadProvider | NtsCryptoProvider): NtsRequestCrypto {
  return "requestCrypto" in aead ? aead.requestCrypto() : new NtsRequestCrypto(aead);
}

export class NtsRequestCrypto {
  /** AEAD id ‖ S2C key ‖ C2S key of the cookie open() opened. */
  readonly cookiePlaintext: Uint8Array;
  /** The request's encrypted extension fields, plaintextLength octets. */
  readonly plaintext: Uint8Array;
  plaintextLength = 0;
  /** The AEAD of the opened cookie; -1 when none. */
  aeadId = -1;
  /** Session ciphers by AEAD id, made on first use. */
  private readonly sessions = new Map<number, SessionCiphers>();

  /** `cookiePlaintext` and `plaintext`: the buffers to use (subclasses share theirs). */
  constructor(
    readonly aead: AeadProvider,
    cookiePlaintext = new Uint8Array(MAX_COOKIE_PLAINTEXT_LENGTH),
    plaintext = new Uint8Array(MAX_NTP_PACKET_LENGTH),
  ) {
    if (cookiePlaintext.length < MAX_COOKIE_PLAINTEXT_LENGTH) {
      throw new RangeError("cookie plaintext buffer too small");
    }
    if (plaintext.length < MAX_NTP_PACKET_LENGTH)
      throw new RangeError("plaintext buffer too small");
    this.cookiePlaintext = cookiePlaintext;
    this.plaintext = plaintext;
  }

  /**
   * Opens the cookie `request[cookieOffset, +cookieLength)` with `keySet` into
   * cookiePlaintext (setting aeadId) and the authenticator in `view` with its
   * C2S key into plaintext. Returns the plaintext length, COOKIE_REJECTED or
   * AUTHENTICATOR_REJECTED. Never throws for any request. release() forgets.
   */
  open(
    keySet: KeySet,
    request: Uint8Array,
    cookieOffset: number,
    cookieLength: number,
    view: AuthenticatorView,
  ): number {
    const id = openCookieInto(
      keySet,
      request,
      cookieOffset,
      cookieLength,
      this.cookiePlaintext,
      this.aead,
    );
    if (id < 0) return this.reject(COOKIE_REJECTED);
    this.aeadId = id;
    const c2s = this.session(id as AeadId).c2s;
    c2s.setKey(this.cookiePlaintext, COOKIE_S2C_KEY_OFFSET + aeadKeyLength(id)!);
    const n = openAuthenticatorInto(request, view, c2s, this.plaintext, 0);
    c2s.clearKey();
    if (n < 0) return AUTHENTICATOR_REJECTED;
    this.plaintextLength = n;
    return n;
  }

  /**
   * Seals the opened cookie's plaintext into a new cookie at `out[offset..)`
   * under the primary key of `keySet`, its nonce from `randomFill`. Returns
   * the cookie's length. Throws RangeError when it does not fit (a caller bug).
   */
  sealCookie(keySet: KeySet, randomFill: RandomFill, out: Uint8Array, offset: number): number {
    return sealCookieInto(
      keySet,
      this.cookiePlaintext,
      this.cookiePlaintextLength(),
      randomFill,
      out,
      offset,
      this.aead,
    );
  }

  /** The session ciphers of AEAD `id` (their keys are set only while used). */
  session(id: AeadId): SessionCiphers {
    let session = this.sessions.get(id);
    if (session === undefined) {
      session = { c2s: this.aead.rekeyable(id), s2c: this.aead.rekeyable(id) };
      this.sessions.set(id, session);
    }
    return session;
  }

  /**
   * Overwrites the cookie plaintext and the plaintext of the last request.
   * Loops, not TypedArray fills: per request, a fill's fixed cost is more than
   * the few octets it clears.
   */
  release(): void {
    const cookie = this.cookiePlaintext;
    const used = this.aeadId < 0 ? 0 : this.cookiePlaintextLength();
    for (let i = 0; i < used; i++) cookie[i] = 0;
    const plaintext = this.plaintext;
    for (let i = 0; i < this.plaintextLength; i++) plaintext[i] = 0;
    this.plaintextLength = 0;
    this.aeadId = -1;
  }

  /** Octets of the opened cookie's plaintext. */
  protected cookiePlaintextLength(): number {
    return cookiePlaintextLength(aeadKeyLength(this.aeadId)!);
  }

  /**
   * A rejected cookie: its buffer is cleared whole (an authentic cookie with
   * unusable contents still held keys). Returns `verdict`.
   */
  protected reject(verdict: number): number {
    const cookie = this.cookiePlaintext;
    for (let i = 0; i < MAX_COOKIE_PLAINTEXT_LENGTH; i++) cookie[i] = 0;
    this.aeadId = -1;
    return verdict;
  }
}
