// NTS cookies as this server mints them (RFC 8915 §6, NTS.md §7.1), in the
// exact byte layout of ntpd-rs (`ntp-proto/src/keyset.rs`, ntpd-rs.md §4.6):
//
//   offset 0   u32 BE  key id of the master key (KeySet id)
//   offset 4   u16 BE  L = length of what follows the nonce
//   offset 6   16 B    nonce (random)
//   offset 22  L  B    AES-SIV-CMAC-512(master key, AD = empty, nonce, plaintext)
//                      = 16-octet SIV tag ‖ ciphertext
//   plaintext = u16 BE AEAD id ‖ S2C key ‖ C2S key
//
// Cookie length = 38 + 2 + 2 × key length: AEAD 15 → 104 octets, 17 → 168,
// 30 → 72 (all multiples of 4, so a cookie never needs extension field
// padding). A cookie carries only AEADs the crypto registry implements. The cookie is opaque to clients; only the key id is in the
// clear, and it is shared by every cookie of the same rotation period.
//
// openCookieInto/sealCookieInto are the allocation-free forms the server's
// request handler uses: the cookie plaintext (AEAD id ‖ S2C ‖ C2S) lives in a
// buffer the caller owns, so a new cookie re-seals the plaintext the request's
// cookie opened to. encodeCookie/decodeCookie build on them.
//
// decodeCookie requires the exact length 22 + L (ntpd-rs ignores bytes after
// the ciphertext; we mint no cookie that could carry any) and checks L
// against the lengths a known AEAD can produce before spending AES work.

import type { AeadCipher, AeadId, AeadProvider } from "../../crypto/aead.js";
import { aeadKeyLength, SUPPORTED_AEADS, TS_AEAD } from "../../crypto/registry.js";
import type { KeySet, RandomBytes, RandomFill } from "../keyset/keyset.js";
import { fillFrom } from "../keyset/keyset.js";

/** Octets of key id + ciphertext length. */
export const COOKIE_HEADER_LENGTH = 6;
/** Octets of the nonce. */
export const COOKIE_NONCE_LENGTH = 16;
/** Octets of the SIV tag in front of the ciphertext. */
export const COOKIE_TAG_LENGTH = 16;

/** Offset of the sealed part (tag ‖ ciphertext) in a cookie. */
export const COOKIE_BODY_OFFSET = COOKIE_HEADER_LENGTH + COOKIE_NONCE_LENGTH;
const BODY_OFFSET = COOKIE_BODY_OFFSET;
const EMPTY = new Uint8Array(0);

/** Longest cookie plaintext: AEAD id and two 64-octet keys. */
export const MAX_COOKIE_PLAINTEXT_LENGTH = 2 + 2 * 64;
const MAX_PLAINTEXT_LENGTH = MAX_COOKIE_PLAINTEXT_LENGTH;
/** Offset of the S2C key in a cookie plaintext (the C2S key follows it). */
export const COOKIE_S2C_KEY_OFFSET = 2;
/** encodeCookie's plaintext, reused (and zeroed after each use): it holds both session keys. */
const plaintextScratch = new Uint8Array(MAX_PLAINTEXT_LENGTH);

/** The possible values of L, for a check before decryption. */
const CIPHERTEXT_LENGTHS = new Set(
  SUPPORTED_AEADS.map((id) => COOKIE_TAG_LENGTH + 2 + 2 * (aeadKeyLength(id) ?? 0)),
);

/** What a cookie carries: the negotiated AEAD and the two session keys. */
export interface CookieContents {
  readonly aead: AeadId;
  /** Client-to-server key (requests). */
  readonly c2s: Uint8Array;
  /** Server-to-client key (responses). */
  readonly s2c: Uint8Array;
}

/**
 * Session key length of `aead` when a cookie can carry it (the AEADs the
 * registry implements: 15, 17, 30), else undefined.
 */
export function cookieKeyLength(aead: number): number | undefined {
  return aeadKeyLength(aead) ?? undefined;
}

/** Octets of a cookie carrying keys for `aead` (104 for 15, 168 for 17). */
export function cookieLength(aead: AeadId): number {
  const k = cookieKeyLength(aead);
  if (k === undefined) throw new RangeError(`AEAD ${aead as number} cannot be put in a cookie`);
  return BODY_OFFSET + COOKIE_TAG_LENGTH + 2 + 2 * k;
}

/** Length of the cookie plaintext (AEAD id ‖ S2C ‖ C2S) for session keys of `k` octets. */
export function cookiePlaintextLength(k: number): number {
  return 2 + 2 * k;
}

/**
 * Seals the cookie plaintext `plaintext[0, cookiePlaintextLength(k))` (as
 * openCookieInto leaves it) into a new cookie at `out[offset..)` under the
 * primary key of `keyset`, with a nonce from `random` written straight into
 * the cookie. Returns the cookie's length. The plaintext is not checked:
 * callers pass what openCookieInto accepted or what encodeCookie built.
 * Throws a RangeError when `out` is too small (a caller bug).
 */
export function sealCookieInto(
  keyset: KeySet,
  plaintext: Uint8Array,
  plaintextLength: number,
  randomFill: RandomFill,
  out: Uint8Array,
  offset: number,
  aead: AeadProvider = TS_AEAD,
): number {
  const length = writeCookieHeader(keyset, plaintextLength, randomFill, out, offset);
  keyset
    .primaryCipher(aead)
    .sealInto(
      out,
      offset + COOKIE_HEADER_LENGTH,
      COOKIE_NONCE_LENGTH,
      EMPTY,
      0,
      0,
      plaintext,
      0,
      plaintextLength,
      out,
      offset + BODY_OFFSET,
    );
  return length;
}

/**
 * The clear part of a new cookie sealing `plaintextLength` octets under the
 * primary key of `keyset`, at `out[offset..)`: key id, length and a nonce from
 * `randomFill`. Returns the whole cookie's length; the sealed part is the
 * caller's (sealCookieInto, or a cipher that seals cookies in one step).
 * Throws a RangeError when the cookie does not fit `out` (a caller bug).
 */
export function writeCookieHeader(
  keyset: KeySet,
  plaintextLength: number,
  randomFill: RandomFill,
  out: Uint8Array,
  offset: number,
): number {
  const sealedLength = COOKIE_TAG_LENGTH + plaintextLength;
  const length = BODY_OFFSET + sealedLength;
  if (offset < 0 || offset + length > out.length) {
    throw new RangeError(`a ${length}-octet cookie does not fit at offset ${offset}`);
  }
  const id = keyset.primaryId;
  out[offset] = id >>> 24;
  out[offset + 1] = (id >>> 16) & 0xff;
  out[offset + 2] = (id >>> 8) & 0xff;
  out[offset + 3] = id & 0xff;
  out[offset + 4] = sealedLength >>> 8;
  out[offset + 5] = sealedLength & 0xff;
  randomFill(out, offset + COOKIE_HEADER_LENGTH, COOKIE_NONCE_LENGTH);
  return length;
}

/**
 * Opens the cookie `bytes[offset, +length)` with any valid key of `keyset`,
 * writing its plaintext (AEAD id ‖ S2C key ‖ C2S key) to `out[0..)` (at least
 * MAX_COOKIE_PLAINTEXT_LENGTH octets). Returns the AEAD id, or -1 for every
 * cookie it cannot use (see decodeCookie); `out` may then hold garbage, which
 * the caller overwrites. Never throws for any input.
 */
export function openCookieInto(
  keyset: KeySet,
  bytes: Uint8Array,
  offset: number,
  length: number,
  out: Uint8Array,
  aead: AeadProvider = TS_AEAD,
): number {
  const cipher = cookieMasterCipher(keyset, bytes, offset, length, aead);
  if (cipher === undefined) return -1;
  const n = cipher.openInto(
    bytes,
    offset + COOKIE_HEADER_LENGTH,
    COOKIE_NONCE_LENGTH,
    EMPTY,
    0,
    0,
    bytes,
    offset + BODY_OFFSET,
    length - BODY_OFFSET,
    out,
    0,
  );
  return cookieAeadId(out, n);
}

/**
 * The master key cipher (made by `aead`) that may open the cookie
 * `bytes[offset, +length)`: its length field matches the cookie and a known
 * AEAD, and `keyset` has a valid key with its key id. Else undefined, before
 * any AES work. Never throws.
 */
export function cookieMasterCipher(
  keyset: KeySet,
  bytes: Uint8Array,
  offset: number,
  length: number,
  aead: AeadProvider = TS_AEAD,
): AeadCipher | undefined {
  if (length < BODY_OFFSET || offset < 0 || offset + length > bytes.length) return undefined;
  const sealedLength = (bytes[offset + 4]! << 8) | bytes[offset + 5]!;
  if (!CIPHERTEXT_LENGTHS.has(sealedLength) || length !== BODY_OFFSET + sealedLength) {
    return undefined;
  }
  const id =
    ((bytes[offset]! << 24) |
      (bytes[offset + 1]! << 16) |
      (bytes[offset + 2]! << 8) |
      bytes[offset + 3]!) >>>
    0;
  return keyset.cipherForId(id, aead);
}

/**
 * The AEAD id of the `n`-octet cookie plaintext in `plaintext` (n < 0: it did
 * not open), or -1 unless it names an AEAD a cookie can carry and has that
 * AEAD's length (AEAD id ‖ two keys).
 */
export function cookieAeadId(plaintext: Uint8Array, n: number): number {
  if (n < 2) return -1;
  const aeadId = (plaintext[0]! << 8) | plaintext[1]!;
  const k = cookieKeyLength(aeadId);
  if (k === undefined || n !== cookiePlaintextLength(k)) return -1;
  return aeadId;
}

/**
 * Seals `contents` into a new cookie under the primary key of `keyset`, with a
 * fresh nonce from `random`. Throws a RangeError when the AEAD is unknown or a
 * key has the wrong length (caller bugs: the keys come from the TLS exporter).
 */
export function encodeCookie(
  keyset: KeySet,
  contents: CookieContents,
  random: RandomBytes,
  aead: AeadProvider = TS_AEAD,
): Uint8Array {
  const k = cookieKeyLength(contents.aead);
  if (k === undefined) {
    throw new RangeError(`AEAD ${contents.aead as number} cannot be put in a cookie`);
  }
  if (contents.c2s.length !== k || contents.s2c.length !== k) {
    throw new RangeError(
      `AEAD ${contents.aead} takes ${k}-octet keys, got C2S ${contents.c2s.length} and S2C ${contents.s2c.length}`,
    );
  }
  const plaintextLength = cookiePlaintextLength(k);
  const plaintext = plaintextScratch;
  plaintext[0] = contents.aead >>> 8;
  plaintext[1] = contents.aead & 0xff;
  plaintext.set(contents.s2c, COOKIE_S2C_KEY_OFFSET);
  plaintext.set(contents.c2s, COOKIE_S2C_KEY_OFFSET + k);
  const out = new Uint8Array(BODY_OFFSET + COOKIE_TAG_LENGTH + plaintextLength);
  try {
    sealCookieInto(keyset, plaintext, plaintextLength, fillFrom(random), out, 0, aead);
  } finally {
    plaintext.fill(0);
  }
  return out;
}

/**
 * Opens a cookie minted by `encodeCookie` with any valid key of `keyset`.
 * Returns null for every cookie it cannot use: too short, unknown (or rotated
 * out) key id, a length field that does not match the cookie or no known
 * AEAD, a failed tag, an unknown AEAD id or keys of the wrong length inside.
 * Never throws. The returned keys are views into one fresh buffer.
 */
export function decodeCookie(
  keyset: KeySet,
  bytes: Uint8Array,
  aead: AeadProvider = TS_AEAD,
): CookieContents | null {
  const plaintext = new Uint8Array(MAX_COOKIE_PLAINTEXT_LENGTH);
  const id = openCookieInto(keyset, bytes, 0, bytes.length, plaintext, aead);
  if (id < 0) {
    plaintext.fill(0);
    return null;
  }
  const k = cookieKeyLength(id)!;
  return {
    aead: id as AeadId,
    s2c: plaintext.subarray(COOKIE_S2C_KEY_OFFSET, COOKIE_S2C_KEY_OFFSET + k),
    c2s: plaintext.subarray(COOKIE_S2C_KEY_OFFSET + k, COOKIE_S2C_KEY_OFFSET + 2 * k),
  };
}
