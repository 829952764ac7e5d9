// The server's access and protocol policy: the ntpd-rs `[[server]]` keys other
// than `listen`, as the configuration parsed and validated them. Their types,
// defaults and docs are declared once, in config/schema-server.ts; the core
// takes them as they are and checks nothing again.

import { parseValue } from "../config/fields.js";
import { serverTable } from "../config/schema-server.js";
import type { ServerConfig } from "../config/types.js";

export type ServerPolicy = Omit<ServerConfig, "listen">;

/**
 * `given`, with each key it leaves out at its declared default: the policy of
 * a `[[server]]` table that sets nothing else (for tests, the simulator and
 * benchmarks; the daemon passes the parsed table whole).
 */
export function serverPolicy(given: Partial<ServerPolicy> = {}): ServerPolicy {
  const { listen: _listen, ...defaults } = parseValue(serverTable, { listen: "[::]:123" });
  // A key given as undefined keeps its default, as one left out does.
  const set = Object.entries(given).filter(([, value]) => value !== undefined);
  return { ...defaults, ...(Object.fromEntries(set) as Partial<ServerPolicy>) };
}

/** NTP versions this server core can answer. */
export const SUPPORTED_NTP_VERSIONS: readonly number[] = [3, 4, 5];
