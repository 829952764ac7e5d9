// What the main thread and a serving thread (worker-main.ts) tell each other. Every
// message is structured-cloned by postMessage, so only plain data crosses: the key set
// travels as its key-file bytes (storage.ts), the system state with its timestamp as two
// numbers.

import type { NtsKeServerConfig, ServerConfig } from "../../proto/config/types.js";
import type { ServerStats } from "../../proto/server/stats.js";
import type { SystemState } from "../../proto/system/system-state.js";
import { NtpTimestamp } from "../../proto/time.js";
import type { LogFields, LogLevel } from "../log.js";
import type { NtsKeCounts } from "../nts-ke-stats.js";

/** One `[[nts-ke-server]]` as a serving thread reports it. */
export interface ThreadNtsKeReport {
  stats: NtsKeCounts;
  /** When the thread's certificate expires, Unix milliseconds; null before it loaded one. */
  certificateNotAfterMs: number | null;
}

/** SystemState with its one class-typed field as plain numbers. */
export type PlainSystemState = Omit<SystemState, "rootVarianceBaseTime"> & {
  rootVarianceBaseTime: { seconds: number; fraction: number };
};

export function plainSystemState(state: SystemState): PlainSystemState {
  const t = state.rootVarianceBaseTime;
  return { ...state, rootVarianceBaseTime: { seconds: t.seconds, fraction: t.fraction } };
}

export function systemStateFromPlain(plain: PlainSystemState): SystemState {
  const t = plain.rootVarianceBaseTime;
  return { ...plain, rootVarianceBaseTime: new NtpTimestamp(t.seconds, t.fraction) };
}

/** workerData of a serving thread. */
export interface ServingThreadData {
  /** 1-based, for the log. */
  thread: number;
  /** Ports already resolved (a port 0 in the config becomes the first thread's port). */
  servers: ServerConfig[];
  /** Per server: the interleaved mode's table, shared by all threads (interleave.ts). */
  interleaveTables: SharedArrayBuffer[];
  /** The NTPv5 Bloom filter the daemon publishes (copied to each thread). */
  referenceIdFilter?: Uint8Array;
  ntsKeServers: NtsKeServerConfig[];
  /** The key set as key-file bytes (transferred, zeroed after parsing). */
  keys: Uint8Array;
  staleKeyCount: number;
  system: PlainSystemState;
  /** The least severe level the main thread logs. */
  logLevel: LogLevel;
  /** Milliseconds between stats reports (only when they changed). */
  statsIntervalMs: number;
}

/** Main thread -> serving thread. */
export type ToServingThread =
  | { kind: "keys"; keys: Uint8Array }
  | { kind: "system"; system: PlainSystemState }
  | { kind: "reload"; reason: string };

/** Serving thread -> main thread. */
export type FromServingThread =
  /** Bound and listening; the ports actually bound, in config order. */
  | { kind: "ready"; ntpPorts: number[]; kePorts: number[] }
  /** Could not start (a bind failed...): one line for the operator. */
  | { kind: "failed"; message: string }
  /**
   * The thread's counters so far and its certificates: one per `[[server]]` and one per
   * `[[nts-ke-server]]`, in config order. Sent once before "ready", then when changed.
   */
  | { kind: "stats"; servers: ServerStats[]; ntsKeServers: ThreadNtsKeReport[] }
  | { kind: "log"; level: LogLevel; component: string; message: string; fields?: LogFields };
