// queryTime: ask one or more servers for the time once, with the daemon's own
// source code (daemon/measure-targets.ts: the requests, the checks of every
// reply, NTS key exchange and authentication, kernel timestamps when the
// native addon is loaded), and say how far the local clock is off.

import { collectTargets, measureTarget, type TargetResult } from "../daemon/measure-targets.js";
import type { Measurement } from "../proto/source/types.js";
import { configFor, normalizeServers, type ServerInput } from "./servers.js";

export interface QueryOptions {
  /** Gives up at once when aborted: queryTime rejects with the signal's reason. */
  signal?: AbortSignal;
  /** Everything (name lookups, key exchanges, requests) ends by then, ms. Default 10 000. */
  timeoutMs?: number;
}

/** One server's answer. Times in seconds. */
export interface ServerTime {
  /** Which server and address answered ("time.example [NTS] 192.0.2.1:123"). */
  server: string;
  /**
   * How far the local clock is behind the server: add it to the local time
   * (positive: the local clock is behind).
   */
  offset: number;
  /** The round trip, less the server's own processing time. */
  delay: number;
  /**
   * How wrong `offset` can be if the server keeps time within its own stated
   * bounds: half the round trip (all of it one way, at worst) plus the server's
   * root distance (half its root delay and its root dispersion).
   */
  errorBound: number;
  /** The reply was authenticated by NTS. */
  authenticated: boolean;
  stratum: number;
  /** The server's announcement of a leap second at the end of this month's last day. */
  leap: Leap;
  /**
   * "kernel": reception timestamped by the kernel (the native addon);
   * "userspace": by JavaScript on arrival, coarser by tens of microseconds.
   */
  timestamps: "kernel" | "userspace";
}

export type Leap = "none" | "insert-second" | "delete-second" | "unsynchronized";

const LEAP_NAMES: readonly Leap[] = ["none", "insert-second", "delete-second", "unsynchronized"];

/** A server that gave no usable answer, and why. */
export interface ServerFailure {
  server: string;
  error: string;
}

/** The best answer (least errorBound), and every server's outcome. */
export interface TimeQueryResult extends ServerTime {
  servers: (ServerTime | ServerFailure)[];
}

/** No server answered usably; `failures` says why for each. */
export class TimeQueryError extends Error {
  constructor(readonly failures: ServerFailure[]) {
    super(
      `no server answered: ${failures.map((f) => `${f.server}: ${f.error}`).join("; ") || "no servers"}`,
    );
    this.name = "TimeQueryError";
  }
}

function serverTime(result: TargetResult, m: Measurement): ServerTime {
  return {
    server: result.label,
    offset: m.offset,
    delay: m.delay,
    errorBound: m.delay / 2 + m.rootDelay / 2 + m.rootDispersion,
    authenticated: result.authenticated,
    stratum: m.stratum,
    leap: LEAP_NAMES[m.leap]!,
    timestamps: result.kernelTimestamps ? "kernel" : "userspace",
  };
}

/**
 * Asks each server a few times (the reply with the least delay counts) and
 * resolves with the best answer. Servers given as a string are asked over NTS.
 * Rejects with a TypeError for an invalid server, with TimeQueryError when no
 * server answered usably, and with the signal's reason when aborted.
 */
export async function queryTime(
  servers: ServerInput | readonly ServerInput[],
  options: QueryOptions = {},
): Promise<TimeQueryResult> {
  const config = configFor(normalizeServers(servers));
  const { signal } = options;
  signal?.throwIfAborted();
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const failures: ServerFailure[] = [];
  const targets = await collectTargets(
    config,
    (line) => {
      const colon = line.indexOf(": ");
      failures.push({ server: line.slice(0, colon), error: line.slice(colon + 2) });
    },
    deadline,
  );
  signal?.throwIfAborted();
  const results = await Promise.all(
    targets.map((target) => measureTarget(target, config, deadline, signal)),
  );
  signal?.throwIfAborted();
  const answers: ServerTime[] = [];
  for (const result of results) {
    if (result.measurement === null) {
      failures.push({ server: result.label, error: result.problem ?? "no answer" });
    } else {
      answers.push(serverTime(result, result.measurement));
    }
  }
  const best = answers.reduce<ServerTime | null>(
    (a, b) => (a === null || b.errorBound < a.errorBound ? b : a),
    null,
  );
  if (best === null) throw new TimeQueryError(failures);
  return { ...best, servers: [...answers, ...failures] };
}
