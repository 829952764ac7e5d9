// CIDR allow/deny lists for the NTP server (ntpd-rs `[[server]] allowlist` /
// `denylist`, NTP.md §7). IPv4 and IPv6; an IPv4-mapped IPv6 prefix
// (`::ffff:a.b.c.d/n`, n ≥ 96) is the IPv4 prefix a.b.c.d/(n-96), and an
// IPv4-mapped client address is matched as the IPv4 address it stands for
// (ntpd-rs main canonicalises the same way). An IPv6 prefix never matches an
// IPv4 client, whatever its length: "::/0" means "every IPv6 client".
//
// Host bits below the prefix are ignored (192.0.2.1/24 = 192.0.2.0/24), as the
// ipnet crate does. Matching is a linear scan over typed arrays: fine for the
// tens of entries such lists hold. The CIDR syntax rules are the core's
// (parseCidrInto), the same the configuration validates with.

import { parseCidrInto, parseIpInto, type CidrSyntax, type IpFamily } from "../ip-address.js";

/** What happens to a request a list selects: dropped, or answered with a DENY kiss. */
export type FilterAction = "ignore" | "deny";

/** A parsed CIDR prefix. `prefixLength` counts bits of the family (≤ 32 or ≤ 128). */
export interface Cidr {
  family: 4 | 6;
  /** The network, host bits cleared: words[3] for IPv4, all four for IPv6. */
  words: Uint32Array;
  prefixLength: number;
}

export type CidrParseResult = { ok: true; value: Cidr } | { ok: false; error: string };

const scratch = new Uint32Array(4);

/** The mask of word `w` (0..3) for a prefix of `bits` over 128 bits. */
function wordMask(bits: number, w: number): number {
  const inWord = bits - w * 32;
  if (inWord >= 32) return 0xffffffff;
  if (inWord <= 0) return 0;
  return (0xffffffff << (32 - inWord)) >>> 0;
}

/** The message for a CIDR text parseCidrInto refused. */
function cidrError(text: string, syntax: Exclude<CidrSyntax, { ok: true }>): string {
  switch (syntax.problem) {
    case "no-slash":
      return `"${text}" is no CIDR prefix: expected address/length, e.g. 192.0.2.0/24`;
    case "zone":
      return `"${text}": a zone index is not allowed in a CIDR prefix`;
    case "address":
      return `"${syntax.addressText}" is no IPv4 or IPv6 address`;
    case "length-syntax":
      return `"${text}": prefix length "${syntax.lengthText}" is no decimal number`;
    case "length-range":
      return `"${text}": prefix length ${syntax.lengthText} exceeds ${syntax.maxLength}`;
  }
}

/**
 * Parses "address/prefix-length" (`192.0.2.0/24`, `2001:db8::/32`). The
 * error names what is wrong, for configuration messages.
 */
export function parseCidr(text: string): CidrParseResult {
  const syntax = parseCidrInto(text, scratch);
  if (!syntax.ok) return { ok: false, error: cidrError(text, syntax) };
  let prefixLength = syntax.prefixLength;
  let resultFamily = syntax.family;
  const mapped = scratch[0] === 0 && scratch[1] === 0 && scratch[2] === 0xffff;
  if (resultFamily === 6 && mapped && prefixLength >= 96) {
    resultFamily = 4;
    prefixLength -= 96;
  }
  const words = new Uint32Array(4);
  const bits = resultFamily === 4 ? 96 + prefixLength : prefixLength;
  for (let w = 0; w < 4; w++) words[w] = ((scratch[w] ?? 0) & wordMask(bits, w)) >>> 0;
  if (resultFamily === 4) {
    words[0] = 0;
    words[1] = 0;
    words[2] = 0xffff;
  }
  return { ok: true, value: { family: resultFamily, words, prefixLength } };
}

/** A set of CIDR prefixes, matched against parsed addresses without allocating. */
export class IpFilter {
  private readonly v4Networks: Uint32Array;
  private readonly v4Masks: Uint32Array;
  private readonly v6Networks: Uint32Array;
  private readonly v6Masks: Uint32Array;
  private readonly v4Count: number;
  private readonly v6Count: number;

  constructor(cidrs: readonly Cidr[]) {
    const v4 = cidrs.filter((c) => c.family === 4);
    const v6 = cidrs.filter((c) => c.family === 6);
    this.v4Count = v4.length;
    this.v6Count = v6.length;
    this.v4Networks = new Uint32Array(v4.length);
    this.v4Masks = new Uint32Array(v4.length);
    v4.forEach((c, i) => {
      this.v4Masks[i] = wordMask(c.prefixLength, 0);
      this.v4Networks[i] = ((c.words[3] ?? 0) & wordMask(c.prefixLength, 0)) >>> 0;
    });
    this.v6Networks = new Uint32Array(v6.length * 4);
    this.v6Masks = new Uint32Array(v6.length * 4);
    v6.forEach((c, i) => {
      for (let w = 0; w < 4; w++) {
        const mask = wordMask(c.prefixLength, w);
        this.v6Masks[i * 4 + w] = mask;
        this.v6Networks[i * 4 + w] = ((c.words[w] ?? 0) & mask) >>> 0;
      }
    });
  }

  /**
   * Builds a filter from CIDR strings; throws an Error listing every invalid
   * entry (configuration time, not the packet path).
   */
  static fromStrings(list: readonly string[]): IpFilter {
    const cidrs: Cidr[] = [];
    const errors: string[] = [];
    for (const text of list) {
      const r = parseCidr(text);
      if (r.ok) cidrs.push(r.value);
      else errors.push(r.error);
    }
    if (errors.length > 0) throw new Error(errors.join("; "));
    return new IpFilter(cidrs);
  }

  /** Number of prefixes. */
  get size(): number {
    return this.v4Count + this.v6Count;
  }

  /** True if an address parsed by parseIpInto (family, words) lies in any prefix. */
  matchesParsed(family: IpFamily, words: Uint32Array): boolean {
    if (family === 4) {
      const a = words[3] ?? 0;
      const nets = this.v4Networks;
      const masks = this.v4Masks;
      for (let i = 0; i < this.v4Count; i++) {
        if ((a & (masks[i] ?? 0)) >>> 0 === nets[i]) return true;
      }
      return false;
    }
    if (family === 6) {
      const w0 = words[0] ?? 0;
      const w1 = words[1] ?? 0;
      const w2 = words[2] ?? 0;
      const w3 = words[3] ?? 0;
      const nets = this.v6Networks;
      const masks = this.v6Masks;
      for (let i = 0, j = 0; i < this.v6Count; i++, j += 4) {
        if (
          (w0 & (masks[j] ?? 0)) >>> 0 === nets[j] &&
          (w1 & (masks[j + 1] ?? 0)) >>> 0 === nets[j + 1] &&
          (w2 & (masks[j + 2] ?? 0)) >>> 0 === nets[j + 2] &&
          (w3 & (masks[j + 3] ?? 0)) >>> 0 === nets[j + 3]
        ) {
          return true;
        }
      }
    }
    return false;
  }

  /** Convenience form for an address in text; false for text that is no address. */
  matches(address: string): boolean {
    const words = new Uint32Array(4);
    return this.matchesParsed(parseIpInto(address, words), words);
  }
}
