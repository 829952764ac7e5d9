// The client side of NTS on NTP packets (RFC 8915 §5.7, NTS.md §6.1 and §6.3),
// plugged into a source through the RequestProtector seam. As ntpd-rs
// (`NtpPacket::nts_poll_message`, `valid_server_response`; ntpd-rs.md §4.8,
// §4.9):
//
// Request: header ‖ Unique Identifier (32 random octets) ‖ Cookie (the oldest
// one in the stash, never sent again) ‖ n − 1 Placeholders of the cookie's
// size ‖ Authenticator (C2S, fresh nonce, empty plaintext), where
// n = min(free stash slots after taking the cookie, ⌊(1024 − 300) / cookie
// length⌋, 255): the reply can then bring n cookies and keep the request (and
// reply) within ntpd-rs's 1024-octet budget. Randomness is drawn in this
// order: UID, then nonce.
//
// Response: the authenticator must verify under S2C with the associated data
// the octets before it, and our UID must be in an authenticated field (before
// the authenticator) or an encrypted one (inside it). Cookies are taken only
// from the encrypted part, once per request. Without an authenticator only an
// NTS NAK (stratum 0, "NTSN") echoing our UID passes, unauthenticated: the
// source treats NTSN as an ignorable kiss. Everything else is refused.

import type { AeadCipher, AeadId } from "../../crypto/aead.js";
import { createAead } from "../../crypto/registry.js";
import { ExtensionFieldReader } from "../../packet/extension-fields.js";
import { isKiss } from "../../packet/kiss.js";
import { MAX_EXTENSION_FIELDS } from "../../packet/parse.js";
import { NTP_HEADER_LENGTH, type ExtensionField, type NtpPacket } from "../../packet/types.js";
import type { RequestProtector, ResponseVerdict } from "../../source/request-protector.js";
import type { CookieStash } from "../cookie/stash.js";
import type { RandomBytes } from "../keyset/keyset.js";
import {
  AuthenticatorView,
  NtsFieldType,
  UNIQUE_IDENTIFIER_LENGTH,
  authenticatorFieldLength,
  carriesUniqueIdentifier,
  cookieFieldLength,
  openAuthenticator,
  placeholderFieldLength,
  readAuthenticator,
  uniqueIdentifierFieldLength,
  writeAuthenticator,
  writeCookie,
  writePlaceholder,
  writeUniqueIdentifier,
} from "./fields.js";

/** ntpd-rs's request buffer: the cookies asked for must fit in it ... */
export const NTS_REQUEST_BUDGET = 1024;
/** ... with this much kept for the header, UID, field headers and authenticator. */
export const NTS_REQUEST_OVERHEAD = 300;
/** The longest cookie we send: one that leaves room for at least one new cookie. */
export const MAX_REQUEST_COOKIE_LENGTH = NTS_REQUEST_BUDGET - NTS_REQUEST_OVERHEAD;
/** Most cookies asked for in one request (n is a u8 in ntpd-rs). */
const MAX_COOKIES_PER_REQUEST = 255;
const EMPTY = new Uint8Array(0);

export interface NtsProtectorOptions {
  /** The NTP version NTS-KE negotiated (next protocol 0: 4, 0x8001: 5); default: the source's. */
  ntpVersion?: 4 | 5;
  /** The AEAD negotiated in NTS-KE. */
  aead: AeadId;
  /** Client-to-server key from the TLS exporter. */
  c2s: Uint8Array;
  /** Server-to-client key from the TLS exporter. */
  s2c: Uint8Array;
  /** The cookies of this source: requests take from it, replies refill it. */
  stash: CookieStash;
  /** Cryptographic randomness (UID, nonces): exactly n fresh octets. */
  random: RandomBytes;
}

/** Why the last finishRequest returned null. */
export type NtsRequestFailure =
  /** The stash is empty: a new NTS-KE is needed. */
  | "no-cookie"
  /** The oldest cookie is empty or leaves no room for a new one (ntpd-rs "NTS Cookie too large"). */
  | "unusable-cookie";

/** How many cookies a request with a `cookieLength`-octet cookie asks for (1 + placeholders). */
export function cookiesToRequest(missing: number, cookieLength: number): number {
  if (cookieLength <= 0) return 0;
  return Math.max(
    0,
    Math.min(
      missing,
      Math.floor(MAX_REQUEST_COOKIE_LENGTH / cookieLength),
      MAX_COOKIES_PER_REQUEST,
    ),
  );
}

export class NtsProtector implements RequestProtector {
  readonly aead: AeadId;
  readonly ntpVersion: 4 | 5 | undefined;
  readonly #c2s: AeadCipher;
  readonly #s2c: AeadCipher;
  readonly #stash: CookieStash;
  readonly #random: RandomBytes;

  /** UID of the outstanding request (null before the first one). */
  #uid: Uint8Array | null = null;
  /** Cookies were already taken from a reply to the outstanding request. */
  #cookiesTaken = false;
  #lastFailure: NtsRequestFailure | null = null;

  readonly #view = new AuthenticatorView();
  readonly #reader = new ExtensionFieldReader();

  /** @throws RangeError for an unsupported AEAD or keys of the wrong length. */
  constructor(options: NtsProtectorOptions) {
    this.aead = options.aead;
    this.ntpVersion = options.ntpVersion;
    this.#c2s = createAead(options.aead, options.c2s);
    this.#s2c = createAead(options.aead, options.s2c);
    this.#stash = options.stash;
    this.#random = options.random;
  }

  /** Why the last finishRequest returned null; null after a request was built. */
  get lastFailure(): NtsRequestFailure | null {
    return this.#lastFailure;
  }

  finishRequest(header: Uint8Array): Uint8Array | null {
    const cookie = this.#stash.take();
    if (cookie === null) {
      this.#lastFailure = "no-cookie";
      return null;
    }
    const wanted = cookiesToRequest(this.#stash.missing, cookie.length);
    if (wanted === 0) {
      this.#lastFailure = "unusable-cookie";
      return null;
    }
    const placeholders = wanted - 1;
    const c2s = this.#c2s;
    // NTPv5 requests bring fields of their own (draft identification, Bloom
    // chunk request): they go after ours, before the authenticator, so they
    // are authenticated too (ntpd-rs `nts_poll_message_v5` order).
    const extra = header.subarray(NTP_HEADER_LENGTH);
    const length =
      NTP_HEADER_LENGTH +
      uniqueIdentifierFieldLength(UNIQUE_IDENTIFIER_LENGTH) +
      cookieFieldLength(cookie.length, false) +
      placeholders * placeholderFieldLength(cookie.length) +
      extra.length +
      authenticatorFieldLength(c2s.nonceLength, c2s.tagLength);
    const out = new Uint8Array(length);
    out.set(header.subarray(0, NTP_HEADER_LENGTH));

    const uid = Uint8Array.from(this.#random(UNIQUE_IDENTIFIER_LENGTH));
    if (uid.length !== UNIQUE_IDENTIFIER_LENGTH) throw new RangeError("random source is broken");
    let off = NTP_HEADER_LENGTH;
    off += writeUniqueIdentifier(out, off, uid);
    off += writeCookie(out, off, cookie, false);
    for (let i = 0; i < placeholders; i++) off += writePlaceholder(out, off, cookie.length);
    out.set(extra, off);
    off += extra.length;
    const nonce = this.#random(c2s.nonceLength);
    writeAuthenticator(out, off, c2s, nonce, EMPTY);

    this.#uid = uid;
    this.#cookiesTaken = false;
    this.#lastFailure = null;
    return out;
  }

  checkResponse(packet: NtpPacket, bytes: Uint8Array, length: number): ResponseVerdict {
    const uid = this.#uid;
    if (uid === null) return refuse("no NTS request outstanding");
    const fields = packet.extensionFields;
    let auth = -1;
    for (let i = 0; i < fields.length; i++) {
      if (fields[i]?.type === NtsFieldType.Authenticator) {
        auth = i;
        break;
      }
    }
    if (auth < 0) {
      if (isKiss(packet.header, "NTSN") && hasUid(fields, fields.length, uid)) {
        return { ok: true, authenticated: false };
      }
      return refuse("response to an NTS request is not authenticated");
    }

    const field = fields[auth]!;
    const data = bytes.subarray(0, length);
    const view = this.#view;
    if (!readAuthenticator(data, field.offset, field.value.length, view)) {
      return refuse("malformed NTS authenticator");
    }
    const plaintext = openAuthenticator(data, view, this.#s2c);
    if (plaintext === null) return refuse("NTS authenticator does not verify");

    let uidFound = hasUid(fields, auth, uid);
    const reader = this.#reader;
    let cookies = 0;
    reader.reset(plaintext, 0, plaintext.length, false, MAX_EXTENSION_FIELDS);
    while (reader.next()) {
      if (reader.type === NtsFieldType.UniqueIdentifier) {
        uidFound ||= carriesUniqueIdentifier(
          plaintext,
          reader.valueOffset,
          reader.valueLength,
          uid,
        );
      } else if (reader.type === NtsFieldType.Cookie) {
        cookies++;
      }
    }
    if (reader.error !== null) return refuse("malformed encrypted extension fields");
    if (!uidFound) return refuse("NTS response does not carry our unique identifier");

    if (cookies > 0 && !this.#cookiesTaken) {
      this.#cookiesTaken = true;
      reader.reset(plaintext, 0, plaintext.length, false, MAX_EXTENSION_FIELDS);
      while (reader.next()) {
        if (reader.type !== NtsFieldType.Cookie) continue;
        const n = reader.valueLength;
        // An empty or oversized cookie could never be sent: do not let it
        // take a slot (or trigger a reset when its turn comes).
        if (n === 0 || n > MAX_REQUEST_COOKIE_LENGTH) continue;
        this.#stash.add(plaintext.slice(reader.valueOffset, reader.valueOffset + n));
      }
    }
    plaintext.fill(0);
    return { ok: true, authenticated: true };
  }
}

function refuse(reason: string): ResponseVerdict {
  return { ok: false, reason };
}

/** Whether one of `fields[0..end)` is a UID field carrying `uid`. */
function hasUid(fields: readonly ExtensionField[], end: number, uid: Uint8Array): boolean {
  for (let i = 0; i < end; i++) {
    const f = fields[i];
    if (f === undefined || f.type !== NtsFieldType.UniqueIdentifier) continue;
    if (carriesUniqueIdentifier(f.value, 0, f.value.length, uid)) return true;
  }
  return false;
}
