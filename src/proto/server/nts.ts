// The NTS part of the server core (RFC 8915 §5.7, NTS.md §6.2; ntpd-rs
// `KeySet` as cipher provider and `nts_timestamp_response`, ntpd-rs.md §4.8):
// check a request that carries an authenticator, then write the authenticator
// of its reply.
//
// check():
//   * the authenticator body must be well-formed, else the request is
//     malformed (ntpd-rs: a parse error, dropped);
//   * exactly one Cookie field before the first authenticator, exactly one
//     authenticator, the cookie opens with the key set, the authenticator
//     verifies with the cookie's C2S key: else NTS NAK;
//   * a verified request whose nonce is short without the additional padding
//     RFC 8915 §5.6 requires is dropped (malformed), as are encrypted fields
//     that break RFC 7822 framing or nest an authenticator.
// layoutAuthenticator(): a fresh cookie (same keys, current primary key) for
// each cookie/placeholder slot of the request (before the authenticator, then
// inside it), at most 8, each only when it is no longer than its slot, then
// only as many as keep the reply within the request's length; laid out under a
// fresh nonce for the S2C seal, which comes after T3 (finish.ts).
//
// Per request this costs one cookie open (master key), the C2S open, one
// cookie seal per new cookie (re-sealing the plaintext the request's cookie
// opened to) and, in the finish after T3, the S2C seal: the AEAD work is
// nts-crypto.ts's (with the daemon's native provider, one addon call for the
// cookie and the authenticator, one per new cookie, the seal in the socket's
// flush, and no allocation). Everything else is scratch owned by the handler,
// zeroed by release().

import { randomFillSync } from "node:crypto";
import type { AeadId, AeadProvider } from "../crypto/aead.js";
import { TS_AEAD, aeadKeyLength } from "../crypto/registry.js";
import { EXTENSION_FIELD_HEADER_LENGTH, ExtensionFieldReader } from "../packet/extension-fields.js";
import { MAX_EXTENSION_FIELDS } from "../packet/parse.js";
import { COOKIE_S2C_KEY_OFFSET, cookieLength } from "../nts/cookie/cookie.js";
import { MAX_COOKIES } from "../nts/cookie/stash.js";
import type { KeySet, RandomFill } from "../nts/keyset/keyset.js";
import {
  AUTHENTICATOR_NONCE_OFFSET,
  AuthenticatorView,
  NtsFieldType,
  authenticatorFieldLength,
  cookieFieldLength,
  hasRequiredNoncePadding,
  padded4,
  readAuthenticator,
  writeAuthenticatorFrame,
} from "../nts/packet/fields.js";
import type { NtsFieldScanner } from "../nts/packet/scan.js";
import { FinishStep, tagPrecedesText, type ReplyFinish } from "./finish.js";
import { requestCryptoFor, type NtsCryptoProvider, type NtsRequestCrypto } from "./nts-crypto.js";
import type { ServerStats } from "./stats.js";

/** Where the server reads the cookie master keys: once per NTS request. */
export interface KeySetProvider {
  current(): KeySet;
}

/** Most new cookies in one reply (ntpd-rs caps at the client's stash size). */
export const MAX_NEW_COOKIES = MAX_COOKIES;

/** What check() decided about an NTS request. */
export type NtsCheck = "ok" | "nak" | "malformed";

/**
 * Random octets without allocation: copied from a pool refilled `poolSize`
 * octets at a time (one native call per ~100 NTS replies instead of several
 * per reply); each octet is handed out once and zeroed in the pool as it is
 * copied (a loop: a TypedArray fill per call costs more than these few octets).
 */
export function pooledRandomFill(poolSize = 4096): RandomFill {
  const pool = new Uint8Array(poolSize);
  let used = poolSize;
  return (out: Uint8Array, offset: number, length: number): void => {
    if (length > poolSize) {
      randomFillSync(out, offset, length);
      return;
    }
    if (used + length > poolSize) {
      randomFillSync(pool);
      used = 0;
    }
    for (let i = 0; i < length; i++) {
      out[offset + i] = pool[used + i]!;
      pool[used + i] = 0; // handed out once: not kept in the pool
    }
    used += length;
  };
}

export class NtsRequestHandler {
  private readonly view = new AuthenticatorView();
  private readonly reader = new ExtensionFieldReader();
  /** Value lengths of the slots, in order; slotCount of them are valid. */
  private readonly slots = new Int32Array(MAX_NEW_COOKIES);
  private slotCount = 0;
  /** The cookie, authenticator and new cookies' AEAD work, and its key material. */
  private readonly crypto: NtsRequestCrypto;
  private keySet: KeySet | null = null;
  private readonly randomFill: RandomFill;

  /**
   * `stats.ntsCookiesWithheld` counts the new cookies that did not fit.
   * `random`: cookie and reply nonces (see pooledRandomFill; tests wrap a
   * seeded RandomBytes with fillFrom). `aead`: where ciphers come from (the
   * daemon passes the native ones, with their own request crypto; the
   * TypeScript ones by default).
   */
  constructor(
    random: RandomFill,
    private readonly stats: ServerStats,
    readonly aead: AeadProvider | NtsCryptoProvider = TS_AEAD,
  ) {
    this.randomFill = random;
    this.crypto = requestCryptoFor(aead);
  }

  /**
   * Checks the NTS request in `request` (scanned into `scan`, which found an
   * authenticator) with `keySet`. `request` may be longer than the datagram
   * (the socket's buffer): only the fields the scan found are read, and it
   * bounded them within the datagram. On "ok" the handler keeps the cookie's
   * keys for layoutAuthenticator. Never throws.
   */
  check(request: Uint8Array, scan: NtsFieldScanner, keySet: KeySet): NtsCheck {
    this.release();
    const view = this.view;
    if (
      !readAuthenticator(request, scan.authenticatorOffset, scan.authenticatorValueLength, view)
    ) {
      return "malformed";
    }
    if (scan.authenticatorCount !== 1 || scan.cookieCount !== 1) return "nak";
    const crypto = this.crypto;
    const n = crypto.open(keySet, request, scan.cookieValueOffset, scan.cookieValueLength, view);
    if (n < 0) return this.fail("nak");
    this.keySet = keySet; // for layoutAuthenticator; release() forgets it
    if (!hasRequiredNoncePadding(view, crypto.session(crypto.aeadId as AeadId).c2s)) {
      return this.fail("malformed");
    }

    let slots = 0;
    const count = Math.min(scan.slotCount, MAX_NEW_COOKIES);
    for (; slots < count; slots++) this.slots[slots] = scan.slotLengths[slots] ?? 0;
    if (n > 0) {
      const reader = this.reader;
      reader.reset(crypto.plaintext, 0, n, false, MAX_EXTENSION_FIELDS);
      while (reader.next()) {
        const type = reader.type;
        if (type === NtsFieldType.Authenticator) return this.fail("malformed");
        if (
          (type === NtsFieldType.Cookie || type === NtsFieldType.CookiePlaceholder) &&
          slots < MAX_NEW_COOKIES
        ) {
          this.slots[slots++] = reader.valueLength;
        }
      }
      if (reader.error !== null) return this.fail("malformed");
    }
    this.slotCount = slots;
    return "ok";
  }

  /**
   * After check() said "ok": lays out the reply's authenticator at
   * `out[offset..)`, the associated data being `out[0..offset)` (header and
   * UID echo, written or to be stamped): the field frame, a fresh nonce and,
   * when `withCookies` (not for a DENY), fresh cookies as the plaintext, placed
   * where the ciphertext goes. `finish` gets the SEAL step (the S2C cipher and
   * key, where AD, nonce, text and tag are); sealing is left to finishReply or
   * the socket, after T3 (finish.ts). The reply ends at or before `maxLength`.
   * Returns the reply's end offset, or -1 when not even an empty authenticator
   * fits. Either way the session keys are released (the S2C key lives on only
   * in `finish`).
   */
  layoutAuthenticator(
    out: Uint8Array,
    offset: number,
    maxLength: number,
    withCookies: boolean,
    finish: ReplyFinish,
  ): number {
    const keySet = this.keySet;
    if (keySet === null) return -1; // no successful check()
    const crypto = this.crypto;
    const aeadId = crypto.aeadId as AeadId;
    const s2c = crypto.session(aeadId).s2c;
    const limit = Math.min(maxLength, out.length);
    const nonceLength = s2c.nonceLength;
    const tagLength = s2c.tagLength;
    const bare = offset + authenticatorFieldLength(nonceLength, tagLength);
    if (bare > limit) {
      this.release();
      return -1;
    }
    const nonceOffset = offset + AUTHENTICATOR_NONCE_OFFSET;
    const sealedOffset = nonceOffset + padded4(nonceLength);
    const tagFirst = tagPrecedesText(s2c.id);
    const textOffset = tagFirst ? sealedOffset + tagLength : sealedOffset;
    // The frame's length depends on how many cookies fit: count them first,
    // write the frame (which zeroes the body), then the cookies into it.
    const cookies = withCookies ? this.countNewCookies(aeadId, limit - bare) : 0;
    const textLength = cookies * cookieFieldLength(cookieLength(aeadId), true);
    const end = offset + writeAuthenticatorFrame(out, offset, nonceLength, textLength + tagLength);
    this.writeNewCookies(keySet, aeadId, cookies, out, textOffset);
    this.randomFill(out, nonceOffset, nonceLength);

    finish.kind |= FinishStep.Seal;
    finish.cipher = s2c;
    const keyLength = aeadKeyLength(aeadId)!;
    const key = finish.key;
    const cookie = crypto.cookiePlaintext;
    for (let i = 0; i < keyLength; i++) key[i] = cookie[COOKIE_S2C_KEY_OFFSET + i]!;
    finish.keyLength = keyLength;
    finish.adLength = offset;
    finish.nonceOffset = nonceOffset;
    finish.nonceLength = nonceLength;
    finish.textOffset = textOffset;
    finish.textLength = textLength;
    finish.tagOffset = tagFirst ? sealedOffset : sealedOffset + textLength;
    this.release();
    return end;
  }

  /**
   * How many new cookies the reply carries: one per slot whose length it
   * fits, while their fields fit `budget` octets; the others are counted as
   * withheld.
   */
  private countNewCookies(aeadId: AeadId, budget: number): number {
    const newLength = cookieLength(aeadId);
    const fieldLength = cookieFieldLength(newLength, true);
    let cookies = 0;
    for (let i = 0; i < this.slotCount; i++) {
      if (newLength <= (this.slots[i] ?? 0) && fieldLength <= budget) {
        cookies++;
        budget -= fieldLength;
      } else {
        this.stats.ntsCookiesWithheld++;
      }
    }
    return cookies;
  }

  /**
   * The reply's encrypted fields, in place of the plaintext: `count` Cookie
   * fields with new cookies (the request's cookie plaintext re-sealed under
   * the current master key) at `out[offset..)`.
   */
  private writeNewCookies(
    keySet: KeySet,
    aeadId: AeadId,
    count: number,
    out: Uint8Array,
    offset: number,
  ): void {
    const fieldLength = cookieFieldLength(cookieLength(aeadId), true);
    for (let i = 0; i < count; i++, offset += fieldLength) {
      // An encrypted Cookie field: no 16-octet minimum, and cookies are
      // multiples of 4 octets, so the field is its header and the cookie.
      out[offset] = NtsFieldType.Cookie >>> 8;
      out[offset + 1] = NtsFieldType.Cookie & 0xff;
      out[offset + 2] = fieldLength >>> 8;
      out[offset + 3] = fieldLength & 0xff;
      this.crypto.sealCookie(keySet, this.randomFill, out, offset + EXTENSION_FIELD_HEADER_LENGTH);
    }
  }

  private fail(verdict: "nak" | "malformed"): NtsCheck {
    this.release();
    return verdict;
  }

  /** Forgets (and overwrites) the keys and plaintexts of the last request. */
  release(): void {
    this.crypto.release();
    this.keySet = null;
    this.slotCount = 0;
  }
}
