// Address syntax of ntp.toml, parsed without node:net: IPv4/IPv6 literals (Rust's strict
// std parser: no leading zeros in IPv4, no zone ids), socket addresses, source addresses
// (ntpd-rs NormalizedAddress) and CIDR subnets. IPv6 text is canonicalised (RFC 5952).
import type { Cidr, SocketAddress, SourceAddress } from "./types.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

export function parseIPv4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith("0"))) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** The eight 16-bit groups of an IPv6 literal (no brackets, no zone id). */
export function parseIPv6(s: string): number[] | undefined {
  if (s.length < 2 || s.length > 45) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (part: string, allowV4Tail: boolean): number[] | undefined => {
    if (part === "") return [];
    const items = part.split(":");
    const groups: number[] = [];
    for (let k = 0; k < items.length; k++) {
      const item = items[k]!;
      if (allowV4Tail && k === items.length - 1 && item.includes(".")) {
        const v4 = parseIPv4(item);
        if (v4 === undefined) return undefined;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(item)) {
        groups.push(parseInt(item, 16));
      } else return undefined;
    }
    return groups;
  };
  if (halves.length === 1) {
    const groups = parseGroups(s, true);
    return groups !== undefined && groups.length === 8 ? groups : undefined;
  }
  const head = parseGroups(halves[0]!, false);
  const tail = parseGroups(halves[1]!, true);
  if (head === undefined || tail === undefined || head.length + tail.length > 7) return undefined;
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

export function formatIPv6(groups: readonly number[]): string {
  const isMapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (isMapped) {
    const [a, b] = [groups[6]!, groups[7]!];
    return `::ffff:${a >> 8}.${a & 0xff}.${b >> 8}.${b & 0xff}`;
  }
  // Longest run of two or more zero groups (the first one on a tie) becomes "::".
  let bestStart = -1;
  let bestLen = 1;
  for (let k = 0; k < 8;) {
    if (groups[k] !== 0) {
      k++;
      continue;
    }
    let end = k;
    while (end < 8 && groups[end] === 0) end++;
    if (end - k > bestLen) {
      bestStart = k;
      bestLen = end - k;
    }
    k = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** Canonical text and family of an IP literal. */
export function parseIpAddress(s: string): Parsed<{ address: string; family: 4 | 6 }> {
  const v4 = parseIPv4(s);
  if (v4 !== undefined) return ok({ address: v4.join("."), family: 4 });
  const v6 = parseIPv6(s);
  if (v6 !== undefined) return ok({ address: formatIPv6(v6), family: 6 });
  if (s.includes("%")) return fail("IPv6 zone ids (%) are not supported");
  return fail("not an IPv4 or IPv6 address");
}

export function parsePort(s: string): number | undefined {
  if (!/^\d{1,5}$/.test(s)) return undefined;
  const n = Number(s);
  return n <= 65535 ? n : undefined;
}

/** `1.2.3.4:123` or `[2001:db8::1]:123`; the port is required. */
export function parseSocketAddress(s: string): Parsed<SocketAddress> {
  let host: string;
  let portText: string;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) return fail('missing "]" after the IPv6 address');
    host = s.slice(1, close);
    if (s[close + 1] !== ":") return fail("missing port");
    portText = s.slice(close + 2);
    const v6 = parseIPv6(host);
    if (v6 === undefined) return fail(`"${host}" is not an IPv6 address`);
    const port = parsePort(portText);
    if (port === undefined) return fail(`"${portText}" is not a port number (0 to 65535)`);
    return ok({ address: formatIPv6(v6), port, family: 6 });
  }
  const colon = s.lastIndexOf(":");
  if (colon < 0) return fail("missing port");
  host = s.slice(0, colon);
  portText = s.slice(colon + 1);
  if (host.includes(":")) return fail("IPv6 addresses need brackets: [address]:port");
  const v4 = parseIPv4(host);
  if (v4 === undefined) return fail(`"${host}" is not an IP address`);
  const port = parsePort(portText);
  if (port === undefined) return fail(`"${portText}" is not a port number (0 to 65535)`);
  return ok({ address: v4.join("."), port, family: 4 });
}

const HOST_NAME = /^[^\s[\]/\\@]+$/;

/**
 * ntpd-rs NormalizedAddress: `host`, `host:port`, a bare IPv6 literal (`::1`) or
 * `[v6]:port`. Host names are not resolved or checked beyond their characters.
 * Also accepts `[v6]` without a port, which ntpd-rs refuses.
 */
export function parseSourceAddress(s: string, defaultPort: number): Parsed<SourceAddress> {
  const colons = s.split(":").length - 1;
  if (colons > 1) {
    if (s.startsWith("[")) {
      const close = s.indexOf("]");
      if (close < 0) return fail('missing "]" after the IPv6 address');
      const v6 = parseIPv6(s.slice(1, close));
      if (v6 === undefined) return fail(`"${s.slice(1, close)}" is not an IPv6 address`);
      const rest = s.slice(close + 1);
      if (rest === "") return ok({ host: formatIPv6(v6), port: defaultPort });
      const port = rest.startsWith(":") ? parsePort(rest.slice(1)) : undefined;
      if (port === undefined) return fail(`"${rest.slice(1)}" is not a port number (0 to 65535)`);
      return ok({ host: formatIPv6(v6), port });
    }
    const v6 = parseIPv6(s);
    if (v6 === undefined) return fail("not a valid IPv6 address (write [address]:port)");
    return ok({ host: formatIPv6(v6), port: defaultPort });
  }
  let host = s;
  let port = defaultPort;
  if (colons === 1) {
    const colon = s.indexOf(":");
    host = s.slice(0, colon);
    const p = parsePort(s.slice(colon + 1));
    if (p === undefined) return fail(`"${s.slice(colon + 1)}" is not a port number (0 to 65535)`);
    port = p;
  }
  if (host === "") return fail("the host name is empty");
  if (!HOST_NAME.test(host)) return fail(`"${host}" is not a host name or IP address`);
  return ok({ host, port });
}

/** `addr/len` with len at most 32 (IPv4) or 128 (IPv6). */
export function parseCidr(s: string): Parsed<Cidr> {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return fail("missing /prefix-length");
  const ip = parseIpAddress(s.slice(0, slash));
  if (!ip.ok) return fail(`"${s.slice(0, slash)}": ${ip.reason}`);
  const lenText = s.slice(slash + 1);
  const max = ip.value.family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
    return fail(`prefix length "${lenText}" is not a number from 0 to ${max}`);
  }
  return ok({ ...ip.value, prefixLength: Number(lenText) });
}

/** `host:port`, with brackets around an IPv6 host, as ntpd-rs displays a source address. */
export function formatSourceAddress(a: SourceAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function formatSocketAddress(a: SocketAddress): string {
  return a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
