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
// Files (docs/leap-seconds.md, docs/ntp-daemon.md "The drift file"): the
// leap-seconds file is read at start and again once a day (tzdata updates it);
// the drift file is read at start, written when the core asks (hourly) and at
// stop(). Their problems are logged with file and line; none stops the daemon.
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
import type { ReferenceClockTask } from "./reference-clock.js";
import type { Logger } from "./log.js";
import type { LeapDecision } from "../proto/leap/leap-decision.js";
import { ntpDate } from "../proto/leap/leap-seconds-list.js";
import type { DriftRecord } from "../proto/system/drift.js";
import { readDriftFile, writeDriftFile } from "./drift-file.js";
import { readLeapSecondsFile } from "./leap-file.js";

/** How often the leap-seconds file is read again, ms (tzdata replaces it twice a year). */
const LEAP_FILE_REREAD_MS = 24 * 3600 * 1000;

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
  private leapTimer: NodeJS.Timeout | null = null;
  /** The leap file's last problem, so a daily re-read repeats no warning. */
  private leapProblem: string | null = null;
  /** A leap-seconds file was in use at the last read. */
  private leapInUse = false;

  constructor(private readonly options: DisciplineOptions) {
    const sync = options.config.synchronization;
    this.core = new TimeSystem({
      synchronization: sync,
      clock: options.clock,
      layered: options.virtual,
      published: options.system,
      drift: sync.driftFile == null ? null : this.readDrift(sync.driftFile),
      leapSeconds: sync.leapSecondsFile == null ? null : this.readLeapFile(sync.leapSecondsFile),
      wakeAt: (at) => this.wakeAt(at),
      events: {
        action: (action) => {
          this.logAction(action);
          if (action.kind === "step" || action.kind === "update") this.onClockUpdate?.();
        },
        panic: (action) => options.onPanic(action.reason),
        driftDue: (record) => this.writeDrift(record),
        leap: (decision) => this.logLeap(decision),
      },
    });
    if (sync.leapSecondsFile != null) {
      const path = sync.leapSecondsFile;
      this.leapTimer = setInterval(
        () => this.core.setLeapSecondsList(this.readLeapFile(path)),
        LEAP_FILE_REREAD_MS,
      );
      this.leapTimer.unref();
    }
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

  /** A sock or pps source: its stated noise instead of delay statistics (reference-filter.ts). */
  addReferenceClock(task: ReferenceClockTask): void {
    this.core.addSource(task.id, task.polled, {
      address: task.path,
      initialPoll: 0,
      referenceClock: task.noise,
      referenceId: referenceClockId(task.noise.period === null ? "GPS" : "PPS"),
    });
  }

  removeSource(task: Pick<DisciplinedSource, "id">): void {
    this.core.removeSource(task.id);
  }

  measurement(task: Pick<DisciplinedSource, "id">, measurement: Measurement): void {
    this.core.measurement(task.id, measurement);
  }

  /** Stops the timers and keeps the frequency in the drift file, if there is one. */
  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.leapTimer) clearInterval(this.leapTimer);
    this.leapTimer = null;
    const record = this.core.driftRecord();
    if (record !== null) this.writeDrift(record);
  }

  private readDrift(path: string): DriftRecord | null {
    const outcome = readDriftFile(path);
    const log = this.options.log;
    if (outcome.kind === "missing") {
      log.info("no drift file yet: the frequency is learnt from the sources", { path });
      return null;
    }
    if (outcome.kind === "bad") {
      log.warn(outcome.problem);
      return null;
    }
    log.info("frequency from the drift file", {
      path,
      frequency: `${outcome.record.frequencyPpm.toFixed(3)}ppm`,
      uncertainty: `${outcome.record.uncertaintyPpm.toFixed(3)}ppm`,
    });
    return outcome.record;
  }

  private writeDrift(record: DriftRecord): void {
    const path = this.options.config.synchronization.driftFile;
    if (path == null) return;
    try {
      writeDriftFile(path, record);
      this.options.log.debug("drift file written", {
        path,
        frequency: `${record.frequencyPpm.toFixed(3)}ppm`,
      });
    } catch (error) {
      this.options.log.warn((error as Error).message);
    }
  }

  private readLeapFile(path: string) {
    const outcome = readLeapSecondsFile(path, this.options.clock.now().seconds);
    if (!outcome.ok) {
      if (outcome.problem !== this.leapProblem) this.options.log.warn(outcome.problem);
      this.leapProblem = outcome.problem;
      this.leapInUse = false;
      return null;
    }
    if (!this.leapInUse) {
      this.options.log.info("leap-seconds file in use", {
        path,
        expires: ntpDate(outcome.list.expires),
      });
    }
    this.leapProblem = null;
    this.leapInUse = true;
    return outcome.list;
  }

  private logLeap(decision: LeapDecision): void {
    const log = this.options.log;
    if (decision.event !== null) {
      const what = decision.event.insert ? "inserted (23:59:60)" : "deleted (23:59:59)";
      log.warn(`leap second to be ${what} at the end of ${ntpDate(decision.event.at - 1)} UTC`, {
        from: decision.from,
      });
    }
    if (decision.sourcesDisagree) {
      log.info("the sources' leap indicators disagree with the leap-seconds file; the file wins", {
        file: decision.leap,
      });
    }
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

/** A stratum-1 reference id: up to four ASCII letters, left-aligned (RFC 5905 "GPS", "PPS"). */
function referenceClockId(code: string): number {
  let id = 0;
  for (let i = 0; i < 4; i++) id = id * 256 + (code.charCodeAt(i) || 0);
  return id >>> 0;
}
