// IP address text → 128-bit value, without allocating (the server parses the
// client address of every request). IPv4 addresses are held in their
// IPv4-mapped IPv6 position (::ffff:a.b.c.d, words[3] = the IPv4 address) and
// tagged family 4, so one prefix match serves both families while an IPv6
// prefix never matches an IPv4 client by accident. An IPv4-mapped IPv6
// address (what a dual-stack socket reports for an IPv4 peer) is canonicalised
// to family 4 unless asked not to.

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
 * A zone suffix (`fe80::1%eth0`) is ignored. Allocates nothing.
 */
export function parseIpInto(text: string, out: Uint32Array, canonicalizeMapped = true): IpFamily {
  let end = text.length;
  if (end === 0 || end > 64) return 0;
  let hasColon = false;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x3a) hasColon = true;
    else if (c === 0x25) {
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
export function parseIpAddress(text: string, canonicalizeMapped = true): IpAddress | null {
  const words = new Uint32Array(4);
  const family = parseIpInto(text, words, canonicalizeMapped);
  return family === 0 ? null : { family, words };
}

/** Text form: dotted quad for family 4, RFC 5952 compressed form for family 6. */
export function formatIpAddress(address: IpAddress): string {
  const w = address.words;
  if (address.family === 4) {
    const v = w[3] ?? 0;
    return `${v >>> 24}.${(v >>> 16) & 0xff}.${(v >>> 8) & 0xff}.${v & 0xff}`;
  }
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
