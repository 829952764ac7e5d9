// The daemon's driver of the system core (src/proto/system/time-system.ts):
// it hands the core the sources the spawners start and stop and every
// measurement they make, arms a real timer when the core asks for a wake-up,
// logs what the core does, exits on a panic, and reports the core's estimates
// to the observation. Everything between a measurement and the clock — the
// controller, the clock actions, the desired poll of each source, the system
// state the servers publish — is the core's, shared with the simulator.
//
// The clock is the kernel's (steering the real system clock) or, with
// --no-clock-control, a VirtualClock layered on the system clock: the core then
// moves every measurement into the virtual clock's frame, and what the virtual
// clock holds is the daemon's estimate of the system clock's error.
//
// What it reports is the estimate at the moment it is asked (TimeSystem.estimate
// and source): the last update carried forward with its frequency through the
// corrections made since, not the value the last update left behind.

import type { Config, NetworkSourceCommon } from "../proto/config/types.js";
import { describeAction, type ControllerAction } from "../proto/algorithm/controller.js";
import type { SystemClock } from "../proto/clock/system-clock.js";
import type { SystemStateCell } from "../proto/system/system-state.js";
import {
  TimeSystem,
  type DisciplineState,
  type PolledSource,
} from "../proto/system/time-system.js";
import type { Measurement } from "../proto/source/types.js";
import type { DisciplineObserver, SourceEstimate, SystemEstimate } from "./observation.js";
import type { VirtualClock } from "./clock/virtual-clock.js";
import type { Logger } from "./log.js";

/** What the discipline needs of a source task (SourceTask has it). */
export interface DisciplinedSource {
  readonly id: number;
  readonly address: { readonly address: string };
  readonly source: PolledSource;
}

export interface DisciplineOptions {
  config: Config;
  clock: SystemClock;
  /** Set when the clock is virtual (--no-clock-control). */
  virtual: VirtualClock | null;
  /** Where the servers read what to publish; null when the clock is not really steered. */
  system: SystemStateCell | null;
  log: Logger;
  /** A panic threshold was exceeded: the daemon must exit 70. */
  onPanic(reason: string): void;
}

export class ClockDiscipline implements DisciplineObserver {
  readonly core: TimeSystem;
  /** Called after each clock update (a step, or a steer by an update); no-certificate-time-check counts them. */
  onClockUpdate: (() => void) | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: DisciplineOptions) {
    this.core = new TimeSystem({
      synchronization: options.config.synchronization,
      clock: options.clock,
      layered: options.virtual,
      published: options.system,
      wakeAt: (at) => this.wakeAt(at),
      events: {
        action: (action) => {
          this.logAction(action);
          if (action.kind === "step" || action.kind === "update") this.onClockUpdate?.();
        },
        panic: (action) => options.onPanic(action.reason),
      },
    });
  }

  get lastState(): DisciplineState {
    return this.core.lastState;
  }

  addSource(
    task: DisciplinedSource,
    config: Pick<NetworkSourceCommon, "initialPollInterval">,
  ): void {
    this.core.addSource(task.id, task.source, {
      address: task.address.address,
      initialPoll: config.initialPollInterval,
    });
  }

  removeSource(task: DisciplinedSource): void {
    this.core.removeSource(task.id);
  }

  measurement(task: DisciplinedSource, measurement: Measurement): void {
    this.core.measurement(task.id, measurement);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Per source, for the observation: offsets relative to the system clock, now. */
  source(id: number): SourceEstimate | undefined {
    return this.core.source(id) ?? undefined;
  }

  /** The system clock's error at the moment of the query (see ClockEstimate). */
  system(): SystemEstimate {
    const now = this.core.estimate();
    const estimate: SystemEstimate = { accumulatedSteps: this.core.controller.accumulatedSteps };
    if (now !== null) {
      estimate.offset = now.offset;
      // The observation states rates in s/s, as ntpd-rs does; the core keeps ppm.
      estimate.frequency = now.frequency * 1e-6;
    }
    return estimate;
  }

  private wakeAt(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    const delayMs = Math.max(0, (at - this.options.clock.monotonic()) * 1000);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.core.timer();
    }, delayMs);
  }

  private logAction(action: ControllerAction): void {
    const line = describeAction(action);
    if (line === null) return;
    if (action.kind === "panic") {
      this.options.log.log(line.level, line.message, { offset: `${action.offset.toFixed(6)}s` });
    } else {
      this.options.log.log(line.level, line.message);
    }
  }
}
