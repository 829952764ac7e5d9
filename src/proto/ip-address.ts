// IP address text → 128-bit value, without allocating (the server parses the
// client address of every request); the one IP and CIDR parser of the
// protocol core, used by the server, its allow/deny lists, reference ids and
// the configuration. IPv4 addresses are held in their IPv4-mapped IPv6
// position (::ffff:a.b.c.d, words[3] = the IPv4 address) and tagged family 4,
// so one prefix match serves both families while an IPv6 prefix never matches
// an IPv4 client by accident. An IPv4-mapped IPv6 address (what a dual-stack
// socket reports for an IPv4 peer) is canonicalised to family 4 unless asked
// not to.
//
// Syntax is Rust's strict std parser (what ntpd-rs reads ntp.toml with):
// dotted quads without leading zeros, RFC 4291 IPv6 text with an optional
// trailing dotted quad, hex groups of one to four digits. A zone suffix
// (`fe80::1%eth0`) is accepted and ignored unless the caller refuses zones.

/** Address family: 4, 6, or 0 for "not an address". */
export type IpFamily = 0 | 4 | 6;

/** A parsed address: family and the 128-bit value as four big-endian u32 words. */
export interface IpAddress {
  family: 4 | 6;
  words: Uint32Array;
}

const groups = new Uint16Array(8);

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Strict dotted quad in text[start..end): four decimal parts 0..255, no
 * leading zeros (which some parsers read as octal). Returns the u32 or -1.
 */
function parseIPv4(text: string, start: number, end: number): number {
  let value = 0;
  let parts = 0;
  let i = start;
  while (parts < 4) {
    let part = 0;
    let digits = 0;
    const partStart = i;
    while (i < end) {
      const d = text.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      part = part * 10 + d;
      digits++;
      i++;
      if (digits > 3) return -1;
    }
    if (digits === 0 || part > 255) return -1;
    if (digits > 1 && text.charCodeAt(partStart) === 0x30) return -1;
    value = value * 256 + part;
    parts++;
    if (parts < 4) {
      if (i >= end || text.charCodeAt(i) !== 0x2e) return -1;
      i++;
    }
  }
  return i === end ? value : -1;
}

/** RFC 4291 text form in text[0..end) into `groups`; false if malformed. */
function parseIPv6(text: string, end: number): boolean {
  let count = 0;
  let gap = -1; // index in groups where "::" stands
  let i = 0;
  if (end >= 2 && text.charCodeAt(0) === 0x3a) {
    if (text.charCodeAt(1) !== 0x3a) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (count >= 8) return false;
    let value = 0;
    let j = i;
    while (j < end && j - i < 4) {
      const h = hexValue(text.charCodeAt(j));
      if (h < 0) break;
      value = value * 16 + h;
      j++;
    }
    if (j < end && text.charCodeAt(j) === 0x2e) {
      // Embedded IPv4 in the last 32 bits.
      if (count > 6) return false;
      const v4 = parseIPv4(text, i, end);
      if (v4 < 0) return false;
      groups[count++] = v4 >>> 16;
      groups[count++] = v4 & 0xffff;
      break; // the IPv4 part runs to the end
    }
    if (j === i) return false;
    groups[count++] = value;
    i = j;
    if (i === end) break;
    if (text.charCodeAt(i) !== 0x3a) return false;
    i++;
    if (i < end && text.charCodeAt(i) === 0x3a) {
      if (gap >= 0) return false;
      gap = count;
      i++;
    } else if (i === end) {
      return false; // a single trailing colon
    }
  }
  if (gap < 0) return count === 8;
  if (count > 7) return false;
  // Move the groups after the gap to the end, zero the gap.
  const tail = count - gap;
  for (let k = 0; k < tail; k++) groups[7 - k] = groups[count - 1 - k] ?? 0;
  for (let k = gap; k < 8 - tail; k++) groups[k] = 0;
  return true;
}

/**
 * Parses an IPv4 or IPv6 address in text form into `out` (four u32 words) and
 * returns its family, or 0 if the text is no address (then `out` is garbage).
 * A zone suffix on an IPv6 address (`fe80::1%eth0`) is ignored, or makes the
 * text no address if `allowZone` is false. Allocates nothing.
 */
export function parseIpInto(
  text: string,
  out: Uint32Array,
  canonicalizeMapped = true,
  allowZone = true,
): IpFamily {
  let end = text.length;
  if (end === 0 || end > 64) return 0;
  let hasColon = false;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) hasColon = true;
    else if (c === 0x25) {
      if (!allowZone) return 0;
      end = i;
      break;
    }
  }
  if (!hasColon) {
    if (end !== text.length) return 0; // a zone on an IPv4 address
    const v4 = parseIPv4(text, 0, end);
    if (v4 < 0) return 0;
    out[0] = 0;
    out[1] = 0;
    out[2] = 0xffff;
    out[3] = v4;
    return 4;
  }
  if (end === text.length - 1) return 0; // empty zone
  if (!parseIPv6(text, end)) return 0;
  for (let w = 0; w < 4; w++) {
    out[w] = (((groups[w * 2] ?? 0) << 16) | (groups[w * 2 + 1] ?? 0)) >>> 0;
  }
  if (canonicalizeMapped && out[0] === 0 && out[1] === 0 && out[2] === 0xffff) return 4;
  return 6;
}

/** Allocating convenience form of parseIpInto, for configuration and tests. */
export function parseIpAddress(
  text: string,
  canonicalizeMapped = true,
  allowZone = true,
): IpAddress | null {
  const words = new Uint32Array(4);
  const family = parseIpInto(text, words, canonicalizeMapped, allowZone);
  return family === 0 ? null : { family, words };
}

function dottedQuad(v: number): string {
  return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
}

/**
 * Canonical text form: dotted quad for family 4; for family 6 the RFC 5952
 * compressed form, with an IPv4-mapped address (::ffff:0:0/96) in the mixed
 * notation of RFC 5952 §5 (`::ffff:192.0.2.1`). Other embedded-IPv4 forms
 * (IPv4-compatible, NAT64 64:ff9b::/96) are printed in hex.
 */
export function formatIpAddress(address: IpAddress): string {
  const w = address.words;
  if (address.family === 4) return dottedQuad(w[3] ?? 0);
  if (w[0] === 0 && w[1] === 0 && w[2] === 0xffff) return `::ffff:${dottedQuad(w[3] ?? 0)}`;
  const g: number[] = [];
  for (let i = 0; i < 4; i++) g.push((w[i] ?? 0) >>> 16, (w[i] ?? 0) & 0xffff);
  // Longest run of at least two zero groups, first one on ties.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(":");
  if (bestStart < 0) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** What is wrong with a CIDR text; parseCidrInto checks in this order. */
export type CidrProblem = "no-slash" | "zone" | "address" | "length-syntax" | "length-range";

/** Outcome of parseCidrInto; the failures carry what their messages need. */
export type CidrSyntax =
  | { ok: true; family: 4 | 6; prefixLength: number; addressText: string }
  | { ok: false; problem: "no-slash" }
  | { ok: false; problem: "zone" | "address"; addressText: string }
  | {
      ok: false;
      problem: "length-syntax" | "length-range";
      family: 4 | 6;
      addressText: string;
      lengthText: string;
      maxLength: 32 | 128;
    };

// As Rust's u8 parse in ntpd-rs: decimal digits, an optional "+", leading zeros allowed.
const PREFIX_LENGTH = /^\+?[0-9]{1,8}$/;

/**
 * The CIDR rules of the core, shared by the configuration (config/addresses.ts)
 * and the server's allow/deny lists (server/ip-filter.ts), so they cannot drift
 * apart: "address/length", split at the first "/"; the address an IPv4 or
 * IPv6 literal without a zone index; the length a decimal number, at most 32
 * for IPv4 and 128 for IPv6. An IPv4-mapped IPv6
 * address counts as IPv6 here (family 6, up to 128 bits). Host bits below the
 * prefix are allowed. The address goes into `out` as parseIpInto leaves it
 * (not canonicalised, host bits kept); `out` is garbage on failure. The length
 * takes what ntpd-rs's `u8` parse takes ("+8", "024"), so its files keep working.
 */
export function parseCidrInto(text: string, out: Uint32Array): CidrSyntax {
  const slash = text.indexOf("/");
  if (slash < 0) return { ok: false, problem: "no-slash" };
  const addressText = text.slice(0, slash);
  const lengthText = text.slice(slash + 1);
  if (addressText.includes("%")) return { ok: false, problem: "zone", addressText };
  const family = parseIpInto(addressText, out, false, false);
  if (family === 0) return { ok: false, problem: "address", addressText };
  const maxLength = family === 4 ? 32 : 128;
  if (!PREFIX_LENGTH.test(lengthText)) {
    return { ok: false, problem: "length-syntax", family, addressText, lengthText, maxLength };
  }
  const prefixLength = Number(lengthText);
  if (prefixLength > maxLength) {
    return { ok: false, problem: "length-range", family, addressText, lengthText, maxLength };
  }
  return { ok: true, family, prefixLength, addressText };
}
