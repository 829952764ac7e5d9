// The 48-octet NTPv3/NTPv4 header (RFC 5905 §7.3, NTP.md §3): encode and decode.
// Big-endian throughout. Root delay/dispersion are the 16.16 short format,
// poll and precision signed log2 seconds, the four timestamps timestamp64.

import { decodeShortFormat, encodeShortFormat, NtpTimestamp } from "../time.js";
import { NTP_HEADER_LENGTH, type LeapIndicator, type NtpHeader } from "./types.js";

/** Reads a big-endian u32 at `o`. The caller guarantees 4 bytes are there. */
export function readU32(bytes: Uint8Array, o: number): number {
  return (
    ((bytes[o] ?? 0) * 0x1000000 +
      (((bytes[o + 1] ?? 0) << 16) | ((bytes[o + 2] ?? 0) << 8) | (bytes[o + 3] ?? 0))) >>>
    0
  );
}

/** Writes `value` as a big-endian u32 at `o`. */
export function writeU32(out: Uint8Array, o: number, value: number): void {
  out[o] = value >>> 24;
  out[o + 1] = (value >>> 16) & 0xff;
  out[o + 2] = (value >>> 8) & 0xff;
  out[o + 3] = value & 0xff;
}

/** Reads a timestamp64 at `o`. */
export function readTimestamp(bytes: Uint8Array, o: number): NtpTimestamp {
  return new NtpTimestamp(readU32(bytes, o), readU32(bytes, o + 4));
}

/** Writes a timestamp64 at `o`. */
export function writeTimestamp(out: Uint8Array, o: number, ts: NtpTimestamp): void {
  writeU32(out, o, ts.seconds >>> 0);
  writeU32(out, o + 4, ts.fraction >>> 0);
}

function signed8(b: number): number {
  return (b << 24) >> 24;
}

/**
 * Writes the 48-octet header at `out[offset..offset+48)`. Out-of-range field
 * values are masked to their wire width (leap 2 bits, version and mode 3 bits,
 * stratum/poll/precision 8 bits); root delay/dispersion saturate (short format).
 * Throws a RangeError if `out` has fewer than 48 bytes from `offset`: that is a
 * caller bug, not a property of received data.
 */
export function encodeHeader(header: NtpHeader, out: Uint8Array, offset = 0): void {
  if (offset < 0 || out.length - offset < NTP_HEADER_LENGTH) {
    throw new RangeError(`encodeHeader: need ${NTP_HEADER_LENGTH} bytes at offset ${offset}`);
  }
  out[offset] = ((header.leap & 3) << 6) | ((header.version & 7) << 3) | (header.mode & 7);
  out[offset + 1] = header.stratum & 0xff;
  out[offset + 2] = header.poll & 0xff;
  out[offset + 3] = header.precision & 0xff;
  writeU32(out, offset + 4, encodeShortFormat(header.rootDelay));
  writeU32(out, offset + 8, encodeShortFormat(header.rootDispersion));
  writeU32(out, offset + 12, header.referenceId >>> 0);
  writeTimestamp(out, offset + 16, header.referenceTimestamp);
  writeTimestamp(out, offset + 24, header.originTimestamp);
  writeTimestamp(out, offset + 32, header.receiveTimestamp);
  writeTimestamp(out, offset + 40, header.transmitTimestamp);
}

/**
 * Decodes the 48-octet header at `bytes[offset..offset+48)`. The caller
 * guarantees the 48 bytes are there (parsePacket checks it); the decoder judges
 * no field (version, mode, stratum are returned as on the wire).
 */
export function decodeHeader(bytes: Uint8Array, offset = 0): NtpHeader {
  const b0 = bytes[offset] ?? 0;
  return {
    leap: (b0 >>> 6) as LeapIndicator,
    version: (b0 >>> 3) & 7,
    mode: b0 & 7,
    stratum: bytes[offset + 1] ?? 0,
    poll: signed8(bytes[offset + 2] ?? 0),
    precision: signed8(bytes[offset + 3] ?? 0),
    rootDelay: decodeShortFormat(readU32(bytes, offset + 4)),
    rootDispersion: decodeShortFormat(readU32(bytes, offset + 8)),
    referenceId: readU32(bytes, offset + 12),
    referenceTimestamp: readTimestamp(bytes, offset + 16),
    originTimestamp: readTimestamp(bytes, offset + 24),
    receiveTimestamp: readTimestamp(bytes, offset + 32),
    transmitTimestamp: readTimestamp(bytes, offset + 40),
  };
}
