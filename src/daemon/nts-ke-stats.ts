// The counters of an `[[nts-ke-server]]` (NtsKeServer) and their sums over the serving
// threads (workers/pool.ts): plain numbers, so that a thread's structured clone of them
// is the same shape.

/**
 * Counters for observation. Every TCP connection the listener accepts is counted in
 * `connections` and, once it is over, in exactly one of the four outcomes, so that
 * connections = served + refused + timeouts + failed + (connections still open).
 * The rest are details of an outcome.
 */
export class NtsKeStats {
  /** TCP connections accepted. */
  connections = 0;
  /** Outcome: answered (keys, an error record or the supported lists). */
  served = 0;
  /** Outcome: closed at once, `concurrent-connections` were open. */
  refused = 0;
  /** Outcome: cut at `key-exchange-timeout-ms` before an answer. */
  timeouts = 0;
  /** Outcome: the TLS handshake failed, no ALPN ntske/1, an internal error, or closed early. */
  failed = 0;
  /** Of served: the answer carried keys and cookies. */
  keyExchanges = 0;
  /** Of served: the answer was an NTS-KE error record. */
  rejected = 0;
  /** Of failed: the client offered no ALPN ntske/1. */
  noAlpn = 0;
}

/** Every counter of NtsKeStats. */
export const NTS_KE_COUNTERS = [
  "connections",
  "served",
  "refused",
  "timeouts",
  "failed",
  "keyExchanges",
  "rejected",
  "noAlpn",
] as const satisfies readonly (keyof NtsKeStats)[];

/** The counter of each way a connection can end. */
export type NtsKeOutcome = "served" | "refused" | "timeouts" | "failed";

/** The counters as plain data (what a serving thread posts). */
export type NtsKeCounts = Record<(typeof NTS_KE_COUNTERS)[number], number>;

/** Adds every counter of `from` (an NtsKeStats or its structured clone) to `into`. */
export function addNtsKeStats(into: NtsKeCounts, from: NtsKeCounts): void {
  for (const key of NTS_KE_COUNTERS) into[key] += from[key];
}

/** A new NtsKeStats holding the sum of `parts`. */
export function sumNtsKeStats(parts: Iterable<NtsKeCounts>): NtsKeStats {
  const total = new NtsKeStats();
  for (const part of parts) addNtsKeStats(total, part);
  return total;
}

/**
 * Each counter's name in the observation's `nts_ke_servers[].stats` (snake case, as
 * ntpd-rs names its server counters); the metric is `ntp_nts_ke_server_<name>_total`.
 */
export const NTS_KE_OBSERVATION_NAMES = {
  connections: "accepted_connections",
  served: "served_connections",
  refused: "refused_connections",
  timeouts: "timed_out_connections",
  failed: "failed_connections",
  keyExchanges: "key_exchanges",
  rejected: "error_responses",
  noAlpn: "no_alpn_connections",
} as const satisfies Record<(typeof NTS_KE_COUNTERS)[number], string>;

export type NtsKeStatsObservation = Record<
  (typeof NTS_KE_OBSERVATION_NAMES)[keyof typeof NTS_KE_OBSERVATION_NAMES],
  number
>;

export function ntsKeStatsObservation(stats: NtsKeCounts): NtsKeStatsObservation {
  const observed = {} as NtsKeStatsObservation;
  for (const key of NTS_KE_COUNTERS) observed[NTS_KE_OBSERVATION_NAMES[key]] = stats[key];
  return observed;
}
