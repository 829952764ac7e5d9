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
// Per request this costs one cookie open, the C2S open, one cookie seal per
// new cookie and (in the finish) the S2C seal. The session's (C2S, S2C) cipher pair comes
// from a bounded cache keyed by the exact key bytes (AeadPairCache; a pair is
// admitted once a request authenticated under it), so only a session's first
// request, or one whose pair was evicted, pays the AEAD key setup; see
// aead-pair-cache.ts for the trade-offs and capacity 0 to disable it. The
// rest uses scratch owned by the handler.

import { randomFillSync } from "node:crypto";
import { AeadPairCache, type AeadPair } from "../crypto/aead-pair-cache.js";
import { createAead } from "../crypto/registry.js";
import { ExtensionFieldReader } from "../packet/extension-fields.js";
import { MAX_EXTENSION_FIELDS } from "../packet/parse.js";
import {
  cookieLength,
  decodeCookie,
  encodeCookie,
  type CookieContents,
} from "../nts/cookie/cookie.js";
import { MAX_COOKIES } from "../nts/cookie/stash.js";
import type { KeySet, RandomBytes } from "../nts/keyset/keyset.js";
import {
  AUTHENTICATOR_NONCE_OFFSET,
  AuthenticatorView,
  NtsFieldType,
  authenticatorFieldLength,
  cookieFieldLength,
  hasRequiredNoncePadding,
  openAuthenticator,
  padded4,
  readAuthenticator,
  writeAuthenticatorFrame,
  writeCookie,
} from "../nts/packet/fields.js";
import type { NtsFieldScanner } from "../nts/packet/scan.js";
import { FinishStep, tagPrecedesText, type ReplyFinish } from "./finish.js";
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
 * Random octets from a pool refilled 4 KiB at a time: one native call per
 * ~100 NTS replies instead of several per reply. The returned array is a view
 * into the pool, valid until the next call: callers copy it at once (every
 * use here does: cookie nonces and AEAD nonces are copied into the packet).
 */
export function pooledRandom(poolSize = 4096): RandomBytes {
  const pool = new Uint8Array(poolSize);
  let used = poolSize;
  return (n: number): Uint8Array => {
    if (n > poolSize) return randomFillSync(new Uint8Array(n));
    if (used + n > poolSize) {
      randomFillSync(pool);
      used = 0;
    }
    const out = pool.subarray(used, used + n);
    used += n;
    return out;
  };
}

export class NtsRequestHandler {
  private readonly view = new AuthenticatorView();
  private readonly reader = new ExtensionFieldReader();
  /** Value lengths of the slots, in order; slotCount of them are valid. */
  private readonly slots = new Int32Array(MAX_NEW_COOKIES);
  private slotCount = 0;
  private keySet: KeySet | null = null;
  private contents: CookieContents | null = null;
  private pair: AeadPair | null = null;

  /**
   * `stats.ntsCookiesWithheld` counts the new cookies that did not fit.
   * `ciphers`: the session cipher cache (default: DEFAULT_AEAD_PAIR_CACHE_CAPACITY
   * pairs; `new AeadPairCache(0)` disables caching).
   */
  constructor(
    private readonly random: RandomBytes,
    private readonly stats: ServerStats,
    readonly ciphers: AeadPairCache = new AeadPairCache(),
  ) {}

  /**
   * Checks the NTS request `request` (scanned into `scan`, which found an
   * authenticator) with `keySet`. On "ok" the handler keeps the cookie's keys
   * for writeAuthenticator. Never throws.
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
    const contents = decodeCookie(
      keySet,
      request.subarray(scan.cookieValueOffset, scan.cookieValueOffset + scan.cookieValueLength),
    );
    if (contents === null) return "nak";
    this.contents = contents; // from here on, release() overwrites the keys
    const pair = this.ciphers.get(contents.aead, contents.c2s, contents.s2c);
    const c2s = pair.c2s;
    const plaintext = openAuthenticator(request, view, c2s);
    if (plaintext === null) {
      // A forged authenticator with a valid (replayed) cookie: do the key
      // setup a miss does, so the NAK's timing does not tell whether the
      // cookie's session is cached (i.e. recently active).
      if (pair.cached) createAead(contents.aead, contents.c2s);
      return this.fail("nak");
    }
    // Authentic: the sender holds the session keys, so the pair is worth keeping.
    // Its S2C cipher is made now, while the pair is surely not evicted.
    this.ciphers.admit(pair);
    pair.s2c();
    this.pair = pair;
    if (!hasRequiredNoncePadding(view, c2s)) return this.fail("malformed");

    let slots = 0;
    const n = Math.min(scan.slotCount, MAX_NEW_COOKIES);
    for (; slots < n; slots++) this.slots[slots] = scan.slotLengths[slots] ?? 0;
    if (plaintext.length > 0) {
      const reader = this.reader;
      reader.reset(plaintext, 0, plaintext.length, false, MAX_EXTENSION_FIELDS);
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
    this.keySet = keySet;
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
    const contents = this.contents;
    const keySet = this.keySet;
    const pair = this.pair;
    if (contents === null || keySet === null || pair === null) return -1; // no successful check()
    const s2c = pair.s2c();
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
    let budget = limit - bare;
    let cookies = 0;
    const newLength = cookieLength(contents.aead);
    const fieldLength = cookieFieldLength(newLength, true);
    if (withCookies) {
      for (let i = 0; i < this.slotCount; i++) {
        if (newLength <= (this.slots[i] ?? 0) && fieldLength <= budget) {
          cookies++;
          budget -= fieldLength;
        } else {
          this.stats.ntsCookiesWithheld++;
        }
      }
    }
    const textLength = cookies * fieldLength;
    const end = offset + writeAuthenticatorFrame(out, offset, nonceLength, textLength + tagLength);
    let at = textOffset;
    for (let i = 0; i < cookies; i++) {
      at += writeCookie(out, at, encodeCookie(keySet, contents, this.random), true);
    }
    out.set(this.random(nonceLength), nonceOffset);

    finish.kind |= FinishStep.Seal;
    finish.cipher = s2c;
    finish.key.set(contents.s2c);
    finish.keyLength = contents.s2c.length;
    finish.adLength = offset;
    finish.nonceOffset = nonceOffset;
    finish.nonceLength = nonceLength;
    finish.textOffset = textOffset;
    finish.textLength = textLength;
    finish.tagOffset = tagFirst ? sealedOffset : sealedOffset + textLength;
    this.release();
    return end;
  }

  private fail(verdict: "nak" | "malformed"): NtsCheck {
    this.release();
    return verdict;
  }

  /** Forgets (and overwrites) the keys of the last request. */
  release(): void {
    const contents = this.contents;
    if (contents !== null) {
      contents.c2s.fill(0);
      contents.s2c.fill(0);
    }
    this.contents = null;
    this.keySet = null;
    this.pair = null;
    this.slotCount = 0;
  }
}
