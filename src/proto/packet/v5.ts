// NTPv5 as ntpd-rs 1.9.0 speaks it: draft-ietf-ntp-ntpv5-08 (ntpd-rs.md §6.5,
// docs/ntpv5.md). The draft changes with each revision and peers only talk
// when their revisions match, so the revision is one constant (DRAFT_ID) that
// every v5 packet carries in a Draft Identification field; a packet without
// it, or with another one, is not NTPv5 we speak.
//
// Header, 48 octets (big-endian):
//   0      LI (2 bits) | VN = 5 (3 bits) | mode (3 bits: 3 request, 4 response)
//   1      stratum          2  poll (log2 s, signed)   3  precision (signed)
//   4..8   root delay       8..12 root dispersion (both "time32": 4.28 fixed point)
//   12     timescale (0 UTC, 1 TAI, 2 UT1, 3 leap-smeared UTC)
//   13     era              14..16 flags (byte 14 zero; byte 15: 0x01
//          synchronized, 0x02 interleaved, 0x04 NTS NAK; other bits reserved)
//   16..24 server cookie    24..32 client cookie (the request's, echoed)
//   32..40 receive timestamp (T2)   40..48 transmit timestamp (T3)
// T2 and T3 sit where NTPv4 has them, so the server's finish (T3 stamp, NTS
// seal) is the same for both versions.
//
// Extension fields: type (u16), length (u16) counting header and value but
// not the padding (so not always a multiple of 4), value, zeros to a multiple
// of 4 (ExtensionFieldReader's v5 framing). No legacy MAC.
//
// The upgrade from NTPv4 ("auto"): a v4 request whose reference timestamp is
// the ASCII "NTP5DRFT"; a server that speaks v5 echoes it in its v4 reply's
// reference timestamp, and the client switches to v5.

import { readU32, writeU32 } from "./header.js";
import { EXTENSION_FIELD_HEADER_LENGTH, ExtensionFieldReader } from "./extension-fields.js";
import { NTP_HEADER_LENGTH, type LeapIndicator, type PacketErrorCode } from "./types.js";

/** The draft revision ntpd-rs 1.9.0 implements (its `main` has moved on to -09). */
export const DRAFT_ID = "draft-ietf-ntp-ntpv5-08";
/** The same, as the octets of a Draft Identification field. */
export const DRAFT_ID_BYTES: Uint8Array = new TextEncoder().encode(DRAFT_ID);

/** Largest v5 packet parsed, as for v4 (parse.ts MAX_NTP_PACKET_LENGTH). */
export const MAX_V5_PACKET_LENGTH = 2048;

/** "NTP5" and "DRFT": the two words of the upgrade reference timestamp. */
export const UPGRADE_SECONDS = 0x4e545035;
export const UPGRADE_FRACTION = 0x44524654;

/** NTPv5 extension field types (ntpd-rs: experimental range 0xF5xx). */
export const V5FieldType = {
  /** Padding: a v5 reply is padded to the request's size. */
  Padding: 0xf501,
  /** Reference ID request: offset (u16), 2 zero octets, zeros to the asked length. */
  ReferenceIdRequest: 0xf503,
  /** Reference ID response: that many octets of the server's Bloom filter. */
  ReferenceIdResponse: 0xf504,
  /** Draft Identification: the ASCII draft name, no terminator. */
  DraftIdentification: 0xf5ff,
} as const;

export const V5Mode = { Request: 3, Response: 4 } as const;

export const V5Flags = { Synchronized: 0x01, Interleaved: 0x02, AuthNak: 0x04 } as const;

/** The poll value of a v5 DENY (ntpd-rs PollInterval::NEVER = i8::MAX). */
export const V5_POLL_NEVER = 127;

/** Octets of the reference-ID Bloom filter (4096 bits). */
export const BLOOM_FILTER_LENGTH = 512;

export interface V5Header {
  leap: LeapIndicator;
  mode: number;
  stratum: number;
  /** Signed log2 seconds. */
  poll: number;
  /** Signed log2 seconds. */
  precision: number;
  /** Seconds (time32: 4 integer bits, 28 fraction bits). */
  rootDelay: number;
  rootDispersion: number;
  timescale: number;
  era: number;
  /** Byte 15 of the header (V5Flags bits). */
  flags: number;
  serverCookie: Uint8Array;
  clientCookie: Uint8Array;
  receiveSeconds: number;
  receiveFraction: number;
  transmitSeconds: number;
  transmitFraction: number;
}

/** time32: unsigned 4.28 fixed point seconds; saturates at both ends. */
export function encodeTime32(seconds: number): number {
  if (!(seconds > 0)) return 0;
  if (seconds >= 16) return 0xffffffff;
  return Math.round(seconds * 2 ** 28) >>> 0;
}

export function decodeTime32(bits: number): number {
  return (bits >>> 0) / 2 ** 28;
}

function signed8(b: number): number {
  return (b << 24) >> 24;
}

/** Writes the 48-octet v5 header at out[0..48). */
export function encodeV5Header(h: V5Header, out: Uint8Array): void {
  out[0] = ((h.leap & 3) << 6) | (5 << 3) | (h.mode & 7);
  out[1] = h.stratum & 0xff;
  out[2] = h.poll & 0xff;
  out[3] = h.precision & 0xff;
  writeU32(out, 4, encodeTime32(h.rootDelay));
  writeU32(out, 8, encodeTime32(h.rootDispersion));
  out[12] = h.timescale & 0xff;
  out[13] = h.era & 0xff;
  out[14] = 0;
  out[15] = h.flags & 0xff;
  out.set(h.serverCookie.subarray(0, 8), 16);
  out.set(h.clientCookie.subarray(0, 8), 24);
  writeU32(out, 32, h.receiveSeconds);
  writeU32(out, 36, h.receiveFraction);
  writeU32(out, 40, h.transmitSeconds);
  writeU32(out, 44, h.transmitFraction);
}

/**
 * Reads the v5 header at bytes[0..48) (the caller checked the length).
 * Returns null for what ntpd-rs refuses: another version, a mode other than
 * request/response, a timescale above 3, reserved flag bits set. As ntpd-rs,
 * a packet without the synchronized flag reads as LI 3 (unsynchronized),
 * whatever its LI bits say.
 */
export function decodeV5Header(bytes: Uint8Array): V5Header | null {
  const b0 = bytes[0] ?? 0;
  if (((b0 >>> 3) & 7) !== 5) return null;
  const mode = b0 & 7;
  if (mode !== V5Mode.Request && mode !== V5Mode.Response) return null;
  const timescale = bytes[12] ?? 0;
  if (timescale > 3) return null;
  const flags = bytes[15] ?? 0;
  if ((bytes[14] ?? 0) !== 0 || (flags & 0xf8) !== 0) return null;
  let leap = (b0 >>> 6) as LeapIndicator;
  if ((flags & V5Flags.Synchronized) === 0) leap = 3;
  return {
    leap,
    mode,
    stratum: bytes[1] ?? 0,
    poll: signed8(bytes[2] ?? 0),
    precision: signed8(bytes[3] ?? 0),
    rootDelay: decodeTime32(readU32(bytes, 4)),
    rootDispersion: decodeTime32(readU32(bytes, 8)),
    timescale,
    era: bytes[13] ?? 0,
    flags,
    serverCookie: bytes.subarray(16, 24),
    clientCookie: bytes.subarray(24, 32),
    receiveSeconds: readU32(bytes, 32),
    receiveFraction: readU32(bytes, 36),
    transmitSeconds: readU32(bytes, 40),
    transmitFraction: readU32(bytes, 44),
  };
}

/** On-wire octets of a v5 field with a `valueLength`-octet value (padding included). */
export function v5FieldLength(valueLength: number): number {
  return (EXTENSION_FIELD_HEADER_LENGTH + valueLength + 3) & ~3;
}

/**
 * Writes a v5 field at out[offset..): its length field counts header and
 * value only; zeros follow to a multiple of 4. `minLength` (NTS authenticated
 * fields: 16, as ntpd-rs) raises the length field. Returns the octets written.
 */
export function writeV5Field(
  out: Uint8Array,
  offset: number,
  type: number,
  value: Uint8Array,
  minLength = 0,
): number {
  const length = Math.max(EXTENSION_FIELD_HEADER_LENGTH + value.length, minLength);
  const wire = (length + 3) & ~3;
  if (length > 0xffff || offset + wire > out.length) {
    throw new RangeError(`v5 extension field of ${length} octets does not fit at ${offset}`);
  }
  out[offset] = type >>> 8;
  out[offset + 1] = type & 0xff;
  out[offset + 2] = length >>> 8;
  out[offset + 3] = length & 0xff;
  out.set(value, offset + EXTENSION_FIELD_HEADER_LENGTH);
  out.fill(0, offset + EXTENSION_FIELD_HEADER_LENGTH + value.length, offset + wire);
  return wire;
}

/** Octets of our Draft Identification field (23-octet name: length 27, one zero). */
export const DRAFT_FIELD_LENGTH = v5FieldLength(DRAFT_ID_BYTES.length);

/** Writes the Draft Identification field; returns its octets. */
export function writeDraftField(out: Uint8Array, offset: number, minLength = 0): number {
  return writeV5Field(out, offset, V5FieldType.DraftIdentification, DRAFT_ID_BYTES, minLength);
}

/**
 * A Padding field of exactly `octets` (a multiple of 4, ≥ 4) at out[offset..),
 * its value zeros. Returns `octets`.
 */
export function writePaddingField(out: Uint8Array, offset: number, octets: number): number {
  out[offset] = V5FieldType.Padding >>> 8;
  out[offset + 1] = V5FieldType.Padding & 0xff;
  out[offset + 2] = octets >>> 8;
  out[offset + 3] = octets & 0xff;
  out.fill(0, offset + EXTENSION_FIELD_HEADER_LENGTH, offset + octets);
  return octets;
}

/**
 * A Reference ID request for `length` octets (a multiple of 4, ≥ 4) of the
 * server's Bloom filter from `filterOffset`: value = offset (u16), then zeros
 * (the request is as long as the answer, so the answer never amplifies).
 */
export function writeReferenceIdRequest(
  out: Uint8Array,
  offset: number,
  filterOffset: number,
  length: number,
): number {
  const wire = EXTENSION_FIELD_HEADER_LENGTH + length;
  out[offset] = V5FieldType.ReferenceIdRequest >>> 8;
  out[offset + 1] = V5FieldType.ReferenceIdRequest & 0xff;
  out[offset + 2] = wire >>> 8;
  out[offset + 3] = wire & 0xff;
  out.fill(0, offset + 4, offset + wire);
  out[offset + 4] = filterOffset >>> 8;
  out[offset + 5] = filterOffset & 0xff;
  return wire;
}

/** Whether value octets `bytes[offset..offset+length)` are our draft name. */
export function isOurDraft(bytes: Uint8Array, offset: number, length: number): boolean {
  if (length !== DRAFT_ID_BYTES.length) return false;
  for (let i = 0; i < length; i++) if (bytes[offset + i] !== DRAFT_ID_BYTES[i]) return false;
  return true;
}

/** One v5 extension field as parseV5Packet returns it (value without padding). */
export interface V5Field {
  type: number;
  value: Uint8Array;
  /** Offset of the field header in the packet. */
  offset: number;
  /** On-wire octets (padding included). */
  wireLength: number;
}

export interface V5Packet {
  header: V5Header;
  fields: V5Field[];
}

export type V5ParseResult =
  | { ok: true; value: V5Packet }
  | { ok: false; code: PacketErrorCode | "bad-header" | "draft-mismatch"; message: string };

const parseReader = new ExtensionFieldReader();

/**
 * Parses `bytes[0..length)` as an NTPv5 packet of our draft: a valid header,
 * fields in v5 framing (at most `maxFields`), and a Draft Identification field
 * naming DRAFT_ID among them (ntpd-rs drops any other). Never throws.
 */
export function parseV5Packet(bytes: Uint8Array, length: number, maxFields = 32): V5ParseResult {
  if (
    !(length >= NTP_HEADER_LENGTH && length <= bytes.length && length <= MAX_V5_PACKET_LENGTH) ||
    (length & 3) !== 0
  ) {
    return { ok: false, code: "bad-length", message: `v5 packet length ${length}` };
  }
  const header = decodeV5Header(bytes);
  if (header === null) return { ok: false, code: "bad-header", message: "not an NTPv5 header" };
  const fields: V5Field[] = [];
  let draft = false;
  const reader = parseReader;
  reader.reset(bytes, NTP_HEADER_LENGTH, length, false, maxFields, true);
  while (reader.next()) {
    if (
      reader.type === V5FieldType.DraftIdentification &&
      isOurDraft(bytes, reader.valueOffset, reader.valueLength)
    ) {
      draft = true;
    }
    fields.push({
      type: reader.type,
      value: bytes.subarray(reader.valueOffset, reader.valueOffset + reader.valueLength),
      offset: reader.fieldOffset,
      wireLength: reader.fieldLength,
    });
  }
  if (reader.error !== null) {
    return { ok: false, code: reader.error, message: "v5 extension fields break their framing" };
  }
  if (!draft) {
    return { ok: false, code: "draft-mismatch", message: `no ${DRAFT_ID} identification` };
  }
  return { ok: true, value: { header, fields } };
}
