// The four NTS extension fields of an NTPv4 packet (RFC 8915 §5, NTS.md §5):
// Unique Identifier 0x0104, NTS Cookie 0x0204, Cookie Placeholder 0x0304 and
// the NTS Authenticator and Encrypted Extension Fields 0x0404.
//
// Framing is RFC 7822 (../../packet/extension-fields.ts). As ntpd-rs writes
// them (ntpd-rs.md §4.8): fields before the authenticator (authenticated, in
// the clear) are padded to at least 16 octets; fields inside the authenticator
// (encrypted) only to a multiple of 4. The authenticator body is
//
//   u16 nonce length ‖ u16 ciphertext length ‖ nonce, zero-padded to a
//   multiple of 4 ‖ ciphertext (AEAD output, tag included), zero-padded to a
//   multiple of 4 ‖ additional padding (requests only)
//
// and its associated data is every octet of the packet before the field.
//
// Writers throw a RangeError only for caller bugs (a buffer too small, a field
// over 65532 octets). Readers never throw: bad input gives false or null.

import type { AeadCipher } from "../../crypto/aead.js";
import type { RandomFill } from "../keyset/keyset.js";
import {
  EXTENSION_FIELD_HEADER_LENGTH,
  MAX_EXTENSION_FIELD_LENGTH,
  MIN_EXTENSION_FIELD_LENGTH,
  encodeExtensionField,
  extensionFieldLength,
  extensionFieldTypes,
} from "../../packet/extension-fields.js";

/** Extension field types of NTS (RFC 8915 §5.3–§5.6). */
export const NtsFieldType = {
  UniqueIdentifier: extensionFieldTypes.UniqueIdentifier,
  Cookie: extensionFieldTypes.NtsCookie,
  CookiePlaceholder: extensionFieldTypes.NtsCookiePlaceholder,
  Authenticator: extensionFieldTypes.NtsAuthenticator,
} as const;

/** Octets of the Unique Identifier we send (ntpd-rs: 32). */
export const UNIQUE_IDENTIFIER_LENGTH = 32;
/** The shortest Unique Identifier RFC 8915 §5.3 allows: 32 octets. */
export const UNIQUE_IDENTIFIER_MIN_LENGTH = 32;
/** Octets of the nonce-length and ciphertext-length words at the start of the authenticator body. */
export const AUTHENTICATOR_LENGTHS_LENGTH = 4;
/** Offset of the nonce from the start of an authenticator field (field header, two lengths). */
export const AUTHENTICATOR_NONCE_OFFSET =
  EXTENSION_FIELD_HEADER_LENGTH + AUTHENTICATOR_LENGTHS_LENGTH;
/** Minimum length of an authenticated (not encrypted) field: RFC 7822, no MAC. */
export const AUTHENTICATED_FIELD_MIN_LENGTH = MIN_EXTENSION_FIELD_LENGTH;

/** `n` rounded up to a multiple of 4. */
export function padded4(n: number): number {
  return (n + 3) & ~3;
}

/** Octets of a Unique Identifier field carrying `uidLength` octets (authenticated: ≥ 16). */
export function uniqueIdentifierFieldLength(uidLength: number): number {
  return extensionFieldLength(uidLength, AUTHENTICATED_FIELD_MIN_LENGTH);
}

/**
 * Octets of a Cookie field for a `cookieLength`-octet cookie: ≥ 16 when
 * authenticated (requests), no minimum when encrypted (responses).
 */
export function cookieFieldLength(cookieLength: number, encrypted: boolean): number {
  return extensionFieldLength(cookieLength, encrypted ? 0 : AUTHENTICATED_FIELD_MIN_LENGTH);
}

/** Octets of a Cookie Placeholder field standing in for a `cookieLength`-octet cookie. */
export function placeholderFieldLength(cookieLength: number): number {
  return extensionFieldLength(cookieLength, AUTHENTICATED_FIELD_MIN_LENGTH);
}

/** Octets of an authenticator field with these lengths (and additional padding). */
export function authenticatorFieldLength(
  nonceLength: number,
  ciphertextLength: number,
  additionalPadding = 0,
): number {
  return (
    EXTENSION_FIELD_HEADER_LENGTH +
    AUTHENTICATOR_LENGTHS_LENGTH +
    padded4(nonceLength) +
    padded4(ciphertextLength) +
    padded4(additionalPadding)
  );
}

/**
 * The nonce length a request must at least provide, padding included
 * (RFC 8915 §5.6, NTS.md §5.4): N_REQ = min(16, N_MAX) rounded up to 4. Our
 * ciphers' nonce lengths are their N_MAX or 16 (SIV: 16, GCM-SIV: 12).
 */
export function requiredNonceLength(cipher: AeadCipher): number {
  return padded4(Math.min(16, cipher.nonceLength));
}

/** Writes a Unique Identifier field at `out[offset..)`; returns its length. */
export function writeUniqueIdentifier(out: Uint8Array, offset: number, uid: Uint8Array): number {
  return encodeExtensionField(
    NtsFieldType.UniqueIdentifier,
    uid,
    AUTHENTICATED_FIELD_MIN_LENGTH,
    out,
    offset,
  );
}

/**
 * Writes a Cookie field at `out[offset..)`; returns its length. `encrypted`:
 * the field goes inside an authenticator (no 16-octet minimum).
 */
export function writeCookie(
  out: Uint8Array,
  offset: number,
  cookie: Uint8Array,
  encrypted: boolean,
): number {
  return encodeExtensionField(
    NtsFieldType.Cookie,
    cookie,
    encrypted ? 0 : AUTHENTICATED_FIELD_MIN_LENGTH,
    out,
    offset,
  );
}

/** Writes a Cookie Placeholder for a `cookieLength`-octet cookie (zero body); returns its length. */
export function writePlaceholder(out: Uint8Array, offset: number, cookieLength: number): number {
  const length = placeholderFieldLength(cookieLength);
  checkFits(length, out, offset);
  writeFieldHeader(out, offset, NtsFieldType.CookiePlaceholder, length);
  out.fill(0, offset + EXTENSION_FIELD_HEADER_LENGTH, offset + length);
  return length;
}

/**
 * Writes the frame of an authenticator field at `out[offset..)`: field header,
 * nonce and ciphertext lengths, the rest of the body zeroed. The nonce then
 * goes to `offset + AUTHENTICATOR_NONCE_OFFSET`, the ciphertext (AEAD output,
 * tag included) `padded4(nonceLength)` octets after it. Returns the field's
 * length.
 */
export function writeAuthenticatorFrame(
  out: Uint8Array,
  offset: number,
  nonceLength: number,
  ciphertextLength: number,
  additionalPadding = 0,
): number {
  const length = authenticatorFieldLength(nonceLength, ciphertextLength, additionalPadding);
  checkFits(length, out, offset);
  writeFieldHeader(out, offset, NtsFieldType.Authenticator, length);
  const o = offset + EXTENSION_FIELD_HEADER_LENGTH;
  out[o] = nonceLength >>> 8;
  out[o + 1] = nonceLength & 0xff;
  out[o + 2] = ciphertextLength >>> 8;
  out[o + 3] = ciphertextLength & 0xff;
  out.fill(0, offset + AUTHENTICATOR_NONCE_OFFSET, offset + length);
  return length;
}

/**
 * Seals `plaintext` (the encrypted extension fields, possibly empty) with
 * `cipher` under `nonce`, the associated data being `out[0..offset)`, and
 * writes the authenticator field at `out[offset..)`. Returns its length.
 * `additionalPadding` zero octets follow the ciphertext (requests whose nonce
 * is shorter than N_REQ; rounded up to a multiple of 4).
 */
export function writeAuthenticator(
  out: Uint8Array,
  offset: number,
  cipher: AeadCipher,
  nonce: Uint8Array,
  plaintext: Uint8Array,
  additionalPadding = 0,
): number {
  return sealAuthenticator(
    out,
    offset,
    cipher,
    nonce.length,
    (o, at) => o.set(nonce, at),
    plaintext,
    plaintext.length,
    additionalPadding,
  );
}

/**
 * writeAuthenticator without allocation: the nonce (`nonceLength` octets) is
 * written by `fillNonce` straight into its place in the field, and the
 * plaintext is `plaintext[0, plaintextLength)`. Returns the field's length.
 */
export function sealAuthenticator(
  out: Uint8Array,
  offset: number,
  cipher: AeadCipher,
  nonceLength: number,
  fillNonce: RandomFill,
  plaintext: Uint8Array,
  plaintextLength: number,
  additionalPadding = 0,
): number {
  const sealedLength = plaintextLength + cipher.tagLength;
  const length = writeAuthenticatorFrame(out, offset, nonceLength, sealedLength, additionalPadding);
  const nonceOffset = offset + AUTHENTICATOR_NONCE_OFFSET;
  fillNonce(out, nonceOffset, nonceLength);
  const sealedOffset = nonceOffset + padded4(nonceLength);
  cipher.sealInto(
    out,
    nonceOffset,
    nonceLength,
    out,
    0,
    offset,
    plaintext,
    0,
    plaintextLength,
    out,
    sealedOffset,
  );
  return length;
}

/**
 * Where the nonce and ciphertext of one authenticator field are, as absolute
 * offsets into the packet. Filled in place by readAuthenticator, so a reader
 * can keep one and allocate nothing per packet.
 */
export class AuthenticatorView {
  /** Offset of the 0x0404 field header: the associated data is the packet before it. */
  fieldOffset = 0;
  nonceOffset = 0;
  nonceLength = 0;
  ciphertextOffset = 0;
  ciphertextLength = 0;
  /** Octets after the padded ciphertext up to the end of the field. */
  additionalPadding = 0;
}

/**
 * Reads the authenticator whose field header is at `bytes[fieldOffset]` and
 * whose value (after the 4-octet header, padding included) is `valueLength`
 * octets long, into `view`. False when the lengths inside do not fit the
 * field (as ntpd-rs, the ciphertext itself need not be followed by its
 * padding; with a field length that is a multiple of 4 it always is).
 */
export function readAuthenticator(
  bytes: Uint8Array,
  fieldOffset: number,
  valueLength: number,
  view: AuthenticatorView,
): boolean {
  const start = fieldOffset + EXTENSION_FIELD_HEADER_LENGTH;
  if (
    !(fieldOffset >= 0 && valueLength >= AUTHENTICATOR_LENGTHS_LENGTH) ||
    start + valueLength > bytes.length
  ) {
    return false;
  }
  const nonceLength = ((bytes[start] ?? 0) << 8) | (bytes[start + 1] ?? 0);
  const ciphertextLength = ((bytes[start + 2] ?? 0) << 8) | (bytes[start + 3] ?? 0);
  const nonceOffset = start + AUTHENTICATOR_LENGTHS_LENGTH;
  const ciphertextOffset = nonceOffset + padded4(nonceLength);
  const end = start + valueLength;
  if (ciphertextOffset + ciphertextLength > end) return false;
  view.fieldOffset = fieldOffset;
  view.nonceOffset = nonceOffset;
  view.nonceLength = nonceLength;
  view.ciphertextOffset = ciphertextOffset;
  view.ciphertextLength = ciphertextLength;
  view.additionalPadding = Math.max(0, end - (ciphertextOffset + padded4(ciphertextLength)));
  return true;
}

/**
 * Verifies and decrypts the authenticator in `view` with `cipher`, the
 * associated data being `bytes[0..view.fieldOffset)`. Returns the plaintext
 * (the encrypted extension fields, often empty) or null.
 */
export function openAuthenticator(
  bytes: Uint8Array,
  view: AuthenticatorView,
  cipher: AeadCipher,
): Uint8Array | null {
  return cipher.open(
    bytes.subarray(view.nonceOffset, view.nonceOffset + view.nonceLength),
    bytes.subarray(0, view.fieldOffset),
    bytes.subarray(view.ciphertextOffset, view.ciphertextOffset + view.ciphertextLength),
  );
}

/**
 * openAuthenticator without allocation: the plaintext goes to `out[outOffset..)`
 * (room for the ciphertext length is enough). Returns its length, or -1.
 */
export function openAuthenticatorInto(
  bytes: Uint8Array,
  view: AuthenticatorView,
  cipher: AeadCipher,
  out: Uint8Array,
  outOffset: number,
): number {
  return cipher.openInto(
    bytes,
    view.nonceOffset,
    view.nonceLength,
    bytes,
    0,
    view.fieldOffset,
    bytes,
    view.ciphertextOffset,
    view.ciphertextLength,
    out,
    outOffset,
  );
}

/**
 * RFC 8915 §5.6: a request whose padded nonce is shorter than N_REQ must carry
 * at least the difference as additional padding, or the server drops it.
 */
export function hasRequiredNoncePadding(view: AuthenticatorView, cipher: AeadCipher): boolean {
  const missing = requiredNonceLength(cipher) - padded4(view.nonceLength);
  return missing <= 0 || view.additionalPadding >= missing;
}

/**
 * True when the field value `bytes[offset..offset+length)` carries `uid`: the
 * identifier first, then nothing but zero padding.
 */
export function carriesUniqueIdentifier(
  bytes: Uint8Array,
  offset: number,
  length: number,
  uid: Uint8Array,
): boolean {
  const n = uid.length;
  if (length < n || offset < 0 || offset + length > bytes.length) return false;
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= (bytes[offset + i] ?? 0) ^ (uid[i] ?? 0);
  for (let i = n; i < length; i++) diff |= bytes[offset + i] ?? 0;
  return diff === 0;
}

function writeFieldHeader(out: Uint8Array, offset: number, type: number, length: number): void {
  out[offset] = type >>> 8;
  out[offset + 1] = type & 0xff;
  out[offset + 2] = length >>> 8;
  out[offset + 3] = length & 0xff;
}

function checkFits(length: number, out: Uint8Array, offset: number): void {
  if (length > MAX_EXTENSION_FIELD_LENGTH) {
    throw new RangeError(
      `extension field of ${length} octets exceeds ${MAX_EXTENSION_FIELD_LENGTH}`,
    );
  }
  if (offset < 0 || offset + length > out.length) {
    throw new RangeError(`extension field of ${length} octets does not fit at offset ${offset}`);
  }
}
