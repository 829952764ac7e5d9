// Measures one source a few times in a row, for a one-off decision (ntp-ctl
// force-sync), with the daemon's own machinery: a SourceTask drives an
// NtpSource over the daemon's UDP socket (a fresh connected socket per
// request, kernel receive and transmit timestamps when the addon is loaded,
// NTS when a protector is given). Only the schedule differs from the daemon's:
// the next request goes out as soon as the previous one is answered or given
// up, not a poll interval later.

import type { NetworkSourceCommon } from "../proto/config/types.js";
import {
  NtpSource,
  type Measurement,
  type RequestProtector,
  type SourceEvent,
} from "../proto/source/source.js";
import { LogOutput, Logger, type LogSink } from "./log.js";
import { createUdpSocket } from "./native/udp.js";
import type { ResolvedAddress } from "./resolve.js";
import { errorText, SourceTask, type SourceEnd, type SourceTaskOptions } from "./source-task.js";
import { systemWallClock, type WallClock } from "./wall-clock.js";

export interface MeasureSourceOptions {
  /** The `[[source]]` (poll limits as the daemon uses them). */
  config: NetworkSourceCommon;
  /** `[synchronization] local-stratum`: replies not below it are unusable, as in the daemon. */
  localStratum: number;
  name: string;
  address: ResolvedAddress;
  port: number;
  /** NTS sources: protects the requests and authenticates the replies. */
  protector?: RequestProtector;
  /** Requests to send, one after the other. */
  exchanges: number;
  /** A request without a usable reply by then is given up, ms. */
  exchangeTimeoutMs: number;
  /** Everything ends by then, ms from now. */
  timeLimitMs: number;
  clock?: WallClock;
  createSocket?: SourceTaskOptions["createSocket"];
  /** Ends the measuring early: what was measured is kept, the socket closed ("aborted"). */
  signal?: AbortSignal;
}

export interface SourceSample {
  /** The usable measurements, in the order they came. */
  measurements: Measurement[];
  /** Why the last request that failed did (null when every request was answered). */
  problem: string | null;
  /** Whether reception times came from the kernel (the addon's socket). */
  kernelTimestamps: boolean;
}

/** Nothing the task logs is of use here: what went wrong comes back as `problem`. */
const silent = new Logger(new LogOutput("error", { write() {} } satisfies LogSink, false), "");

const ENDED: Record<SourceEnd, string> = {
  unreachable: "no answer",
  demobilized: "the server refused service",
  reset: "out of NTS cookies",
};

/** Sends up to `exchanges` requests; never rejects. */
export function measureSource(options: MeasureSourceOptions): Promise<SourceSample> {
  const source = new NtpSource({
    pollLimits: options.config.pollIntervalLimits,
    initialPollInterval: options.config.initialPollInterval,
    localStratum: options.localStratum,
    protector: options.protector,
    version: options.config.ntpVersion,
  });
  return new Promise((resolve) => {
    const measurements: Measurement[] = [];
    let problem: string | null = null;
    /** What went wrong with the request in flight, if anything yet. */
    let pending: string | null = null;
    let sent = 0;
    let kernelTimestamps = false;
    let exchangeTimer: NodeJS.Timeout | null = null;
    let finished = false;

    const finish = () => {
      if (finished) return;
      finished = true;
      options.signal?.removeEventListener("abort", onAbort);
      clearTimeout(limitTimer);
      if (exchangeTimer) clearTimeout(exchangeTimer);
      task.stop();
      resolve({ measurements, problem, kernelTimestamps });
    };
    const failed = (why: string) => {
      problem = why;
      next();
    };
    const next = () => {
      if (exchangeTimer) clearTimeout(exchangeTimer);
      if (finished) return;
      if (sent >= options.exchanges) return finish();
      sent++;
      pending = null;
      exchangeTimer = setTimeout(() => failed(pending ?? "no answer"), options.exchangeTimeoutMs);
      if (sent === 1) task.start();
      else task.pollNow();
    };
    const onEvent = (event: SourceEvent) => {
      if (finished) return;
      switch (event.kind) {
        case "measurement":
          measurements.push(event.measurement);
          next();
          return;
        case "unusable":
          failed(
            event.reason === "unsynchronized"
              ? "the server is not synchronized"
              : event.reason === "loop"
                ? "the server synchronizes to us (NTPv5 reference-ID filter)"
                : `the server's stratum ${event.measurement.stratum} is not below ` +
                  `local-stratum ${options.localStratum}`,
          );
          return;
        case "kiss":
          problem = `kiss-o'-death ${event.code}`;
          // RATE, DENY, RSTR: the server asked us to stop; NTSN and the rest: try again.
          if (event.action === "none") next();
          else finish();
          return;
        case "no-sample":
          // Only in interleaved mode, which force-sync does not ask in (a few quick
          // basic exchanges measure at once).
          next();
          return;
        case "ignored":
          // Someone else's datagram, or a late one: keep waiting. A reply that fails
          // NTS authentication is worth telling if nothing better comes.
          if (event.reason === "unauthenticated") {
            pending = `reply not authenticated: ${event.detail ?? "NTS"}`;
          }
          return;
      }
    };

    const task = new SourceTask({
      nts: options.protector !== undefined,
      name: options.name,
      address: options.address,
      port: options.port,
      source,
      clock: options.clock ?? systemWallClock,
      log: silent,
      hooks: {
        onEvent: (_task, event) => onEvent(event),
        onEnd: (_task, reason) => {
          problem = ENDED[reason];
          finish();
        },
        onSendError: (_task, error) => failed(errorText(error)),
      },
      createSocket: (family, socketOptions) => {
        const socket = (options.createSocket ?? createUdpSocket)(family, socketOptions);
        kernelTimestamps = socket.kernelTimestamps;
        return socket;
      },
    });
    const limitTimer = setTimeout(() => {
      if (measurements.length === 0 && problem === null) problem = pending ?? "no answer";
      finish();
    }, options.timeLimitMs);
    const onAbort = () => {
      if (measurements.length === 0) problem = "aborted";
      finish();
    };
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener("abort", onAbort, { once: true });
    next();
  });
}

/** The measurement with the least delay (the least disturbed by queueing), or null. */
export function leastDelay(measurements: readonly Measurement[]): Measurement | null {
  let best: Measurement | null = null;
  for (const m of measurements) if (best === null || m.delay < best.delay) best = m;
  return best;
}
