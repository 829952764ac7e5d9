// CIDR allow/deny lists for the NTP server (ntpd-rs `[[server]] allowlist` /
// `denylist`, NTP.md §7). IPv4 and IPv6; an IPv4-mapped IPv6 prefix
// (`::ffff:a.b.c.d/n`, n ≥ 96) is the IPv4 prefix a.b.c.d/(n-96), and an
// IPv4-mapped client address is matched as the IPv4 address it stands for
// (ntpd-rs main canonicalises the same way). An IPv6 prefix never matches an
// IPv4 client, whatever its length: "::/0" means "every IPv6 client".
//
// Host bits below the prefix are ignored (192.0.2.1/24 = 192.0.2.0/24), as the
// ipnet crate does. Matching is a linear scan over typed arrays: fine for the
// tens of entries such lists hold. The prefixes come parsed and validated by
// the configuration (config/addresses.ts parseCidr); nothing is parsed here.

import type { Cidr } from "../config/types.js";
import { parseIpInto, type IpFamily } from "../ip-address.js";

/** The mask of word `w` (0..3) for a prefix of `bits` over 128 bits. */
function wordMask(bits: number, w: number): number {
  const inWord = bits - w * 32;
  if (inWord >= 32) return 0xffffffff;
  if (inWord <= 0) return 0;
  return (0xffffffff << (32 - inWord)) >>> 0;
}

/** An IPv4-mapped IPv6 prefix of at least 96 bits is the IPv4 prefix it covers. */
function matchFamily(c: Cidr): { family: 4 | 6; prefixLength: number } {
  const w = c.words;
  const mapped = w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
  if (c.family === 6 && mapped && c.prefixLength >= 96) {
    return { family: 4, prefixLength: c.prefixLength - 96 };
  }
  return { family: c.family, prefixLength: c.prefixLength };
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
    const prefixes = cidrs.map((c) => ({ words: c.words, ...matchFamily(c) }));
    const v4 = prefixes.filter((c) => c.family === 4);
    const v6 = prefixes.filter((c) => c.family === 6);
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
