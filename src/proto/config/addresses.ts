// Address syntax of ntp.toml, parsed without node:net: IPv4/IPv6 literals, socket addresses,
// source addresses (ntpd-rs NormalizedAddress) and CIDR subnets. The literals and CIDR rules
// are the core's one parser (../ip-address.ts: Rust's strict std syntax, no leading zeros in
// IPv4 addresses); here zone ids are refused and IPv4-mapped IPv6 stays IPv6. Addresses come out in
// canonical text (RFC 5952, `::ffff:a.b.c.d` for IPv4-mapped).
import { formatIpAddress, parseCidrInto, parseIpInto } from "../ip-address.js";
import type { Cidr, SocketAddress, SourceAddress } from "./types.js";

export type Parsed<T> = { ok: true; value: T } | { ok: false; reason: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

const ZONE_IDS = "IPv6 zone ids (%) are not supported";
const scratch = new Uint32Array(4);

/** Canonical text of an IP literal (no zone id) of the given family, or undefined. */
function literal(s: string, family: 4 | 6): string | undefined {
  const parsed = parseIpInto(s, scratch, false, false);
  return parsed === family ? formatIpAddress({ family, words: scratch }) : undefined;
}

/** Canonical text and family of an IP literal. */
export function parseIpAddress(s: string): Parsed<{ address: string; family: 4 | 6 }> {
  const family = parseIpInto(s, scratch, false, false);
  if (family !== 0) return ok({ address: formatIpAddress({ family, words: scratch }), family });
  if (s.includes("%")) return fail(ZONE_IDS);
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
    const v6 = literal(host, 6);
    if (v6 === undefined) return fail(`"${host}" is not an IPv6 address`);
    const port = parsePort(portText);
    if (port === undefined) return fail(`"${portText}" is not a port number (0 to 65535)`);
    return ok({ address: v6, port, family: 6 });
  }
  const colon = s.lastIndexOf(":");
  if (colon < 0) return fail("missing port");
  host = s.slice(0, colon);
  portText = s.slice(colon + 1);
  if (host.includes(":")) return fail("IPv6 addresses need brackets: [address]:port");
  const v4 = literal(host, 4);
  if (v4 === undefined) return fail(`"${host}" is not an IP address`);
  const port = parsePort(portText);
  if (port === undefined) return fail(`"${portText}" is not a port number (0 to 65535)`);
  return ok({ address: v4, port, family: 4 });
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
      const v6 = literal(s.slice(1, close), 6);
      if (v6 === undefined) return fail(`"${s.slice(1, close)}" is not an IPv6 address`);
      const rest = s.slice(close + 1);
      if (rest === "") return ok({ host: v6, port: defaultPort });
      const port = rest.startsWith(":") ? parsePort(rest.slice(1)) : undefined;
      if (port === undefined) return fail(`"${rest.slice(1)}" is not a port number (0 to 65535)`);
      return ok({ host: v6, port });
    }
    const v6 = literal(s, 6);
    if (v6 === undefined) return fail("not a valid IPv6 address (write [address]:port)");
    return ok({ host: v6, port: defaultPort });
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

/**
 * `addr/len` with len at most 32 (IPv4) or 128 (IPv6): the core's CIDR rules (parseCidrInto),
 * which the server's allow/deny lists apply too. Host bits are kept, as ntpd-rs keeps them.
 */
export function parseCidr(s: string): Parsed<Cidr> {
  const c = parseCidrInto(s, scratch);
  if (c.ok) {
    const address = formatIpAddress({ family: c.family, words: scratch });
    const words = Uint32Array.from(scratch);
    return ok({ address, family: c.family, prefixLength: c.prefixLength, words });
  }
  switch (c.problem) {
    case "no-slash":
      return fail("missing /prefix-length");
    case "zone":
      return fail(`"${c.addressText}": ${ZONE_IDS}`);
    case "address":
      return fail(`"${c.addressText}": not an IPv4 or IPv6 address`);
    case "length-syntax":
      return fail(
        `prefix length "${c.lengthText}" is not a number from 0 to ${c.maxLength} (decimal digits)`,
      );
    case "length-range":
      return fail(`prefix length "${c.lengthText}" is not a number from 0 to ${c.maxLength}`);
  }
}

/** `host:port`, with brackets around an IPv6 host, as ntpd-rs displays a source address. */
export function formatSourceAddress(a: SourceAddress): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function formatSocketAddress(a: SocketAddress): string {
  return a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
