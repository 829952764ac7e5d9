// The servers a library user names, as the daemon's configuration: each one a
// `[[source]]` table checked by the daemon's own schema (src/proto/config), so
// an address or option the daemon would refuse is refused here with the same
// words, and every default is the daemon's.

import { stringify } from "smol-toml";
import { parseConfig } from "../proto/config/index.js";
import type { Config } from "../proto/config/types.js";

/** One server: its address, and how to talk to it. */
export interface ServerSpec {
  /**
   * `host`, `host:port`, `[IPv6]:port`. For NTS the key exchange server (port
   * 4460 unless given), whose certificate must name `host`; for plain NTP the
   * NTP server (port 123 unless given).
   */
  address: string;
  /** NTS (authenticated; the default) or plain NTP. */
  nts?: boolean;
  /** NTS: a PEM file of extra trust anchors (CAs) besides the system's. */
  certificateAuthority?: string;
}

/** A server given by its address alone is asked over NTS. */
export type ServerInput = string | ServerSpec;

export interface ConfigExtras {
  /** Sources that must agree before the estimate is trusted (the daemon's default is 3). */
  minimumAgreeingSources?: number;
  /** Poll interval limits, log2 seconds (the daemon's default 4 to 10: 16 s to 17 min). */
  pollIntervalLimits?: { min: number; max: number };
}

export function normalizeServers(servers: ServerInput | readonly ServerInput[]): ServerSpec[] {
  const list = typeof servers === "string" || !Array.isArray(servers) ? [servers] : servers;
  if (list.length === 0) throw new TypeError("no servers given");
  return list.map((s: ServerInput) => (typeof s === "string" ? { address: s } : s));
}

function sourceTable(spec: ServerSpec, extras: ConfigExtras): Record<string, unknown> {
  if (typeof spec.address !== "string") throw new TypeError("a server needs an address string");
  const table: Record<string, unknown> = {
    mode: spec.nts === false ? "server" : "nts",
    address: spec.address,
  };
  if (spec.certificateAuthority !== undefined) {
    if (spec.nts === false) {
      throw new TypeError(`${spec.address}: certificateAuthority is for NTS servers only`);
    }
    table["certificate-authority"] = spec.certificateAuthority;
  }
  if (extras.pollIntervalLimits) table["poll-interval-limits"] = extras.pollIntervalLimits;
  return table;
}

/**
 * The daemon's configuration for these servers: no server role, the clock
 * never touched (the library only measures), and no panic thresholds (the
 * library's own clock may step by any amount: nothing real moves).
 */
export function configFor(specs: readonly ServerSpec[], extras: ConfigExtras = {}): Config {
  const document = {
    source: specs.map((spec) => sourceTable(spec, extras)),
    synchronization: {
      "minimum-agreeing-sources": extras.minimumAgreeingSources ?? 1,
      "single-step-panic-threshold": "inf",
      "startup-step-panic-threshold": "inf",
    },
  };
  const result = parseConfig(stringify(document), "ntpd-ts options");
  if (!result.ok) throw new TypeError(result.errors.map((e) => e.message).join("; "));
  return result.config;
}
