// The system core: the sans-IO glue between the sources, the ClockController
// and the clock, in one object that the daemon (src/daemon/discipline.ts) and
// the simulator (sim/simulation.ts) both drive. ntpd-rs keeps the same role in
// its sans-IO crate (a System that owns the controller, hands sources to it and
// turns its updates into timer requests and messages to the sources).
//
// The driver tells it about sources (addSource / removeSource), hands it every
// measurement, and calls timer() once the monotonic time it asked for through
// wakeAt() has come (a later request replaces an earlier one: the daemon uses
// setTimeout, the simulator its event queue). Everything the controller asks
// for is carried out here, in order, through the SystemClock interface:
//
//   step / set-frequency  on the clock (control is taken first, once), then
//                         confirmed to the controller with applied()
//   set-timer             wakeAt(at)
//   desired-poll          the source's setDesiredPollInterval (a burst below its minimum)
//   update                the DisciplineState kept for observation, the SystemState
//                         the servers publish, the clock's leap and error estimates
//                         (the leap indicator decided by leap-decision.ts from the
//                         sources' vote and the leap-seconds file, if any)
//
// Between updates it follows the error it last estimated through every
// correction it carries out (error-track.ts), so that estimate() and source()
// answer for the moment they are asked, as chrony's tracking does.
//   panic                 the driver's panic hook; the rest of the batch is dropped
//
// What the drivers record or log (steps, slews, updates, panics, no consensus,
// meddling) comes out through TimeSystemEvents.

import {
  ClockController,
  type ControllerAction,
  type ControllerActions,
  type Instant,
} from "../algorithm/controller.js";
import type { ReferenceClockNoise } from "../algorithm/reference-filter.js";
import { measurementTime, type SourceFilterSnapshot } from "../algorithm/source-filter.js";
import type { SystemClock } from "../clock/system-clock.js";
import type { SynchronizationConfig } from "../config/types.js";
import { referenceIdFromAddress } from "../packet/reference-id.js";
import type { PollIntervalLimits } from "../source/poll-interval.js";
import type { Measurement } from "../source/types.js";
import type { NtpTimestamp } from "../time.js";
import { SMEAR_HALF_WINDOW } from "../leap/smear.js";
import { decideLeap, type LeapDecision, type LeapEvent } from "../leap/leap-decision.js";
import type { LeapSecondsList } from "../leap/leap-seconds-list.js";
import { DRIFT_WRITE_INTERVAL, driftPrior, type DriftRecord } from "./drift.js";
import { ErrorTrack } from "./error-track.js";
import type { SystemStateCell } from "./system-state.js";
import { emptyBloomFilter, mergeBloomFilter, sameBloomFilter } from "../packet/v5-bloom.js";

type ActionOf<K extends ControllerAction["kind"]> = Extract<ControllerAction, { kind: K }>;
export type StepAction = ActionOf<"step">;
export type FrequencyAction = ActionOf<"set-frequency">;
export type UpdateAction = ActionOf<"update">;
export type PanicAction = ActionOf<"panic">;
export type NoConsensusAction = ActionOf<"no-consensus">;
export type MeddlingAction = ActionOf<"meddling">;

/** What the core needs of a source's driver: where to route its desired poll interval. */
/**
 * Frequency changes kept for interleaved measurements: one per update or slew end,
 * far more than the few poll intervals an interleaved measurement lies behind.
 */
const MAX_FREQUENCY_CHANGES = 64;

export interface PolledSource {
  readonly pollLimits: Readonly<PollIntervalLimits>;
  setDesiredPollInterval(log2: number, burst?: boolean): void;
  /** The steered clock was stepped (interleaved mode forgets the times it kept). */
  clockStepped?(): void;
  /** NTPv5: the source's whole reference-ID Bloom filter, once fetched; null otherwise. */
  referenceIdFilter?(): Uint8Array | null;
}

/**
 * A steered clock layered on the clock the sources measure against (the daemon's
 * VirtualClock with --no-clock-control): both as seen from the measured clock.
 */
export interface LayeredClock {
  /** Steered − measured clock, s. */
  offsetFromSystem(): number;
  /** Rate of change of that, ppm. */
  frequencyVsSystem(): number;
}

/** What the core last concluded, for observation. */
export interface DisciplineState {
  /**
   * Estimate of true time minus the MEASURED clock (the system clock) at the last
   * update, s (positive: it is behind). For a clock that is steered this is the error
   * just corrected; for a layered clock, the system clock's error left in place.
   */
  offset: number | null;
  offsetUncertainty: number | null;
  /** Estimated rate of change of that offset, ppm (positive: the measured clock runs slow). */
  frequency: number | null;
  /** Ids of the sources the last combination used. */
  selected: ReadonlySet<number>;
}

/**
 * The measured clock's error at the moment asked for: the last update carried
 * forward through the corrections made since.
 */
export interface ClockEstimate {
  /**
   * Estimate of true time minus the measured clock now, s (positive: it is
   * behind). For a clock that is steered, the error the corrections have left (a
   * slew in progress not yet done counts); for a layered clock, the measured
   * clock's whole error.
   */
  offset: number;
  /**
   * How fast that error grows, ppm (positive: the measured clock runs slow); for
   * a steered clock without the temporary rate of a slew in progress.
   */
  frequency: number;
}

/** One source as the core sees it, offsets relative to the measured clock. */
export interface SourceView {
  /** Remote − measured clock now (the filter's estimate carried forward), s. */
  offset: number;
  /** s, one standard deviation. */
  uncertainty: number;
  /** s. */
  delay: number;
  /** The last combination used it. */
  selected: boolean;
}

/**
 * What happened, for the driver to log or record. `action` comes before the core
 * carries an action out (the clock as it was); the others after.
 */
export interface TimeSystemEvents {
  /** Every action, with the source whose input caused it (null: the timer). */
  action?(action: ControllerAction, source: number | null): void;
  step?(action: StepAction): void;
  frequency?(action: FrequencyAction): void;
  update?(action: UpdateAction): void;
  noConsensus?(action: NoConsensusAction): void;
  meddling?(action: MeddlingAction): void;
  /**
   * Time to write the drift file (drift.ts): at an update, DRIFT_WRITE_INTERVAL
   * after the start and after the last time.
   */
  driftDue?(record: DriftRecord): void;
  /** The leap indicator decided at an update changed (or where it came from did). */
  leap?(decision: LeapDecision): void;
  /** A panic threshold was exceeded; nothing was stepped. The driver must stop (the daemon exits 70). */
  panic(action: PanicAction): void;
}

export interface TimeSystemOptions {
  synchronization: SynchronizationConfig;
  /** The clock steered. */
  clock: SystemClock;
  /** Set when `clock` is layered on the clock the sources measure against. */
  layered?: LayeredClock | null;
  /** Where the servers read what to publish; null when the clock is not really steered. */
  published?: SystemStateCell | null;
  /**
   * A frequency kept from an earlier run (the drift file): put on the clock at
   * once (control is taken then) and seeds the filters' frequency.
   */
  drift?: DriftRecord | null;
  /** A checked leap-seconds file (leap-seconds-list.ts); null or absent: none. */
  leapSeconds?: LeapSecondsList | null;
  /** Call timer() once monotonic time `at` (s) has come; replaces any earlier request. */
  wakeAt(at: number): void;
  events: TimeSystemEvents;
}

export interface AddSourceOptions {
  /** The server's address: the reference id published while it is the primary. */
  address: string;
  /** Desired poll exponent after start-up (`initial-poll-interval`). */
  initialPoll: number;
  /** A reference clock (sock, pps): its stated noise and period (reference-filter.ts). */
  referenceClock?: ReferenceClockNoise;
  /** Published while it is the primary instead of one derived from `address`. */
  referenceId?: number;
}

/** What one batch of actions did, for the update among them. */
interface Batch {
  /** The layered clock's offsetFromSystem() before the batch, s. */
  offset: number;
  /** Its frequencyVsSystem() before the batch, ppm. */
  frequency: number;
  /** Steps carried out so far in the batch, s. */
  stepped: number;
  /** Frequency changes carried out so far in the batch, s/s. */
  frequencyChange: number;
}

const NO_STATE: DisciplineState = {
  offset: null,
  offsetUncertainty: null,
  frequency: null,
  selected: new Set(),
};

export class TimeSystem {
  readonly controller: ClockController;
  readonly #options: TimeSystemOptions;
  readonly #sources = new Map<number, PolledSource>();
  /**
   * The measured clock's recent frequency changes (monotonic s, relative change),
   * for interleaved measurements taken before them (#inClockFrame). Bounded.
   */
  readonly #frequencyChanges: { at: number; change: number }[] = [];
  #controlTaken = false;
  #state = NO_STATE;
  /** The steered clock's error since the last update. */
  readonly #error = new ErrorTrack();
  #leapSeconds: LeapSecondsList | null;
  #leap: LeapDecision | null = null;
  /** The frequency uncertainty of the last update, ppm; null before it. */
  #frequencyUncertainty: number | null = null;
  /** Monotonic time of the last drift write (or of the start). */
  #driftWritten: number;
  /** The last leap announced: published for half a day after it, for smearing servers. */
  #lastLeapEvent: LeapEvent | null = null;
  /** The last published union of the used sources' v5 Bloom filters. */
  #upstreamReferenceIds: Uint8Array | null = null;

  constructor(options: TimeSystemOptions) {
    this.#options = options;
    this.#leapSeconds = options.leapSeconds ?? null;
    this.#driftWritten = options.clock.monotonic();
    const drift = options.drift ?? null;
    let frequency = options.clock.frequency();
    if (drift !== null) {
      this.#takeControl();
      frequency = options.clock.setFrequency(drift.frequencyPpm);
    }
    this.controller = new ClockController(options.synchronization, {
      initialFrequencyPpm: frequency,
      frequencyPriorPpm: drift === null ? undefined : driftPrior(drift),
    });
  }

  get lastState(): DisciplineState {
    return this.#state;
  }

  /** The leap decision of the last update, or null before it. */
  get leap(): LeapDecision | null {
    return this.#leap;
  }

  /**
   * What the drift file should hold now: the frequency correction commanded
   * (without a slew in progress) and the last update's uncertainty; null before
   * the first update.
   */
  driftRecord(): DriftRecord | null {
    if (this.#frequencyUncertainty === null) return null;
    return {
      frequencyPpm: this.controller.baseFrequencyPpm,
      uncertaintyPpm: this.#frequencyUncertainty,
    };
  }

  /** Replaces the leap-seconds file (a reload); it counts from the next update. */
  setLeapSecondsList(list: LeapSecondsList | null): void {
    this.#leapSeconds = list;
  }

  /** Starts steering with source `id` (before its first poll). */
  addSource(id: number, source: PolledSource, options: AddSourceOptions): void {
    this.#sources.set(id, source);
    const actions = this.controller.addSource(id, source.pollLimits, {
      referenceId: options.referenceId ?? referenceIdFromAddress(options.address) ?? 0,
      initialPoll: options.initialPoll,
      referenceClock: options.referenceClock,
    });
    this.#apply(actions, id);
  }

  removeSource(id: number): void {
    this.#sources.delete(id);
    this.controller.removeSource(id);
  }

  /** A measurement of source `id`, taken against the measured clock. */
  measurement(id: number, measurement: Measurement): void {
    const m = this.#inClockFrame(measurement);
    this.#apply(this.controller.measurement(id, m, this.#now()), id);
  }

  /** The time asked for with wakeAt has come. */
  timer(): void {
    this.#apply(this.controller.timer(this.#now()), null);
  }

  /** The measured clock's error now, or null before the first update. */
  estimate(): ClockEstimate | null {
    const error = this.#error.at(this.#options.clock.monotonic());
    if (error === null) return null;
    const layered = this.#options.layered;
    if (layered == null) {
      // The steered clock is the measured one: a slew in progress is a correction
      // under way, not a frequency error.
      return {
        offset: error.offset,
        frequency: (error.rate - error.slewRate) * 1e6,
      };
    }
    // The measured clock is left alone: its error is the layered clock's plus the
    // distance between the two, and a slew of the layered clock cancels out.
    return {
      offset: error.offset + layered.offsetFromSystem(),
      frequency: error.rate * 1e6 + layered.frequencyVsSystem(),
    };
  }

  /** Source `id` for observation now, or null when the controller has no estimate of it. */
  source(id: number): SourceView | null {
    const snap: SourceFilterSnapshot | null = this.controller.sourceSnapshot(id);
    if (snap === null) return null;
    // The filter's state describes its own instant, which only moves with samples
    // and steering: carried forward to now, a source's offset moves smoothly
    // instead of jumping whenever the filter is next brought forward.
    const ahead = this.#options.clock.now().diffSeconds(snap.time);
    return {
      offset:
        snap.offset + snap.frequency * ahead + (this.#options.layered?.offsetFromSystem() ?? 0),
      uncertainty: snap.offsetUncertainty,
      delay: snap.delay,
      selected: this.#state.selected.has(id),
    };
  }

  #now(): Instant {
    const { clock } = this.#options;
    return { wall: clock.now(), mono: clock.monotonic() };
  }

  // The frame shift of a layered clock lives here, not in the daemon: it has to be
  // read at exact points of the action handling (before a batch of corrections moves
  // the layered clock), which only the core sees; and so the simulator can drive a
  // layered clock through the very same code.

  /**
   * Sources measure against the measured clock; a layered clock differs from it.
   * An interleaved measurement's times were taken a poll interval or more ago,
   * before corrections that the filters have taken in since: it is expressed as
   * the filters see the past, as if the steered clock had always run at its
   * present rate (what applyFrequencySteer assumes). Steps in between: the
   * sources dropped those times (clockStepped).
   */
  #inClockFrame(m: Measurement): Measurement {
    const layered = this.#options.layered;
    if (layered == null) {
      const ago = m.interleaved === true ? this.#options.clock.now().diffSeconds(m.t4) : 0;
      if (!(ago > 0)) return m;
      // Each change since then: at the time of the measurement the clock would have
      // read change × (the change's time − then) less had it run at the new rate.
      const then = this.#options.clock.monotonic() - ago;
      let shift = 0;
      for (const { at, change } of this.#frequencyChanges) {
        if (at > then) shift -= change * (at - then);
      }
      if (shift === 0) return m;
      return {
        ...m,
        offset: m.offset - shift,
        t1: m.t1.addSeconds(shift),
        t4: m.t4.addSeconds(shift),
      };
    }
    // The sample's offset holds at its time (the midpoint of T1 and T4, read from
    // the measured clock), when the layered clock was `since` seconds less far
    // along its present frequency. The distance now would be off by that rate
    // times the time the sample took to be handed in (a clock steered 40 ppm
    // and a loaded event loop: 40 ppm · 10 ms = 0.4 µs, always of one sign).
    const distance = layered.offsetFromSystem();
    const measuredNow = this.#options.clock.now().addSeconds(-distance);
    const since = measuredNow.diffSeconds(measurementTime(m));
    const shift = distance - (since > 0 ? layered.frequencyVsSystem() * 1e-6 * since : 0);
    return {
      ...m,
      offset: m.offset - shift,
      t1: m.t1.addSeconds(shift),
      t4: m.t4.addSeconds(shift),
    };
  }

  #apply(actions: ControllerActions, source: number | null): void {
    // The layered clock's distance from the measured clock before this batch of
    // corrections: an update's estimate is relative to the clock as it was.
    const layered = this.#options.layered;
    const batch: Batch = {
      offset: layered?.offsetFromSystem() ?? 0,
      frequency: layered?.frequencyVsSystem() ?? 0,
      stepped: 0,
      frequencyChange: 0,
    };
    for (const action of actions) {
      this.#options.events.action?.(action, source);
      if (!this.#carryOut(action, batch)) return;
    }
  }

  /** Carries out one action; false after a panic (the rest of the batch is dropped). */
  #carryOut(action: ControllerAction, batch: Batch): boolean {
    const { clock, events } = this.#options;
    switch (action.kind) {
      case "step":
        this.#takeControl();
        clock.step(action.offset);
        this.#error.stepped(action.offset);
        for (const polled of this.#sources.values()) polled.clockStepped?.();
        batch.stepped += action.offset;
        this.controller.applied(action, this.#now());
        events.step?.(action);
        return true;
      case "set-frequency": {
        this.#takeControl();
        const was = clock.frequency();
        const took = clock.setFrequency(action.ppm);
        // What the clock took (a kernel rounds), relative as the filters are told.
        const change = (1 + took * 1e-6) / (1 + was * 1e-6) - 1;
        const slewRate =
          action.reason === "slew-start" && action.slew !== null
            ? -action.slew.offset / action.slew.duration
            : action.reason === "slew-end"
              ? 0
              : undefined;
        const now = this.#now();
        this.#error.frequencyChanged(change, now.mono, slewRate);
        this.#frequencyChanges.push({ at: now.mono, change });
        if (this.#frequencyChanges.length > MAX_FREQUENCY_CHANGES) this.#frequencyChanges.shift();
        batch.frequencyChange += change;
        this.controller.applied(action, now);
        events.frequency?.(action);
        return true;
      }
      case "set-timer":
        this.#options.wakeAt(action.at);
        return true;
      case "panic":
        events.panic(action);
        return false;
      case "update":
        this.#update(action, batch);
        events.update?.(action);
        return true;
      case "desired-poll": {
        const target = this.#sources.get(action.id);
        if (target !== undefined) {
          // Below the configured minimum only during the start-up burst.
          target.setDesiredPollInterval(action.poll, action.poll < target.pollLimits.min);
        }
        return true;
      }
      case "no-consensus":
        events.noConsensus?.(action);
        return true;
      case "meddling":
        events.meddling?.(action);
        return true;
    }
  }

  #update(action: UpdateAction, batch: Batch): void {
    this.#state = {
      offset: action.offset + batch.offset,
      offsetUncertainty: action.offsetUncertainty,
      frequency: action.frequency * 1e6 + batch.frequency,
      selected: new Set(action.selected),
    };
    // The estimate describes the clock as it was before this batch, at the
    // instant the published root variance starts from (in the clock's time after
    // the batch's step): carried forward to now, then corrected as this batch
    // already corrected the clock.
    const now = this.#now();
    const elapsed = now.wall.diffSeconds(action.system.rootVarianceBaseTime);
    this.#error.update(action.offset + action.frequency * elapsed, action.frequency, now.mono);
    this.#error.stepped(batch.stepped);
    this.#error.frequencyChanged(batch.frequencyChange, now.mono);
    const system = {
      ...this.#withLeap(action.system, now.wall),
      upstreamReferenceIds: this.#upstreamReferenceIdsOf(action.selected),
    };
    this.#options.published?.set(system);
    this.#frequencyUncertainty = action.frequencyUncertainty * 1e6;
    if (now.mono - this.#driftWritten >= DRIFT_WRITE_INTERVAL && this.#options.events.driftDue) {
      this.#driftWritten = now.mono;
      this.#options.events.driftDue(this.driftRecord()!);
    }
    // The leap indicator and error estimates describe the measured clock to the
    // kernel; a layered clock leaves that clock alone.
    if (this.#options.layered == null) {
      this.#options.clock.setLeap(system.leap);
      this.#options.clock.setErrorEstimates(action.offsetUncertainty, action.system.rootDelay);
    }
  }

  /**
   * The system state with the leap indicator for today (leap-decision.ts) and the
   * leap it announces, or the last one for half a day after it (the smear's end).
   */
  /**
   * The union of the v5 Bloom filters of the sources in use (SystemState's
   * upstreamReferenceIds): the previous array while its bits stay the same, so
   * that servers recompute what they publish only when it changed.
   */
  #upstreamReferenceIdsOf(selected: readonly number[]): Uint8Array | null {
    let merged: Uint8Array | null = null;
    for (const id of selected) {
      const filter = this.#sources.get(id)?.referenceIdFilter?.() ?? null;
      if (filter === null) continue;
      merged ??= emptyBloomFilter();
      mergeBloomFilter(merged, filter);
    }
    const previous = this.#upstreamReferenceIds;
    const same =
      merged === null ? previous === null : previous !== null && sameBloomFilter(merged, previous);
    if (!same) this.#upstreamReferenceIds = merged;
    return this.#upstreamReferenceIds;
  }

  #withLeap(system: UpdateAction["system"], wall: NtpTimestamp): UpdateAction["system"] {
    const nowSeconds = wall.seconds + wall.fraction / 2 ** 32;
    const decision = decideLeap(system.leap, this.#leapSeconds, nowSeconds);
    const previous = this.#leap;
    this.#leap = decision;
    if (
      previous === null ||
      previous.leap !== decision.leap ||
      previous.from !== decision.from ||
      previous.sourcesDisagree !== decision.sourcesDisagree
    ) {
      this.#options.events.leap?.(decision);
    }
    if (decision.event !== null) this.#lastLeapEvent = decision.event;
    const recent = this.#lastLeapEvent;
    const leapEvent =
      decision.event ??
      (recent !== null && nowSeconds < recent.at + SMEAR_HALF_WINDOW ? recent : null);
    return { ...system, leap: decision.leap, leapEvent };
  }

  #takeControl(): void {
    if (this.#controlTaken) return;
    this.#controlTaken = true;
    this.#options.clock.takeControl();
  }
}
