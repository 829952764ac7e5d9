// Sums the per-thread server counters for the observation socket: one entry per
// `[[server]]`, as ntpd-rs publishes them, whatever the number of serving threads.

import { DROP_REASONS, ServerStats } from "../../proto/server/stats.js";

type Counter = Exclude<keyof ServerStats, "ignoredByReason">;

const COUNTERS = (Object.keys(new ServerStats()) as (keyof ServerStats)[]).filter(
  (key): key is Counter => key !== "ignoredByReason",
);

/** Adds every counter of `from` (a ServerStats or its structured clone) to `into`. */
export function addServerStats(into: ServerStats, from: ServerStats): void {
  for (const key of COUNTERS) into[key] += from[key];
  for (const reason of DROP_REASONS) into.ignoredByReason[reason] += from.ignoredByReason[reason];
}

/** A new ServerStats holding the sum of `parts`. */
export function sumServerStats(parts: Iterable<ServerStats>): ServerStats {
  const total = new ServerStats();
  for (const part of parts) addServerStats(total, part);
  return total;
}
