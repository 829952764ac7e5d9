// Whole-packet parse and serialize: header, RFC 7822 extension fields, legacy MAC.
//
// parsePacket walks the fields as ntpd-rs does (NTP.md §8.2): after the
// 48-octet header, extension fields are read while more than 24 octets remain;
// what is left is a legacy MAC, tolerated and never verified. Unlike ntpd-rs it
// holds packets to RFC 7822 as chrony does (ExtensionFieldReader): fields of at
// least 16 octets, and a rest of 0, 4, 20 or 24 octets, so a truncated field or
// a too-short last field is malformed rather than a "MAC". NTPv3 packets carry
// no extension fields (ntpd-rs): every trailing octet of a v3 packet is a MAC.
//
// Bounds, so a hostile packet costs bounded work and memory:
//   * MAX_NTP_PACKET_LENGTH = 2048 octets. A plain request is 48; the largest
//     NTS packets seen in practice stay under 1024, but an NTS exchange that
//     refills 8 cookies of an AES-SIV-CMAC-512 key (168-octet cookies, RFC 8915
//     placeholders make the request as large) reaches about 1.5 KiB. Anything
//     larger is rejected before a byte of it is read.
//   * MAX_EXTENSION_FIELDS = 32 fields (an NTS request with a full set of
//     placeholders has about 10). With the length cap this bounds the objects
//     allocated per parse.
// Never throws: every input gives either a packet or a typed PacketError.
// Field values are views into the input buffer (no copy): copy them if the
// buffer is reused.

import { ExtensionFieldReader, encodeExtensionField } from "./extension-fields.js";
import { decodeHeader, encodeHeader, readU32, writeU32 } from "./header.js";
import {
  NTP_HEADER_LENGTH,
  type ExtensionField,
  type LegacyMac,
  type NtpPacket,
  type PacketErrorCode,
  type ParseResult,
} from "./types.js";

/** Largest packet parsePacket accepts, in octets. */
export const MAX_NTP_PACKET_LENGTH = 2048;
/** Most extension fields parsePacket accepts in one packet. */
export const MAX_EXTENSION_FIELDS = 32;
/** Longest legacy MAC tolerated: key id (4) + 20-octet digest. */
const MAX_MAC_LENGTH = 24;

const reader = new ExtensionFieldReader();

function fail(code: PacketErrorCode, message: string): ParseResult<NtpPacket> {
  return { ok: false, error: { code, message } };
}

/**
 * Checks the length rules shared by parsePacket and the server's allocation-free
 * path: returns null when `length` is acceptable for a buffer of `available`.
 */
export function checkPacketLength(length: number, available: number): PacketErrorCode | null {
  if (!Number.isInteger(length) || length < 0 || length > available) return "bad-length";
  if (length < NTP_HEADER_LENGTH) return "too-short";
  if (length > MAX_NTP_PACKET_LENGTH || (length & 3) !== 0) return "bad-length";
  return null;
}

/**
 * Parses `bytes[0..length)` (default: the whole buffer) as an NTPv3/v4 packet.
 * Version and mode are not judged here; callers do that.
 */
export function parsePacket(
  bytes: Uint8Array,
  length: number = bytes.length,
): ParseResult<NtpPacket> {
  const lengthError = checkPacketLength(length, bytes.length);
  if (lengthError !== null) {
    return fail(
      lengthError,
      lengthError === "too-short"
        ? `packet of ${length} octets is shorter than the ${NTP_HEADER_LENGTH}-octet header`
        : `packet length ${length} is not a multiple of 4 in 48..${MAX_NTP_PACKET_LENGTH} within a ${bytes.length}-octet buffer`,
    );
  }
  const header = decodeHeader(bytes, 0);
  const extensionFields: ExtensionField[] = [];
  let macStart: number;
  if (header.version === 3) {
    macStart = NTP_HEADER_LENGTH;
  } else {
    reader.reset(bytes, NTP_HEADER_LENGTH, length, true, MAX_EXTENSION_FIELDS);
    while (reader.next()) {
      extensionFields.push({
        type: reader.type,
        value: bytes.subarray(reader.valueOffset, reader.valueOffset + reader.valueLength),
        offset: reader.fieldOffset,
      });
    }
    const error = reader.error;
    if (error !== null) {
      return fail(
        error,
        error === "too-many-extension-fields"
          ? `more than ${MAX_EXTENSION_FIELDS} extension fields`
          : error === "bad-mac"
            ? `${length - reader.trailingOffset} trailing octets are no legacy MAC`
            : `extension field ${reader.count + 1} breaks RFC 7822 framing`,
      );
    }
    macStart = reader.trailingOffset;
  }
  const macLength = length - macStart;
  let mac: LegacyMac | null = null;
  if (macLength > 0) {
    if (macLength < 4 || macLength > MAX_MAC_LENGTH) {
      return fail("bad-mac", `${macLength} trailing octets are no legacy MAC (4..24)`);
    }
    mac = { keyId: readU32(bytes, macStart), digest: bytes.subarray(macStart + 4, length) };
  }
  return { ok: true, value: { header, extensionFields, mac } };
}

/** Octets serializePacket writes for `packet`. */
export function serializedLength(packet: NtpPacket): number {
  let n = NTP_HEADER_LENGTH;
  for (const field of packet.extensionFields) n += (4 + field.value.length + 3) & ~3;
  if (packet.mac !== null) n += 4 + packet.mac.digest.length;
  return n;
}

/**
 * Writes `packet` to `out` from offset 0 and returns the octets written:
 * header, each extension field (its value as given, zero-padded to a multiple
 * of 4; no minimum is added, so parse∘serialize is the identity), then the MAC.
 * Throws a RangeError if `out` is too small (a caller bug).
 */
export function serializePacket(packet: NtpPacket, out: Uint8Array): number {
  const total = serializedLength(packet);
  if (total > out.length) {
    throw new RangeError(`serializePacket: need ${total} octets, buffer has ${out.length}`);
  }
  encodeHeader(packet.header, out, 0);
  let off = NTP_HEADER_LENGTH;
  for (const field of packet.extensionFields) {
    off += encodeExtensionField(field.type, field.value, 0, out, off);
  }
  if (packet.mac !== null) {
    writeU32(out, off, packet.mac.keyId >>> 0);
    out.set(packet.mac.digest, off + 4);
    off += 4 + packet.mac.digest.length;
  }
  return off;
}
