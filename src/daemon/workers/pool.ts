// `[daemon] server-threads` > 1: the serving threads (worker-main.ts) and what the main
// thread does for them. The main thread keeps the sources, the clock discipline, the
// observation socket and the NTS key set (rotation and storage); it
//   - starts the threads: the first alone, so that a port 0 in the config becomes a real
//     port the others then bind too (SO_REUSEPORT), then the rest together. Start-up
//     fails with a ServingThreadError (one line) if any thread cannot bind;
//   - pushes the key set to every thread at start and after each rotation, and the
//     system state whenever the clock discipline changes it (postMessage, never per
//     request). Between a rotation and a thread receiving the new set (well under a
//     millisecond) that thread does not yet accept cookies made with the new key;
//   - sums the threads' counters for the observation (stats-sum.ts): one entry per
//     `[[server]]` and per `[[nts-ke-server]]`, counts of threads that died kept. An
//     NTS-KE server's certificate expiry is the earliest over the threads (a thread
//     whose reload failed still serves the older certificate);
//   - restarts a thread that dies (its sockets close with it, so the kernel stops
//     sending it requests), after 1 s, doubling up to 60 s while it keeps dying;
//   - passes SIGHUP's certificate reload on to every thread.

import { Worker } from "node:worker_threads";
import type { NtsKeServerConfig, ServerConfig } from "../../proto/config/types.js";
import type { KeySet } from "../../proto/nts/keyset/keyset.js";
import { serializeKeySet } from "../../proto/nts/keyset/storage.js";
import { TransmitTimestampTable } from "../../proto/server/interleave.js";
import { ServerStats } from "../../proto/server/stats.js";
import type { SystemStateCell } from "../../proto/system/system-state.js";
import type { Logger } from "../log.js";
import { unixNowSeconds } from "../wall-clock.js";
import {
  plainSystemState,
  type FromServingThread,
  type ServingThreadData,
  type ThreadNtsKeReport,
  type ToServingThread,
} from "./messages.js";
import { addNtsKeStats, NtsKeStats, sumNtsKeStats } from "../nts-ke-stats.js";
import { addServerStats, sumServerStats } from "./stats-sum.js";
import { loggedLevel } from "./thread-log.js";

/** A serving thread could not start: the message is one line for the operator. */
export class ServingThreadError extends Error {}

/**
 * The thread's entry: the built worker-main.js, or, when this runs as TypeScript (tests,
 * tsx), a bootstrap that registers tsx in the thread first (Node 20 does not apply the
 * parent's `--import tsx` to worker threads).
 */
function workerEntry(): { entry: string | URL; eval: boolean } {
  if (!import.meta.url.endsWith(".ts")) {
    return { entry: new URL("./worker-main.js", import.meta.url), eval: false };
  }
  const main = new URL("./worker-main.ts", import.meta.url).href;
  const tsx = import.meta.resolve("tsx/esm/api");
  const code = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(main)}); });`;
  return { entry: code, eval: true };
}

const STATS_INTERVAL_MS = 500;
const RESTART_MIN_MS = 1000;
const RESTART_MAX_MS = 60_000;

/** What the pool needs of the key set's owner (KeySetRotation). */
export interface KeySource {
  readonly keyset: KeySet;
  onRotate(listener: (keyset: KeySet) => void): void;
}

export interface ServingPoolOptions {
  threads: number;
  servers: readonly ServerConfig[];
  ntsKeServers: readonly NtsKeServerConfig[];
  keys: KeySource;
  staleKeyCount: number;
  system: SystemStateCell;
  log: Logger;
  /** The NTPv5 Bloom filter every thread publishes (the daemon's server ID). */
  referenceIdFilter?: Uint8Array;
  /** Overrides for tests. */
  restartMinMs?: number;
  statsIntervalMs?: number;
}

interface Slot {
  worker: Worker | null;
  /** The thread's last counters (one per `[[server]]`). */
  stats: ServerStats[];
  /** Its NTS-KE counters and certificates (one per `[[nts-ke-server]]`), as last reported. */
  ntsKe: ThreadNtsKeReport[];
  startedAt: number;
  restartDelayMs: number;
  restartTimer: NodeJS.Timeout | null;
  /** Times this thread was started (1 = never restarted). */
  starts: number;
}

type StartResult =
  { ok: true; ntpPorts: number[]; kePorts: number[] } | { ok: false; message: string };

export class ServingPool {
  private readonly slots: Slot[];
  /** Counters of threads that died, per `[[server]]`. */
  private readonly retired: ServerStats[];
  /** NTS-KE counters of threads that died, per `[[nts-ke-server]]`. */
  private readonly retiredNtsKe: NtsKeStats[];
  private servers: ServerConfig[];
  /**
   * Per `[[server]]`: the interleaved mode's table of reply TX timestamps, shared by
   * every thread (a client's next request may reach another thread).
   */
  private readonly interleaveTables: SharedArrayBuffer[];
  private ntsKeServers: NtsKeServerConfig[];
  private stopped = false;
  /** start() succeeded: from now on a thread that dies is restarted. */
  private running = false;
  private readonly log: Logger;

  constructor(private readonly options: ServingPoolOptions) {
    this.log = options.log.child("server");
    this.servers = [...options.servers];
    this.ntsKeServers = [...options.ntsKeServers];
    this.retired = this.servers.map(() => new ServerStats());
    this.interleaveTables = this.servers.map(() => TransmitTimestampTable.sharedBuffer());
    this.retiredNtsKe = this.ntsKeServers.map(() => new NtsKeStats());
    this.slots = Array.from({ length: options.threads }, () => ({
      worker: null,
      stats: [],
      ntsKe: [],
      startedAt: 0,
      restartDelayMs: options.restartMinMs ?? RESTART_MIN_MS,
      restartTimer: null,
      starts: 0,
    }));
    options.keys.onRotate((keyset) => this.broadcastKeys(keyset));
    options.system.onChange((state) =>
      this.broadcast({ kind: "system", system: plainSystemState(state) }),
    );
  }

  get threads(): number {
    return this.slots.length;
  }

  /** The NTP ports bound, per `[[server]]` (a config port 0 resolved). */
  get ntpPorts(): number[] {
    return this.servers.map((s) => s.listen.port);
  }

  /** The NTS-KE ports bound, per `[[nts-ke-server]]`. */
  get kePorts(): number[] {
    return this.ntsKeServers.map((s) => s.listen.port);
  }

  /** Starts every thread; throws ServingThreadError (all stopped) if one cannot start. */
  async start(): Promise<void> {
    const first = await this.spawn(0);
    if (!first.ok) this.fail(0, first.message);
    else {
      // Thread 1 bound any port 0 of the config; the others bind the same ports.
      this.servers = this.servers.map((s, i) => withPort(s, first.ntpPorts[i]!));
      this.ntsKeServers = this.ntsKeServers.map((s, i) => withPort(s, first.kePorts[i]!));
    }
    const rest = await Promise.all(this.slots.slice(1).map((_, i) => this.spawn(i + 1)));
    rest.forEach((result, i) => {
      if (!result.ok) this.fail(i + 1, result.message);
    });
    this.running = true;
    this.log.info("serving from worker threads", { threads: this.slots.length });
  }

  /** Counters per `[[server]]`, summed over the threads (and those that died). */
  serverStats(): ServerStats[] {
    return this.retired.map((retired, i) =>
      sumServerStats([retired, ...this.slots.flatMap((slot) => slot.stats[i] ?? [])]),
    );
  }

  /**
   * Per `[[nts-ke-server]]`: the counters summed over the threads (and those that died),
   * and the earliest certificate expiry any running thread reported (null before any).
   */
  ntsKeServerStates(): { stats: NtsKeStats; certificateNotAfter: Date | null }[] {
    return this.retiredNtsKe.map((retired, i) => {
      const reports = this.slots.flatMap((slot) => slot.ntsKe[i] ?? []);
      const expiries = reports.flatMap((r) => r.certificateNotAfterMs ?? []);
      return {
        stats: sumNtsKeStats([retired, ...reports.map((r) => r.stats)]),
        certificateNotAfter: expiries.length > 0 ? new Date(Math.min(...expiries)) : null,
      };
    });
  }

  /** One thread's last counters (tests: proof that the kernel spread the load). */
  threadStats(thread: number): readonly ServerStats[] {
    return this.slots[thread]?.stats ?? [];
  }

  /** One thread's NTS key exchanges, as last reported (tests). */
  threadKeyExchanges(thread: number): number {
    return (this.slots[thread]?.ntsKe ?? []).reduce((n, r) => n + r.stats.keyExchanges, 0);
  }

  /** Times thread `thread` (0-based) was started. */
  starts(thread: number): number {
    return this.slots[thread]?.starts ?? 0;
  }

  /** For tests: the worker of a thread, to kill it. */
  worker(thread: number): Worker | null {
    return this.slots[thread]?.worker ?? null;
  }

  /** SIGHUP: every thread loads its NTS-KE certificate again. */
  reload(reason: string): void {
    this.broadcast({ kind: "reload", reason });
  }

  stop(): void {
    this.stopped = true;
    for (const slot of this.slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      void slot.worker?.terminate();
      slot.worker = null;
    }
  }

  private fail(thread: number, message: string): never {
    this.stop();
    throw new ServingThreadError(`serving thread ${thread + 1} could not start: ${message}`);
  }

  private broadcast(message: ToServingThread): void {
    for (const slot of this.slots) slot.worker?.postMessage(message);
  }

  private broadcastKeys(keyset: KeySet): void {
    for (const slot of this.slots) {
      if (!slot.worker) continue;
      const keys = serializeKeySet(keyset, unixNowSeconds());
      // Transferred, not copied: the only copy is the thread's, which zeroes it.
      slot.worker.postMessage({ kind: "keys", keys } satisfies ToServingThread, [
        keys.buffer as ArrayBuffer,
      ]);
    }
  }

  /** Starts thread `index`; resolves when it is serving or has failed. */
  private spawn(index: number): Promise<StartResult> {
    const slot = this.slots[index]!;
    const keys = serializeKeySet(this.options.keys.keyset, unixNowSeconds());
    const data: ServingThreadData = {
      thread: index + 1,
      servers: this.servers,
      interleaveTables: this.interleaveTables,
      ntsKeServers: this.ntsKeServers,
      keys,
      staleKeyCount: this.options.staleKeyCount,
      system: plainSystemState(this.options.system.current()),
      logLevel: loggedLevel(this.options.log),
      statsIntervalMs: this.options.statsIntervalMs ?? STATS_INTERVAL_MS,
      ...(this.options.referenceIdFilter === undefined
        ? {}
        : { referenceIdFilter: this.options.referenceIdFilter }),
    };
    const { entry, eval: isCode } = workerEntry();
    const worker = new Worker(entry, {
      eval: isCode,
      workerData: data,
      transferList: [keys.buffer as ArrayBuffer],
    });
    slot.worker = worker;
    slot.stats = [];
    slot.ntsKe = [];
    slot.starts++;
    slot.startedAt = performance.now();
    return new Promise<StartResult>((resolve) => {
      let settled = false;
      let lastError: Error | null = null;
      const settle = (result: StartResult) => {
        if (settled) return;
        settled = true;
        resolve(result);
      };
      worker.on("message", (message: FromServingThread) => {
        switch (message.kind) {
          case "ready":
            settle({ ok: true, ntpPorts: message.ntpPorts, kePorts: message.kePorts });
            break;
          case "failed":
            settle({ ok: false, message: message.message });
            break;
          case "stats":
            if (slot.worker === worker) {
              slot.stats = message.servers;
              slot.ntsKe = message.ntsKeServers;
            }
            break;
          case "log":
            this.options.log
              .child(message.component)
              .log(message.level, message.message, { ...message.fields, thread: index + 1 });
            break;
        }
      });
      worker.on("error", (error) => {
        lastError = error;
      });
      worker.on("exit", (code) => {
        const reason = lastError?.message ?? `exit code ${code}`;
        settle({ ok: false, message: reason });
        if (slot.worker !== worker) return;
        slot.worker = null;
        this.retire(slot);
        if (this.running && !this.stopped) this.scheduleRestart(index, reason);
      });
    });
  }

  /** Keeps a dead thread's counts in the sums. */
  private retire(slot: Slot): void {
    slot.stats.forEach((stats, i) => {
      const retired = this.retired[i];
      if (retired) addServerStats(retired, stats);
    });
    slot.stats = [];
    slot.ntsKe.forEach((report, i) => {
      const retired = this.retiredNtsKe[i];
      if (retired) addNtsKeStats(retired, report.stats);
    });
    slot.ntsKe = [];
  }

  private scheduleRestart(index: number, reason: string): void {
    const slot = this.slots[index]!;
    const minMs = this.options.restartMinMs ?? RESTART_MIN_MS;
    // A thread that served for a while before dying starts over at the shortest delay.
    if (performance.now() - slot.startedAt > RESTART_MAX_MS) slot.restartDelayMs = minMs;
    const delay = slot.restartDelayMs;
    slot.restartDelayMs = Math.min(delay * 2, RESTART_MAX_MS);
    this.log.error("serving thread stopped; restarting", {
      thread: index + 1,
      reason,
      restart_in: `${delay / 1000}s`,
    });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.stopped) return;
      void this.spawn(index).then((result) => {
        if (result.ok) this.log.info("serving thread restarted", { thread: index + 1 });
        // A failed start ends in an exit, which schedules the next attempt.
      });
    }, delay);
  }
}

function withPort<T extends { listen: { port: number } }>(config: T, port: number): T {
  return { ...config, listen: { ...config.listen, port } };
}
