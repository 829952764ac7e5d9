// The server's access and protocol policy: the ntpd-rs `[[server]]` options
// other than `listen` (reference §2.3), in the shape the server core takes.
// The daemon maps its configuration to this; nothing here reads config files.

import type { FilterAction } from "./ip-filter.js";

export interface IpFilterPolicy {
  /** CIDR prefixes, e.g. ["192.0.2.0/24", "2001:db8::/32"]. */
  filter: readonly string[];
  action: FilterAction;
}

export interface ServerPolicy {
  /** Clients outside every prefix get `action`. Default: everyone, "ignore". */
  allowlist: IpFilterPolicy;
  /** Clients inside any prefix get `action`; checked first. Default: nobody, "deny". */
  denylist: IpFilterPolicy;
  /** Slots of the per-client table; 0 disables rate limiting (default). */
  rateLimitingCacheSize: number;
  /** Minimum interval between two requests of one client; 0 disables (default). */
  rateLimitingCutoffMs: number;
  /** NTP versions answered; others are silently dropped. Default [3, 4]; only 3 and 4 exist here. */
  acceptNtpVersions: readonly number[];
  /** Non-NTS requests: answered (false), dropped ("ignore"; ntpd-rs `true`), or DENY ("deny"). */
  requireNts: false | "ignore" | "deny";
}

export const DEFAULT_SERVER_POLICY: ServerPolicy = Object.freeze({
  allowlist: Object.freeze({ filter: Object.freeze(["::/0", "0.0.0.0/0"]), action: "ignore" }),
  denylist: Object.freeze({ filter: Object.freeze([]), action: "deny" }),
  rateLimitingCacheSize: 0,
  rateLimitingCutoffMs: 0,
  acceptNtpVersions: Object.freeze([3, 4]),
  requireNts: false,
} as const);

/** NTP versions this server core can answer. */
export const SUPPORTED_NTP_VERSIONS: readonly number[] = [3, 4];
