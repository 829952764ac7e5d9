// The clock discipline of the daemon: measurements from the sources go to the
// sans-IO ClockController (src/proto/algorithm), and its actions are carried
// out here — steps and frequency changes on the clock, timers, the system
// state the servers publish, the desired poll of each source, log lines, and
// the exit on a panic threshold.
//
// The clock is the kernel's (steering the real system clock) or, with
// --no-clock-control, a VirtualClock layered on the system clock. Sources
// measure against the system clock, so for the virtual clock every
// measurement is moved into its frame first; what the virtual clock then
// holds is the daemon's estimate of the system clock's error.

import type { Config, NetworkSourceCommon } from "../proto/config/types.js";
import {
  ClockController,
  describeAction,
  type ControllerAction,
  type ControllerActions,
  type Instant,
} from "../proto/algorithm/controller.js";
import { referenceIdFromAddress } from "../proto/packet/reference-id.js";
import type { SystemStateCell } from "../proto/system/system-state.js";
import type { Measurement } from "../proto/source/types.js";
import type { SystemClock } from "../proto/clock/system-clock.js";
import type { DisciplineObserver, SourceEstimate, SystemEstimate } from "./observation.js";
import type { VirtualClock } from "./clock/virtual-clock.js";
import type { Logger } from "./log.js";
import type { SourceTask } from "./source-task.js";

/** What the discipline last concluded, for observation. */
export interface DisciplineState {
  /**
   * Estimate of true time minus the SYSTEM clock at the last update, seconds
   * (positive: the system clock is behind). For the kernel clock this is the
   * error just corrected; for the virtual clock, the error left in place.
   */
  offset: number | null;
  offsetUncertainty: number | null;
  /** Estimated rate of change of that offset, ppm (positive: the system clock runs slow). */
  frequency: number | null;
  /** Ids of the sources the last combination used. */
  selected: ReadonlySet<number>;
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
  readonly controller: ClockController;
  private readonly tasks = new Map<number, SourceTask>();
  private timer: NodeJS.Timeout | null = null;
  private controlTaken = false;
  private state: DisciplineState = {
    offset: null,
    offsetUncertainty: null,
    frequency: null,
    selected: new Set(),
  };

  constructor(private readonly options: DisciplineOptions) {
    this.controller = new ClockController(options.config.synchronization, {
      initialFrequencyPpm: options.clock.frequency(),
    });
  }

  get lastState(): DisciplineState {
    return this.state;
  }

  addSource(task: SourceTask, config: NetworkSourceCommon): void {
    this.tasks.set(task.id, task);
    const actions = this.controller.addSource(task.id, config.pollIntervalLimits, {
      referenceId: referenceIdFromAddress(task.address.address) ?? 0,
      initialPoll: config.initialPollInterval,
    });
    this.apply(actions);
  }

  removeSource(task: SourceTask): void {
    this.tasks.delete(task.id);
    this.controller.removeSource(task.id);
  }

  measurement(task: SourceTask, measurement: Measurement): void {
    this.apply(this.controller.measurement(task.id, this.inClockFrame(measurement), this.now()));
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private now(): Instant {
    return { wall: this.options.clock.now(), mono: this.options.clock.monotonic() };
  }

  /** Sources measure against the system clock; a virtual clock differs from it. */
  private inClockFrame(m: Measurement): Measurement {
    const virtual = this.options.virtual;
    if (virtual === null) return m;
    const shift = virtual.offsetFromSystem();
    return {
      ...m,
      offset: m.offset - shift,
      t1: m.t1.addSeconds(shift),
      t4: m.t4.addSeconds(shift),
    };
  }

  /** Per source, for the observation: offsets relative to the system clock. */
  source(id: number): SourceEstimate | undefined {
    const snap = this.controller.sourceSnapshot(id);
    if (snap === null) return undefined;
    return {
      offset: snap.offset + (this.options.virtual?.offsetFromSystem() ?? 0),
      uncertainty: snap.offsetUncertainty,
      delay: snap.delay,
      selected: this.state.selected.has(id),
    };
  }

  system(): SystemEstimate {
    const estimate: SystemEstimate = { accumulatedSteps: this.controller.accumulatedSteps };
    if (this.state.offset !== null) estimate.offset = this.state.offset;
    // The observation states rates in s/s, as ntpd-rs does; the state keeps ppm.
    if (this.state.frequency !== null) estimate.frequency = this.state.frequency * 1e-6;
    return estimate;
  }

  private apply(actions: ControllerActions): void {
    // The virtual clock's distance from the system clock before this batch of
    // corrections: an update's estimate is relative to the clock as it was.
    const virtual = this.options.virtual;
    const before = {
      offset: virtual?.offsetFromSystem() ?? 0,
      frequency: virtual?.frequencyVsSystem() ?? 0,
    };
    for (const action of actions) this.applyOne(action, before);
  }

  private applyOne(action: ControllerAction, before: { offset: number; frequency: number }): void {
    const { clock, log } = this.options;
    const line = describeAction(action);
    switch (action.kind) {
      case "step":
        this.takeControl();
        clock.step(action.offset);
        this.controller.applied(action, this.now());
        break;
      case "set-frequency":
        this.takeControl();
        clock.setFrequency(action.ppm);
        this.controller.applied(action, this.now());
        break;
      case "set-timer": {
        if (this.timer) clearTimeout(this.timer);
        const delayMs = Math.max(0, (action.at - clock.monotonic()) * 1000);
        this.timer = setTimeout(() => {
          this.timer = null;
          this.apply(this.controller.timer(this.now()));
        }, delayMs);
        break;
      }
      case "panic":
        if (line) log.log(line.level, line.message, { offset: `${action.offset.toFixed(6)}s` });
        this.options.onPanic(action.reason);
        return;
      case "update":
        this.state = {
          offset: action.offset + before.offset,
          offsetUncertainty: action.offsetUncertainty,
          frequency: action.frequency * 1e6 + before.frequency,
          selected: new Set(action.selected),
        };
        this.options.system?.set(action.system);
        if (this.options.virtual === null) {
          clock.setLeap(action.system.leap);
          clock.setErrorEstimates(action.offsetUncertainty, action.system.rootDelay);
        }
        break;
      case "desired-poll": {
        const task = this.tasks.get(action.id);
        if (task) {
          const burst = action.poll < task.source.pollLimits.min;
          task.source.setDesiredPollInterval(action.poll, burst);
        }
        break;
      }
      case "no-consensus":
      case "meddling":
        break;
    }
    if (line) log.log(line.level, line.message);
  }

  private takeControl(): void {
    if (this.controlTaken) return;
    this.controlTaken = true;
    this.options.clock.takeControl();
  }
}
