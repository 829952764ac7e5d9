// Host name resolution through the system resolver (getaddrinfo, so
// /etc/hosts counts), bounded in time. IP literals never touch the resolver.

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

const DEFAULT_TIMEOUT_MS = 5_000;

/** All A/AAAA results for `host`, in resolver order, without duplicates. */
export async function resolveHost(
  host: string,
  timeoutMs = DEFAULT_TIMEOUT_MS,
): Promise<ResolvedAddress[]> {
  const literal = isIP(host);
  if (literal !== 0) return [{ address: host, family: literal === 6 ? 6 : 4 }];
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`resolving ${host} took longer than ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    const results = await Promise.race([lookup(host, { all: true, verbatim: true }), deadline]);
    const seen = new Set<string>();
    const out: ResolvedAddress[] = [];
    for (const r of results) {
      if (seen.has(r.address)) continue;
      seen.add(r.address);
      out.push({ address: r.address, family: r.family === 6 ? 6 : 4 });
    }
    return out;
  } finally {
    clearTimeout(timer);
  }
}

/** `host:port` for logs and names, with brackets around IPv6 literals. */
export function formatHostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}
