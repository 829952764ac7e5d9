// What the sock and pps source tasks share: an id among all sources, the
// counters and snapshot the observation shows, and the spawner that starts one
// task per `[[source]]` (a reference clock is never replaced: it has one path).

import type { ReferenceClockNoise } from "../proto/algorithm/reference-filter.js";
import type { PpsSourceConfig, SockSourceConfig } from "../proto/config/types.js";
import type { PollIntervalLimits } from "../proto/source/poll-interval.js";
import type { Measurement, SourceSnapshot } from "../proto/source/types.js";
import type { Logger } from "./log.js";
import { allocateSourceId } from "./source-task.js";
import type { Spawner } from "./spawners.js";
import type { WallClock } from "./wall-clock.js";

export interface ReferenceClockHooks {
  /** A sample, as a measurement against the system clock. */
  onMeasurement(task: ReferenceClockTask, measurement: Measurement): void;
}

export interface ReferenceClockContext {
  clock: WallClock;
  log: Logger;
  hooks: ReferenceClockHooks;
}

/** A reference clock's poll limits: it sends when it wants, the core only reports 0. */
const FIXED_POLL: Readonly<PollIntervalLimits> = Object.freeze({ min: 0, max: 0 });

export abstract class ReferenceClockTask {
  readonly id = allocateSourceId();
  /** ntpd-rs's observation names them so; the address is the path. */
  abstract readonly name: string;
  readonly path: string;
  readonly noise: ReferenceClockNoise;
  /** Samples handed on. */
  samples = 0;
  /** Samples dropped, by reason. */
  readonly dropped = new Map<string, number>();
  protected readonly context: ReferenceClockContext;
  #last: Measurement | null = null;

  /** What the system core needs to route desired polls: nothing to do here. */
  readonly polled = {
    pollLimits: FIXED_POLL,
    setDesiredPollInterval: (): void => {},
  };

  constructor(config: SockSourceConfig | PpsSourceConfig, context: ReferenceClockContext) {
    this.path = config.path;
    this.noise = {
      precision: config.precision,
      accuracy: config.accuracy,
      period: config.mode === "pps" ? config.period : null,
    };
    this.context = context;
  }

  abstract start(): void;
  abstract stop(): void;

  get droppedTotal(): number {
    let n = 0;
    for (const count of this.dropped.values()) n += count;
    return n;
  }

  /** Counts a dropped sample; the first of each reason is a warning, later ones debug. */
  protected drop(reason: string, detail: Record<string, string | number> = {}): void {
    const count = (this.dropped.get(reason) ?? 0) + 1;
    this.dropped.set(reason, count);
    this.context.log.log(count === 1 ? "warn" : "debug", "reference clock sample dropped", {
      source: this.name,
      path: this.path,
      reason,
      dropped: count,
      ...detail,
    });
  }

  protected deliver(measurement: Measurement): void {
    this.samples++;
    this.#last = measurement;
    this.context.hooks.onMeasurement(this, measurement);
  }

  /** For the observation, in the shape of a network source's snapshot. */
  snapshot(): SourceSnapshot {
    const m = this.#last;
    return {
      reach: m === null ? 0 : 0xff,
      reachable: m !== null,
      unansweredPolls: 0,
      polls: this.samples,
      pollInterval: 0,
      desiredPollInterval: 0,
      remoteMinPollInterval: 0,
      stratum: 0,
      referenceId: 0,
      rootDelay: 0,
      rootDispersion: 0,
      lastMeasurement: m,
      lastKissCode: null,
      denied: false,
      demobilized: false,
    };
  }
}

/** Starts and stops one reference clock task. */
export class ReferenceClockSpawner implements Spawner {
  readonly name: string;

  constructor(
    readonly task: ReferenceClockTask,
    private readonly onStarted: (task: ReferenceClockTask) => void,
    private readonly onStopped: (task: ReferenceClockTask) => void,
  ) {
    this.name = task.path;
  }

  start(): void {
    this.onStarted(this.task);
    this.task.start();
  }

  stop(): void {
    this.task.stop();
    this.onStopped(this.task);
  }
}
