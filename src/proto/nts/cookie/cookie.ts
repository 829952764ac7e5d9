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
// decodeCookie requires the exact length 22 + L (ntpd-rs ignores bytes after
// the ciphertext; we mint no cookie that could carry any) and checks L
// against the lengths a known AEAD can produce before spending AES work.

import type { AeadId } from "../../crypto/aead.js";
import { aeadKeyLength, SUPPORTED_AEADS } from "../../crypto/registry.js";
import type { KeySet, RandomBytes } from "../keyset/keyset.js";

/** Octets of key id + ciphertext length. */
export const COOKIE_HEADER_LENGTH = 6;
/** Octets of the nonce. */
export const COOKIE_NONCE_LENGTH = 16;
/** Octets of the SIV tag in front of the ciphertext. */
export const COOKIE_TAG_LENGTH = 16;

const BODY_OFFSET = COOKIE_HEADER_LENGTH + COOKIE_NONCE_LENGTH;
const EMPTY = new Uint8Array(0);

/** Longest cookie plaintext: AEAD id and two 64-octet keys. */
const MAX_PLAINTEXT_LENGTH = 2 + 2 * 64;
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

/**
 * Seals `contents` into a new cookie under the primary key of `keyset`, with a
 * fresh nonce from `random`. Throws a RangeError when the AEAD is unknown or a
 * key has the wrong length (caller bugs: the keys come from the TLS exporter).
 */
export function encodeCookie(
  keyset: KeySet,
  contents: CookieContents,
  random: RandomBytes,
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
  const nonce = random(COOKIE_NONCE_LENGTH);
  if (nonce.length !== COOKIE_NONCE_LENGTH) {
    throw new RangeError(
      `random source returned ${nonce.length} octets, ${COOKIE_NONCE_LENGTH} requested`,
    );
  }
  const plaintext = plaintextScratch.subarray(0, 2 + 2 * k);
  plaintext[0] = contents.aead >>> 8;
  plaintext[1] = contents.aead & 0xff;
  plaintext.set(contents.s2c, 2);
  plaintext.set(contents.c2s, 2 + k);
  let sealed: Uint8Array;
  try {
    sealed = keyset.primaryCipher().seal(nonce, EMPTY, plaintext);
  } finally {
    plaintext.fill(0);
  }

  const out = new Uint8Array(BODY_OFFSET + sealed.length);
  const id = keyset.primaryId;
  out[0] = id >>> 24;
  out[1] = (id >>> 16) & 0xff;
  out[2] = (id >>> 8) & 0xff;
  out[3] = id & 0xff;
  out[4] = sealed.length >>> 8;
  out[5] = sealed.length & 0xff;
  out.set(nonce, COOKIE_HEADER_LENGTH);
  out.set(sealed, BODY_OFFSET);
  return out;
}

/**
 * Opens a cookie minted by `encodeCookie` with any valid key of `keyset`.
 * Returns null for every cookie it cannot use: too short, unknown (or rotated
 * out) key id, a length field that does not match the cookie or no known
 * AEAD, a failed tag, an unknown AEAD id or keys of the wrong length inside.
 * Never throws. The returned keys are views into one fresh buffer.
 */
export function decodeCookie(keyset: KeySet, bytes: Uint8Array): CookieContents | null {
  if (bytes.length < BODY_OFFSET) return null;
  const length = (bytes[4]! << 8) | bytes[5]!;
  if (!CIPHERTEXT_LENGTHS.has(length) || bytes.length !== BODY_OFFSET + length) return null;
  const id = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const cipher = keyset.cipherForId(id);
  if (cipher === undefined) return null;
  const plaintext = cipher.open(
    bytes.subarray(COOKIE_HEADER_LENGTH, BODY_OFFSET),
    EMPTY,
    bytes.subarray(BODY_OFFSET),
  );
  if (plaintext === null || plaintext.length < 2) return null;
  const aead = (plaintext[0]! << 8) | plaintext[1]!;
  const k = cookieKeyLength(aead);
  if (k === undefined || plaintext.length !== 2 + 2 * k) return null;
  return {
    aead: aead as AeadId,
    s2c: plaintext.subarray(2, 2 + k),
    c2s: plaintext.subarray(2 + k, 2 + 2 * k),
  };
}
