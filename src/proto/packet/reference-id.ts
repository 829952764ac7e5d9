// NTPv4 reference ids (RFC 5905 §7.3, NTP.md §3.4), as unsigned 32-bit numbers:
//   * IPv4 upstream: its four octets (192.0.2.1 → 0xc0000201);
//   * IPv6 upstream: the first four octets of MD5(16-octet address);
//   * stratum 0/1: four ASCII characters (kiss code, reference clock),
//     left-justified and zero-padded (ntpd-rs pads a configured
//     `reference-id` with spaces instead: pass padding "space").

import { createHash } from "node:crypto";
import { parseIpAddress } from "../ip-address.js";

/** ntpd-rs's reference id when it has no upstream: "XNON". */
export const REFERENCE_ID_NONE = 0x584e4f4e;

/** Reference id of an IPv4 address in dotted-quad form; null if it is none. */
export function referenceIdFromIPv4(address: string): number | null {
  const parsed = parseIpAddress(address);
  if (parsed === null || parsed.family !== 4) return null;
  return parsed.words[3] ?? null;
}

/**
 * Reference id of an IPv6 address: the first four octets of the MD5 digest of
 * its 16 octets. A zone suffix (`%eth0`) is ignored. Null if it is no IPv6
 * address. An IPv4-mapped address (`::ffff:a.b.c.d`) is hashed as IPv6 here;
 * use referenceIdFromAddress to treat it as the IPv4 address it stands for.
 */
export function referenceIdFromIPv6(address: string): number | null {
  const parsed = parseIpAddress(address, false);
  if (parsed === null || parsed.family !== 6) return null;
  const packed = new Uint8Array(16);
  for (let i = 0; i < 4; i++) {
    const w = parsed.words[i] ?? 0;
    packed[i * 4] = w >>> 24;
    packed[i * 4 + 1] = (w >>> 16) & 0xff;
    packed[i * 4 + 2] = (w >>> 8) & 0xff;
    packed[i * 4 + 3] = w & 0xff;
  }
  const digest = createHash("md5").update(packed).digest();
  return digest.readUInt32BE(0);
}

/**
 * Reference id of an upstream server address, IPv4 or IPv6 (what a secondary
 * server advertises). IPv4-mapped IPv6 addresses count as IPv4, since a
 * dual-stack socket reports IPv4 peers that way. Null if it is no address.
 */
export function referenceIdFromAddress(address: string): number | null {
  const parsed = parseIpAddress(address);
  if (parsed === null) return null;
  return parsed.family === 4 ? (parsed.words[3] ?? null) : referenceIdFromIPv6(address);
}

/**
 * Reference id from up to four ASCII characters (kiss code, reference clock
 * name, a configured `reference-id`), left-justified and padded with NUL
 * (RFC 5905, the default) or spaces (ntpd-rs `reference-id` config). Throws a
 * RangeError on more than four characters or a non-ASCII one: these come from
 * code or validated configuration, never from the network.
 */
export function referenceIdFromAscii(code: string, padding: "zero" | "space" = "zero"): number {
  if (code.length > 4) throw new RangeError(`reference id "${code}" is longer than 4 characters`);
  const pad = padding === "space" ? 0x20 : 0;
  let value = 0;
  for (let i = 0; i < 4; i++) {
    const c = i < code.length ? code.charCodeAt(i) : pad;
    if (c > 0x7f) throw new RangeError(`reference id "${code}" is not ASCII`);
    value = value * 256 + c;
  }
  return value;
}

/** The four octets of a reference id, big-endian. */
export function referenceIdBytes(referenceId: number): Uint8Array {
  const id = referenceId >>> 0;
  return Uint8Array.of(id >>> 24, (id >>> 16) & 0xff, (id >>> 8) & 0xff, id & 0xff);
}

/**
 * Reference id as ASCII (trailing NULs and spaces dropped), or null when any
 * octet is not printable ASCII or the id is all zeros.
 */
export function referenceIdToAscii(referenceId: number): string | null {
  const b = referenceIdBytes(referenceId);
  let end = 4;
  while (end > 0 && (b[end - 1] === 0 || b[end - 1] === 0x20)) end--;
  if (end === 0) return null;
  let text = "";
  for (let i = 0; i < end; i++) {
    const c = b[i] ?? 0;
    if (c < 0x20 || c > 0x7e) return null;
    text += String.fromCharCode(c);
  }
  return text;
}

/**
 * A display string: the ASCII code for a stratum 0/1 id ("DENY", "GPS"),
 * dotted quad otherwise (an IPv4 upstream, or the hash of an IPv6 one, which
 * cannot be reversed). Pass the stratum of the packet it came from.
 */
export function referenceIdToString(referenceId: number, stratum: number): string {
  if (stratum <= 1) {
    const ascii = referenceIdToAscii(referenceId);
    if (ascii !== null) return ascii;
  }
  const b = referenceIdBytes(referenceId);
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}
