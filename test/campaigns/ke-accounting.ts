// The daemon's side of an NTS-KE campaign's accounting: its counters (observation
// `nts_ke_servers[0].stats`) over the scenario must match what the clients did. It
// accepted every connection they opened, counted each in exactly one outcome (served,
// refused, timed out, failed), and served as many key exchanges as they completed.
import type { NtsKeStatsObservation } from "../../src/daemon/nts-ke-stats.js";
import { waitFor } from "../helpers/wait.js";
import { check, type Check } from "./report.js";
import type { Target } from "./target.js";

/** The daemon's NTS-KE counters once every connection it accepted has ended and is counted. */
export async function settledKeStats(
  target: Target,
  /** The longest a connection can stay open (the key-exchange timeout, with slack). */
  openMs: number,
): Promise<NtsKeStatsObservation> {
  return waitFor(
    async () => {
      const s = (await target.observe()).nts_ke_servers?.[0]?.stats;
      if (s === undefined) throw new Error("the observation has no NTS-KE counters");
      const ended =
        s.served_connections +
        s.refused_connections +
        s.timed_out_connections +
        s.failed_connections;
      return ended === s.accepted_connections ? s : undefined;
    },
    { timeoutMs: openMs + 5000, intervalMs: 100, what: "no NTS-KE connection open" },
  );
}

/** What the scenario's clients did, to hold the daemon's counters against. */
export interface ClientSide {
  /** TCP connections that were established (each one the daemon accepted). */
  connections: number;
  /** Key exchanges that completed. */
  keyExchanges: number;
}

/** The daemon's counters over the scenario (after - before) and the checks that they add up. */
export function keAccounting(
  before: NtsKeStatsObservation,
  after: NtsKeStatsObservation,
  client: ClientSide,
): { counters: Record<string, number>; checks: Check[] } {
  const d = (key: keyof NtsKeStatsObservation) => after[key] - before[key];
  const accepted = d("accepted_connections");
  const served = d("served_connections");
  const refused = d("refused_connections");
  const timedOut = d("timed_out_connections");
  const failed = d("failed_connections");
  const ended = served + refused + timedOut + failed;
  return {
    counters: {
      ke_accepted: accepted,
      ke_served: served,
      ke_refused: refused,
      ke_timed_out: timedOut,
      ke_failed: failed,
      ke_key_exchanges: d("key_exchanges"),
    },
    checks: [
      check(
        "the daemon accepted every connection the clients opened, and counted each once",
        accepted === client.connections && ended === accepted,
        `accepted ${accepted} (clients opened ${client.connections}); ` +
          `served ${served} + refused ${refused} + timed out ${timedOut} + failed ${failed} = ${ended}`,
      ),
      check(
        "the daemon served the key exchanges the clients completed, no more",
        d("key_exchanges") === client.keyExchanges && served === client.keyExchanges,
        `daemon: ${d("key_exchanges")} key exchanges in ${served} served connections; ` +
          `clients: ${client.keyExchanges} completed`,
      ),
    ],
  };
}
