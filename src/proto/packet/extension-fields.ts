// NTPv4 extension field framing (RFC 7822, NTP.md §8): a 16-bit type, a 16-bit
// length counting the whole field (4-octet header + value + zero padding), the
// value, and zero padding to a multiple of 4.
//
// Reading is done by ExtensionFieldReader, a reusable cursor that walks the
// framing without allocating; parsePacket and the server's hot path both use
// it, so the framing rules live in this one place.

import type { PacketErrorCode } from "./types.js";

/** Extension field types this implementation knows (RFC 8915 §5, RFC 9748). */
export const extensionFieldTypes = {
  /** Unique Identifier (RFC 8915 §5.3). */
  UniqueIdentifier: 0x0104,
  /** NTS Cookie (RFC 8915 §5.4). */
  NtsCookie: 0x0204,
  /** NTS Cookie Placeholder (RFC 8915 §5.5). */
  NtsCookiePlaceholder: 0x0304,
  /** NTS Authenticator and Encrypted Extension Fields (RFC 8915 §5.6). */
  NtsAuthenticator: 0x0404,
} as const;

/** Octets of the type + length header of every field. */
export const EXTENSION_FIELD_HEADER_LENGTH = 4;
/** The largest length a 16-bit length field holding a multiple of 4 can carry. */
export const MAX_EXTENSION_FIELD_LENGTH = 65532;
/** RFC 7822 §7.5.1.4 minimum of every field in a MAC-less packet. */
export const MIN_EXTENSION_FIELD_LENGTH = 16;
/** RFC 7822 §7.5.1.4 minimum of the last field in a MAC-less packet. */
export const MIN_LAST_EXTENSION_FIELD_LENGTH = 28;
/** A legacy MAC is key id (4) + at most a 20-octet digest (NTP.md §8.2). */
export const MAX_LEGACY_MAC_LENGTH = 24;

/**
 * The sizes a legacy MAC after the extension fields may have (RFC 7822
 * §7.5.1.2, chrony): 0 (none), 4 (crypto-NAK), 20 and 24.
 */
export function isLegacyMacLength(octets: number): boolean {
  return octets === 0 || octets === 4 || octets === 20 || octets === MAX_LEGACY_MAC_LENGTH;
}

/**
 * Total on-wire length of a field with a `valueLength`-octet value, padded to
 * at least `minLength` and to a multiple of 4.
 */
export function extensionFieldLength(valueLength: number, minLength = 0): number {
  const natural = EXTENSION_FIELD_HEADER_LENGTH + valueLength;
  const wanted = natural > minLength ? natural : minLength;
  return (wanted + 3) & ~3;
}

/**
 * Writes one extension field at `out[offset..)`: type, length, `value`, then
 * zeros up to a multiple of 4 and at least `minLength` octets in total
 * (ntpd-rs `encode_framing`). Returns the number of bytes written (= the
 * field's length). Throws a RangeError when the field would exceed 65532
 * octets or does not fit in `out` (a caller bug, not a property of input).
 */
export function encodeExtensionField(
  type: number,
  value: Uint8Array,
  minLength: number,
  out: Uint8Array,
  offset: number,
): number {
  const length = extensionFieldLength(value.length, minLength);
  if (length > MAX_EXTENSION_FIELD_LENGTH) {
    throw new RangeError(
      `extension field of ${length} octets exceeds ${MAX_EXTENSION_FIELD_LENGTH}`,
    );
  }
  if (offset < 0 || offset + length > out.length) {
    throw new RangeError(`extension field of ${length} octets does not fit at offset ${offset}`);
  }
  out[offset] = (type >>> 8) & 0xff;
  out[offset + 1] = type & 0xff;
  out[offset + 2] = length >>> 8;
  out[offset + 3] = length & 0xff;
  out.set(value, offset + EXTENSION_FIELD_HEADER_LENGTH);
  out.fill(0, offset + EXTENSION_FIELD_HEADER_LENGTH + value.length, offset + length);
  return length;
}

/**
 * A reusable, allocation-free cursor over RFC 7822 extension fields.
 *
 * ```
 * reader.reset(bytes, 48, length, true, 32);
 * while (reader.next()) { use reader.type, reader.valueOffset, reader.valueLength }
 * if (reader.error !== null) { malformed }
 * // reader.trailingOffset .. end is the legacy MAC (if any)
 * ```
 *
 * With `legacyMacAllowed` (a whole NTPv4 packet) the RFC 7822 rules apply, as
 * chrony applies them: fields are read while more than 24 octets remain; what
 * is left must be nothing or a legacy MAC of one of its sizes (4: crypto-NAK,
 * 20: key id + MD5/AES-CMAC, 24: key id + SHA-1), and every field is at least
 * 16 octets. Together these make the last field of a MAC-less packet at least
 * 28 octets, which is what lets a MAC and a field never be confused. (ntpd-rs
 * is laxer: any 4..24-octet rest is a MAC and fields may be 4 octets; a
 * truncated field or a lone 16-octet one then passed as a "MAC" and was
 * answered.) Every NTS request of chrony, NTPsec and ntpd-rs meets these rules.
 *
 * Without `legacyMacAllowed` (the decrypted NTS plaintext, RFC 8915 §5.6)
 * fields may be as short as 4 octets and are read until `end`; nothing may be
 * left over.
 *
 * Field lengths are always multiples of 4 and inside `end`. At most
 * `maxFields` fields are read; one more is an error, so a hostile packet costs
 * bounded work.
 */
export class ExtensionFieldReader {
  private bytes: Uint8Array = new Uint8Array(0);
  private end = 0;
  private cursor = 0;
  private legacyMacAllowed = true;
  private v5 = false;
  private maxFields = 0;

  /** Type of the current field. */
  type = 0;
  /** Offset of the current field's 4-octet header. */
  fieldOffset = 0;
  /** Whole length of the current field (header + value + padding) as it sits in the packet. */
  fieldLength = 0;
  /** Offset of the current field's value (fieldOffset + 4). */
  valueOffset = 0;
  /** Octets of the value including padding (fieldLength - 4); NTPv5: without the padding. */
  valueLength = 0;
  /** Fields read so far. */
  count = 0;
  /** Set when next() returned false because the framing is broken. */
  error: PacketErrorCode | null = null;
  /** After the walk ended without error: where the legacy MAC starts (= end if none). */
  trailingOffset = 0;

  reset(
    bytes: Uint8Array,
    start: number,
    end: number,
    legacyMacAllowed: boolean,
    maxFields: number,
    v5 = false,
  ): void {
    this.bytes = bytes;
    this.end = end;
    this.cursor = start;
    this.legacyMacAllowed = legacyMacAllowed && !v5;
    this.v5 = v5;
    this.maxFields = maxFields;
    this.type = 0;
    this.fieldOffset = 0;
    this.fieldLength = 0;
    this.valueOffset = 0;
    this.valueLength = 0;
    this.count = 0;
    this.error = null;
    this.trailingOffset = start;
  }

  /** Advances to the next field. False at the end or on error (see `error`). */
  next(): boolean {
    if (this.v5) return this.nextV5();
    const bytes = this.bytes;
    const off = this.cursor;
    const remaining = this.end - off;
    const more = this.legacyMacAllowed ? remaining > MAX_LEGACY_MAC_LENGTH : remaining > 0;
    if (!more) {
      this.trailingOffset = off;
      if (remaining < 0) return this.fail("bad-extension-field");
      if (this.legacyMacAllowed && !isLegacyMacLength(remaining)) {
        // A truncated field, a too-short last field, or a MAC of no known size.
        return this.fail(remaining < 4 ? "bad-mac" : "bad-extension-field");
      }
      return false;
    }
    if (remaining < EXTENSION_FIELD_HEADER_LENGTH) return this.fail("bad-extension-field");
    if (this.count >= this.maxFields) return this.fail("too-many-extension-fields");
    const length = ((bytes[off + 2] ?? 0) << 8) | (bytes[off + 3] ?? 0);
    const minimum = this.legacyMacAllowed
      ? MIN_EXTENSION_FIELD_LENGTH
      : EXTENSION_FIELD_HEADER_LENGTH;
    if (length < minimum || (length & 3) !== 0 || length > remaining) {
      return this.fail("bad-extension-field");
    }
    this.type = ((bytes[off] ?? 0) << 8) | (bytes[off + 1] ?? 0);
    this.fieldOffset = off;
    this.fieldLength = length;
    this.valueOffset = off + EXTENSION_FIELD_HEADER_LENGTH;
    this.valueLength = length - EXTENSION_FIELD_HEADER_LENGTH;
    this.count++;
    this.cursor = off + length;
    return true;
  }

  /**
   * NTPv5 framing (draft-ietf-ntp-ntpv5, as ntpd-rs reads it): the length
   * counts header and value but not the padding, so it need not be a
   * multiple of 4; the field takes its length rounded up to 4 octets. Fields
   * are at least 4 octets and read until `end`; nothing may be left over
   * (NTPv5 has no legacy MAC). `valueLength` excludes the padding.
   */
  private nextV5(): boolean {
    const bytes = this.bytes;
    const off = this.cursor;
    const remaining = this.end - off;
    if (remaining <= 0) {
      this.trailingOffset = off;
      return remaining < 0 ? this.fail("bad-extension-field") : false;
    }
    if (remaining < EXTENSION_FIELD_HEADER_LENGTH) return this.fail("bad-extension-field");
    if (this.count >= this.maxFields) return this.fail("too-many-extension-fields");
    const length = ((bytes[off + 2] ?? 0) << 8) | (bytes[off + 3] ?? 0);
    const wire = (length + 3) & ~3;
    if (length < EXTENSION_FIELD_HEADER_LENGTH || wire > remaining) {
      return this.fail("bad-extension-field");
    }
    this.type = ((bytes[off] ?? 0) << 8) | (bytes[off + 1] ?? 0);
    this.fieldOffset = off;
    this.fieldLength = wire;
    this.valueOffset = off + EXTENSION_FIELD_HEADER_LENGTH;
    this.valueLength = length - EXTENSION_FIELD_HEADER_LENGTH;
    this.count++;
    this.cursor = off + wire;
    return true;
  }

  private fail(code: PacketErrorCode): false {
    this.error = code;
    this.cursor = this.end;
    return false;
  }
}
