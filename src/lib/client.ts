// TimeClient: the daemon's client side in an application. It runs the daemon
// itself (src/daemon/daemon.ts) with sources only and the clock never touched,
// as `ntp-daemon --no-clock-control` does: NTS key exchanges and cookies,
// polling, the per-source filter, selection and combination steer a virtual
// clock layered on the system clock (daemon/clock/virtual-clock.ts), and
// now() reads that clock. Nothing is global: every client has its own sockets,
// timers and state, and close() ends them all.

import { EventEmitter } from "node:events";
import { chooseClock } from "../daemon/clock-choice.js";
import { Daemon, type SourceIdentity } from "../daemon/daemon.js";
import type { ClockDiscipline } from "../daemon/discipline.js";
import { createLogger, type LogSink, type LogLevel } from "../daemon/log.js";
import { getAddon } from "../daemon/native/addon.js";
import type { SystemClock } from "../proto/clock/system-clock.js";
import type { SourceEvent } from "../proto/source/types.js";
import { SystemStateCell, initialSystemState } from "../proto/system/system-state.js";
import { configFor, normalizeServers, type ConfigExtras, type ServerInput } from "./servers.js";

export interface TimeClientOptions extends ConfigExtras {
  /** The servers; one given by its address alone is asked over NTS. */
  servers: ServerInput | readonly ServerInput[];
  /** Aborting it closes the client. */
  signal?: AbortSignal;
  /** The daemon's log lines, if you want them (default: none). */
  log?: (line: string) => void;
  /** Which lines go to `log` (default "warn"). */
  logLevel?: LogLevel;
}

/** The corrected time at one instant. */
export interface CorrectedTime {
  /** Milliseconds since the Unix epoch, as Date.now(), with a fraction. */
  unixMs: number;
  /** Nanoseconds since the Unix epoch. */
  unixNs: bigint;
  /** Whether the sources agree on an estimate yet; before that the time is the system clock's. */
  synchronized: boolean;
  /** How far the system clock is behind this time, s (null before synchronization). */
  offset: number | null;
  /**
   * 1σ uncertainty of the estimate, s: the sources in use combined (null
   * before synchronization). It excludes the servers' own errors, which
   * sources() reports per source.
   */
  uncertainty: number | null;
  /**
   * "kernel": replies timestamped by the kernel (the native addon);
   * "userspace": by JavaScript on arrival, coarser by tens of microseconds.
   */
  timestamps: "kernel" | "userspace";
}

/** A source as the client sees it now. */
export interface SourceState {
  id: number;
  /** The address configured ("time.example:4460"). */
  name: string;
  /** The NTP server's address measured. */
  address: string;
  authenticated: boolean;
  /** The filter's estimate of this source's offset from the system clock, s, and its 1σ. */
  offset: number | null;
  uncertainty: number | null;
  /** The last round trip, s. */
  delay: number | null;
  /** Used by the combination now. */
  selected: boolean;
}

export type SourceChange =
  | { kind: "added"; source: SourceIdentity }
  | { kind: "removed"; source: SourceIdentity }
  | { kind: "measurement"; source: SourceIdentity; offset: number; delay: number }
  | { kind: "problem"; source: SourceIdentity; problem: string };

export interface TimeClientEvents {
  /** A source started, stopped, measured or failed. */
  source: [change: SourceChange];
  /** The first time the sources agree on an estimate. */
  synchronized: [time: CorrectedTime];
}

/** What happened to a request, in words, for events that are not measurements. */
function problemOf(event: SourceEvent): string | null {
  switch (event.kind) {
    case "unusable":
      return event.reason === "unsynchronized"
        ? "the server is not synchronized"
        : `the server's stratum ${event.measurement.stratum} is too high`;
    case "kiss":
      return `kiss-o'-death ${event.code}`;
    case "ignored":
      return event.reason === "unauthenticated" ? "a reply failed NTS authentication" : null;
    default:
      return null;
  }
}

export class TimeClient extends EventEmitter<TimeClientEvents> {
  #closed = false;
  #started = false;
  #synchronized = false;
  readonly #daemon: Daemon;
  readonly #clock: SystemClock;
  readonly #discipline: ClockDiscipline;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort = () => void this.close();

  /**
   * A client of `options.servers`; nothing is sent before start(), so that
   * listeners can be attached first. Throws a TypeError for invalid options.
   */
  constructor(options: TimeClientOptions) {
    super();
    const config = configFor(normalizeServers(options.servers), options);
    const sink: LogSink = { write: (line: string) => options.log?.(line.trimEnd()) };
    const log = createLogger(options.logLevel ?? "warn", sink);
    const system = new SystemStateCell(
      initialSystemState({
        localStratum: config.synchronization.localStratum,
        referenceId: config.synchronization.referenceId,
      }),
    );
    const { discipline, clock } = chooseClock(config, false, system, log, (reason) =>
      log.error("the clock discipline stopped", { reason }),
    );
    if (discipline === null || clock === null) throw new TypeError("no servers given");
    this.#clock = clock;
    this.#discipline = discipline;
    this.#signal = options.signal;
    this.#daemon = new Daemon({
      config,
      log,
      system,
      discipline,
      sourceHooks: {
        started: (source) => this.emit("source", { kind: "added", source }),
        stopped: (source) => this.emit("source", { kind: "removed", source }),
        event: (source, event) => this.sourceEvent(source, event),
      },
    });
  }

  /**
   * Starts the sources (key exchanges, then requests). Resolves once they are
   * under way, not when synchronized: listen for "synchronized", or await
   * synchronized(). Rejects with the signal's reason when it is aborted.
   */
  async start(): Promise<this> {
    if (this.#closed) throw new Error("this TimeClient is closed");
    if (this.#started) return this;
    this.#started = true;
    this.#signal?.throwIfAborted();
    this.#signal?.addEventListener("abort", this.#onAbort, { once: true });
    try {
      await this.#daemon.start();
    } catch (error) {
      await this.close();
      throw error;
    }
    return this;
  }

  /** The corrected time now. */
  now(): CorrectedTime {
    const t = this.#clock.now();
    const unixNs = t.toUnixNanos(Date.now() / 1000);
    const estimate = this.#discipline.system();
    const synchronized = estimate.offset !== undefined;
    return {
      unixMs: Number(unixNs) / 1e6,
      unixNs,
      synchronized,
      offset: estimate.offset ?? null,
      uncertainty: synchronized ? this.combinedUncertainty() : null,
      // The daemon's sockets timestamp in the kernel exactly when the addon is loaded.
      timestamps: getAddon() === null ? "userspace" : "kernel",
    };
  }

  /** Resolves with the time at the first synchronization (at once if already). */
  synchronized(signal?: AbortSignal): Promise<CorrectedTime> {
    const now = this.now();
    if (now.synchronized) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.off("synchronized", onSync);
        const reason: unknown = signal!.reason;
        reject(reason instanceof Error ? reason : new Error(String(reason)));
      };
      const onSync = (time: CorrectedTime) => {
        signal?.removeEventListener("abort", onAbort);
        resolve(time);
      };
      signal?.throwIfAborted();
      signal?.addEventListener("abort", onAbort, { once: true });
      this.once("synchronized", onSync);
    });
  }

  /** Every source now. */
  sources(): SourceState[] {
    return this.#daemon.observe().sources.map((s) => {
      const estimate = this.#discipline.source(s.id);
      return {
        id: s.id,
        name: s.name,
        address: s.address,
        authenticated: s.nts_cookies !== null,
        offset: estimate?.offset ?? null,
        uncertainty: estimate?.uncertainty ?? null,
        delay: s.delay === 0 ? null : s.delay,
        selected: s.selected === true,
      };
    });
  }

  /** Stops every source and closes every socket and timer. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#signal?.removeEventListener("abort", this.#onAbort);
      this.#daemon.stop();
      this.removeAllListeners();
    }
    return Promise.resolve();
  }

  private sourceEvent(source: SourceIdentity, event: SourceEvent): void {
    if (event.kind === "measurement") {
      const m = event.measurement;
      this.emit("source", { kind: "measurement", source, offset: m.offset, delay: m.delay });
      // The discipline has taken the measurement (the daemon feeds it first).
      if (!this.#synchronized) {
        const now = this.now();
        if (now.synchronized) {
          this.#synchronized = true;
          this.emit("synchronized", now);
        }
      }
      return;
    }
    const problem = problemOf(event);
    if (problem !== null) this.emit("source", { kind: "problem", source, problem });
  }

  /** The selected sources' estimates combined by inverse variance: sqrt(1 / Σ 1/σ²). */
  private combinedUncertainty(): number | null {
    let precision = 0;
    // The running sources' ids, without building a whole observation on every now().
    for (const id of this.#daemon.sources.keys()) {
      const estimate = this.#discipline.source(id);
      if (estimate?.selected !== true || !(estimate.uncertainty > 0)) continue;
      precision += 1 / estimate.uncertainty ** 2;
    }
    return precision > 0 ? Math.sqrt(1 / precision) : null;
  }
}
