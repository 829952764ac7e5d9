// ntpd-ts: the `[[nts-pool-ke-server]]` fronts in the observation
// (docs/nts-pool.md): what the front did with its clients, and how many of
// its back ends it would hand clients to now.
import type { PoolFrontStats } from "./nts-pool-ke-server.js";
import { integer, object, string } from "./observation-read.js";

/** A front as the daemon reports it. */
export interface NtsPoolKeServerInput {
  address: string;
  stats: PoolFrontStats;
  /** Back ends configured. */
  backends: number;
  /** Back ends not passed over after a failure. */
  backendsUp: number;
}

/** Its counters, as published (snake_case, totals since start). */
export interface PoolFrontStatsObservation {
  connections: number;
  delegated: number;
  rejected: number;
  failed: number;
  backend_failures: number;
}

export interface ObservedNtsPoolKeServer {
  address: string;
  backends: number;
  backends_up: number;
  stats: PoolFrontStatsObservation;
}

export const POOL_FRONT_COUNTERS: readonly (keyof PoolFrontStatsObservation)[] = [
  "connections",
  "delegated",
  "rejected",
  "failed",
  "backend_failures",
];

export function observedPoolFront(input: NtsPoolKeServerInput): ObservedNtsPoolKeServer {
  const s = input.stats;
  return {
    address: input.address,
    backends: input.backends,
    backends_up: input.backendsUp,
    stats: {
      connections: s.connections,
      delegated: s.delegated,
      rejected: s.rejected,
      failed: s.failed,
      backend_failures: s.backendFailures,
    },
  };
}

export function parsePoolFront(value: unknown, at: string): ObservedNtsPoolKeServer {
  const o = object(value, at);
  const stats = object(o.stats, `${at}.stats`);
  const parsed = {} as PoolFrontStatsObservation;
  for (const name of POOL_FRONT_COUNTERS) {
    parsed[name] = integer(stats[name], `${at}.stats.${name}`);
  }
  return {
    address: string(o.address, `${at}.address`),
    backends: integer(o.backends, `${at}.backends`),
    backends_up: integer(o.backends_up, `${at}.backends_up`),
    stats: parsed,
  };
}
