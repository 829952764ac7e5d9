// The clock controller: the sans-IO steering brain (ntpd-rs
// `algorithm/kalman/mod.rs`, rewritten). The system core
// (src/proto/system/time-system.ts), which the daemon and the simulator both
// drive, drives it:
//
//   addSource(id, limits, { referenceId })  when a source starts
//   measurement(id, m, now)                 for every usable sample
//   timer(now)                              when a requested timer expires
//   applied(action, now)                    after applying a step or frequency
//
// Each call returns ControllerActions; the controller never touches a clock.
// It assumes every "step" and "set-frequency" it emits is applied, in order,
// and confirmed with applied() before the next measurement: applied() is what
// tells every source filter that the local clock changed (ntpd-rs broadcasts
// the same steer notifications to its sources). A step that is applied but not
// confirmed looks like meddling to the filters and restarts them.
//
// Steering on every successful combination (offset Δ ± σΔ, frequency ω ± σω):
//   * no slew running and |Δ| > steer-offset-threshold·σΔ: correct
//     c = Δ − steer-offset-leftover·σΔ·sign(Δ);
//       |c| > step-threshold → step (after the panic thresholds),
//       else slew: add ±min(slew-maximum-frequency-offset, |c|/slew-minimum-duration)
//       to the frequency (together with the full frequency error) and ask for a
//       timer at the end of the slew, which removes the extra rate again;
//   * else if |ω − slew rate| > steer-frequency-threshold·σω: correct the
//     frequency error (minus steer-frequency-leftover·σω).
// The total frequency correction is clamped to ±maximum-frequency-steer.
// A frequency no better known than initial-frequency-uncertainty (a start-up
// source without a line through its samples yet) is taken as the slew rate
// under way. While a combined source is in start-up (after the first
// correction) the frequency is not corrected and no slew starts: only settled
// estimates steer the clock; the update still publishes the estimate.
// Steps before the first successful combination are checked against
// startup-step-panic-threshold, later ones against single-step-panic-threshold
// and accumulated-step-panic-threshold (the sum of later steps).

import type { StepThreshold, SynchronizationConfig } from "../config/types.js";
import type { PollIntervalLimits } from "../source/poll-interval.js";
import type { Measurement } from "../source/types.js";
import { initialSystemState, type SystemState } from "../system/system-state.js";
import type { NtpTimestamp } from "../time.js";
import { combine, systemStateFrom, type CombineInput } from "./combine.js";
import { MeasuredInterval, driftBound } from "./measured-interval.js";
import { ReferenceClockFilter, type ReferenceClockNoise } from "./reference-filter.js";
import { selectSources, type SelectionCandidate } from "./select.js";
import {
  LATE_TOLERANCE,
  SourceFilter,
  measurementTime,
  type Instant,
  type SourceFilterSnapshot,
} from "./source-filter.js";

export type { Instant } from "./source-filter.js";

/** ntpd-rs's message when a panic threshold is exceeded (the daemon exits 70). */
export const PANIC_MESSAGE =
  "Unusually large clock step suggested, please manually verify system clock and reference clock state and restart if appropriate.";
export const MEDDLING_MESSAGE = "Detected clock meddling. Has another process updated the clock?";
export const NO_CONSENSUS_MESSAGE = "No consensus on current time";
/** Unconfirmed steps/frequency changes remembered for applied(). */
const MAX_PENDING = 16;

export type ControllerAction =
  /** Add `offset` seconds to the clock. `level`: log it at WARN (warn-on-jump) or INFO. */
  | { kind: "step"; offset: number; level: "warn" | "info"; startup: boolean }
  /**
   * Set the total frequency correction of the clock to `ppm` (positive: run
   * faster), already clamped to ±maximum-frequency-steer.
   */
  | {
      kind: "set-frequency";
      ppm: number;
      reason: "frequency" | "slew-start" | "slew-end";
      /** For "slew-start": the offset being slewed away and how long it takes. */
      slew: { offset: number; duration: number } | null;
    }
  /** Call timer() at monotonic time `at` (seconds); replaces any earlier request. */
  | { kind: "set-timer"; at: number }
  /** A panic threshold was exceeded: log `reason` as an error and exit 70. Nothing was stepped. */
  | {
      kind: "panic";
      reason: string;
      offset: number;
      threshold: "startup" | "single" | "accumulated";
    }
  /** The sources do not agree: the clock was left alone. */
  | { kind: "no-consensus"; agreeing: number; voting: number }
  /**
   * A successful combination. `system` is what the server now publishes.
   * Offsets in seconds, frequencies in s/s (formatUpdate gives the log line).
   */
  | {
      kind: "update";
      system: SystemState;
      offset: number;
      offsetUncertainty: number;
      frequency: number;
      frequencyUncertainty: number;
      /** Ids of the combined sources, the primary first. */
      selected: number[];
      /** Voting sources that disagreed with the majority. */
      outvoted: number[];
    }
  /** Source `id` should now poll every 2^poll seconds. */
  | { kind: "desired-poll"; id: number; poll: number }
  /** Source `id` saw the clock jump behind our back and restarted its filter. */
  | { kind: "meddling"; id: number; wallElapsed: number; monoElapsed: number };

export type ControllerActions = ControllerAction[];

export interface ControllerOptions {
  /** Precision of the local clock, log2 s (published in the system state); default -18. */
  precisionLog2?: number;
  /** Poll every 2 s during each source's first start-up; default true. */
  startupBurst?: boolean;
  /**
   * The clock's frequency correction (ppm) when the controller takes over (the
   * kernel keeps it across daemon restarts). Default 0.
   */
  initialFrequencyPpm?: number;
  /**
   * How far the true frequency may be from `initialFrequencyPpm`, one σ in ppm,
   * when that was kept from an earlier run (the drift file): each source's filter
   * starts with this prior on its frequency instead of
   * `initial-frequency-uncertainty` (SourceFilter's frequencyPrior). Default none.
   */
  frequencyPriorPpm?: number;
}

export interface SourceOptions {
  /**
   * Reference id this host publishes while the source is its primary: the
   * source's IPv4 address, or the MD5 hash of its IPv6 address
   * (referenceIdFromAddress). Default 0.
   */
  referenceId?: number;
  /** Desired poll exponent after start-up (`initial-poll-interval`); default the minimum. */
  initialPoll?: number;
  /** Whether the source may be selected (see setUsable); default true. */
  usable?: boolean;
  /** A reference clock (sock, pps): its stated noise replaces the delay statistics. */
  referenceClock?: ReferenceClockNoise;
}

/** What the controller needs of a source's filter (SourceFilter, ReferenceClockFilter). */
type ClockFilter = Pick<
  SourceFilter,
  | "update"
  | "snapshot"
  | "desiredPoll"
  | "filterTime"
  | "progress"
  | "applyOffsetSteer"
  | "applyFrequencySteer"
>;

interface SourceEntry {
  filter: ClockFilter;
  /** Offsets known only modulo this period (pps): the source does not vote. */
  periodic: boolean;
  /** What the source's own samples prove: its selection interval while the filter is young. */
  measured: MeasuredInterval;
  usable: boolean;
  referenceId: number;
  /** The last desired poll reported in an action. */
  reportedPoll: number | null;
}

/** ntpd-rs `StepThreshold::is_within`: −backward < d < forward (strict). */
export function withinThreshold(threshold: StepThreshold, offset: number): boolean {
  return offset < threshold.forward && offset > -threshold.backward;
}

/**
 * The panic checks for a step of `offset` seconds. During start-up only the
 * start-up threshold applies and the step does not count towards the
 * accumulated total; afterwards `accumulated` grows by |offset| first.
 */
export function checkStep(
  config: Pick<
    SynchronizationConfig,
    "startupStepPanicThreshold" | "singleStepPanicThreshold" | "accumulatedStepPanicThreshold"
  >,
  offset: number,
  inStartup: boolean,
  accumulated: number,
): { ok: boolean; accumulated: number; threshold: "startup" | "single" | "accumulated" | null } {
  if (inStartup) {
    const ok = withinThreshold(config.startupStepPanicThreshold, offset);
    return { ok, accumulated, threshold: ok ? null : "startup" };
  }
  const total = accumulated + Math.abs(offset);
  if (!withinThreshold(config.singleStepPanicThreshold, offset)) {
    return { ok: false, accumulated: total, threshold: "single" };
  }
  const limit = config.accumulatedStepPanicThreshold;
  if (limit !== null && limit > 0 && total > limit) {
    return { ok: false, accumulated: total, threshold: "accumulated" };
  }
  return { ok: true, accumulated: total, threshold: null };
}

/** The INFO line ntpd-rs logs for each update: `Offset: X+-Yms, frequency: F+-Gppm`. */
export function formatUpdate(
  a: Pick<
    Extract<ControllerAction, { kind: "update" }>,
    "offset" | "offsetUncertainty" | "frequency" | "frequencyUncertainty"
  >,
): string {
  // Microsecond and 0.001 ppm resolution: ntpd-rs prints every digit of the
  // double, which no reader can use.
  return (
    `Offset: ${(a.offset * 1e3).toFixed(3)}+-${(a.offsetUncertainty * 1e3).toFixed(3)}ms, ` +
    `frequency: ${(a.frequency * 1e6).toFixed(3)}+-${(a.frequencyUncertainty * 1e6).toFixed(3)}ppm`
  );
}

/**
 * Seconds as milliseconds to the microsecond: the resolution a log reader can
 * use (ntpd-rs prints every digit of the double).
 */
function milliseconds(seconds: number): string {
  return (seconds * 1e3).toFixed(3);
}

/** A log line for an action (ntpd-rs wording), or null for actions not worth one. */
export function describeAction(
  action: ControllerAction,
): { level: "error" | "warn" | "info" | "debug"; message: string } | null {
  switch (action.kind) {
    case "step":
      return { level: action.level, message: `Jumped offset by ${milliseconds(action.offset)}ms` };
    case "panic":
      return { level: "error", message: action.reason };
    case "no-consensus":
      return { level: "info", message: NO_CONSENSUS_MESSAGE };
    case "update":
      return { level: "info", message: formatUpdate(action) };
    case "meddling":
      return { level: "warn", message: MEDDLING_MESSAGE };
    case "set-frequency":
      if (action.slew !== null) {
        return {
          level: "info",
          message: `Slewing by ${milliseconds(action.slew.offset)}ms over ${Number(action.slew.duration.toFixed(3))}s`,
        };
      }
      return {
        level: "debug",
        message: `Changed frequency, current steer ${action.ppm.toFixed(3)}ppm`,
      };
    case "desired-poll":
      return {
        level: "debug",
        message: `Source ${action.id}: desired poll interval 2^${action.poll} s`,
      };
    case "set-timer":
      return null;
  }
}

export class ClockController {
  readonly config: SynchronizationConfig;
  #startupBurst: boolean;
  #precisionLog2: number;
  #sources = new Map<number, SourceEntry>();
  /** Total frequency correction commanded (s/s). */
  #freq: number;
  /** Total frequency correction the filters were told about (s/s). */
  #appliedFreq: number;
  /** While slewing: the frequency the filters should show (−slew rate), else 0. */
  #desiredFreq = 0;
  /** Monotonic end of the running slew, or null. */
  #slewEnd: number | null = null;
  #inStartup = true;
  #accumulated = 0;
  #system: SystemState;
  /** σ of the filters' frequency prior, s/s; null: none. */
  #frequencyPrior: number | null;
  /** Emitted steps and frequency changes not yet confirmed through applied(). */
  #pending = new Set<ControllerAction>();

  constructor(config: SynchronizationConfig, options: ControllerOptions = {}) {
    this.config = config;
    this.#startupBurst = options.startupBurst ?? true;
    this.#precisionLog2 = options.precisionLog2 ?? -18;
    const freq = (options.initialFrequencyPpm ?? 0) * 1e-6;
    this.#freq = freq;
    this.#appliedFreq = freq;
    this.#frequencyPrior =
      options.frequencyPriorPpm === undefined ? null : options.frequencyPriorPpm * 1e-6;
    this.#system = initialSystemState({
      localStratum: config.localStratum,
      referenceId: config.referenceId,
      precisionLog2: this.#precisionLog2,
    });
  }

  /** What the server publishes now. */
  get systemState(): SystemState {
    return this.#system;
  }

  /** Before the first successful combination. */
  get inStartup(): boolean {
    return this.#inStartup;
  }

  /** The total frequency correction commanded, ppm. */
  get frequencyPpm(): number {
    return this.#freq * 1e6;
  }

  /** The frequency correction commanded without the slew in progress, ppm (the drift file's). */
  get baseFrequencyPpm(): number {
    return (this.#freq + this.#desiredFreq) * 1e6;
  }

  get slewing(): boolean {
    return this.#slewEnd !== null;
  }

  /** Sum of |step| after start-up, seconds. */
  get accumulatedSteps(): number {
    return this.#accumulated;
  }

  get sourceIds(): number[] {
    return [...this.#sources.keys()].sort((a, b) => a - b);
  }

  /** Start tracking a source (replacing one with the same id). Returns its first desired poll. */
  addSource(
    id: number,
    pollLimits: PollIntervalLimits,
    options: SourceOptions = {},
  ): ControllerActions {
    const reference = options.referenceClock;
    const filter =
      reference === undefined
        ? new SourceFilter(this.config.algorithm, pollLimits, {
            initialPoll: options.initialPoll,
            startupBurst: this.#startupBurst,
            frequencyPrior: this.#frequencyPrior ?? undefined,
          })
        : new ReferenceClockFilter(this.config.algorithm, reference);
    const entry: SourceEntry = {
      filter,
      periodic: reference?.period != null,
      measured: new MeasuredInterval(),
      usable: options.usable ?? true,
      referenceId: options.referenceId ?? 0,
      reportedPoll: null,
    };
    this.#sources.set(id, entry);
    const actions: ControllerActions = [];
    this.#reportPoll(id, entry, actions);
    return actions;
  }

  removeSource(id: number): void {
    this.#sources.delete(id);
  }

  /** Whether a source may be selected (ntpd-rs `source_update(id, usable)`). */
  setUsable(id: number, usable: boolean): void {
    const entry = this.#sources.get(id);
    if (entry !== undefined) entry.usable = usable;
  }

  sourceSnapshot(id: number): SourceFilterSnapshot | null {
    return this.#sources.get(id)?.filter.snapshot() ?? null;
  }

  desiredPoll(id: number): number | null {
    return this.#sources.get(id)?.filter.desiredPoll() ?? null;
  }

  /** One sample from source `id`, handed in at `now`. */
  measurement(id: number, m: Measurement, now: Instant): ControllerActions {
    const entry = this.#sources.get(id);
    if (entry === undefined) return [];
    const actions: ControllerActions = [];
    const result = entry.filter.update(m, now);
    // The samples' correctness intervals follow the filter: a restart (the
    // local clock or the server jumped) makes the earlier ones meaningless.
    if (result.kind === "meddling") entry.measured.reset();
    else {
      if (result.kind === "absorbed" && result.restarted === true) entry.measured.reset();
      entry.measured.add(m, measurementTime(m), this.#precisionLog2);
    }
    if (result.kind === "meddling") {
      actions.push({
        kind: "meddling",
        id,
        wallElapsed: result.wallElapsed,
        monoElapsed: result.monoElapsed,
      });
    }
    this.#reportPoll(id, entry, actions);
    if (result.kind !== "absorbed" || !this.#usable(entry, m.stratum)) return actions;

    // Bring every filter to one instant; give up (as ntpd-rs) when another
    // filter is clearly ahead of this sample.
    let time = result.time;
    for (const other of this.#sources.values()) {
      const ft = other.filter.filterTime;
      if (ft === null) continue;
      const ahead = ft.diffSeconds(time);
      if (ahead > LATE_TOLERANCE) return actions;
      if (ahead > 0) time = ft;
    }
    for (const other of this.#sources.values()) other.filter.progress(time);

    this.#updateClock(time, now, actions);
    return actions;
  }

  /** The timer asked for with "set-timer" expired: end the slew. */
  timer(now: Instant): ControllerActions {
    if (this.#slewEnd === null) return [];
    // Timers may fire a little early; 1 ms is well below any slew's length.
    if (now.mono < this.#slewEnd - 1e-3) return [{ kind: "set-timer", at: this.#slewEnd }];
    this.#slewEnd = null;
    const change = this.#desiredFreq;
    this.#desiredFreq = 0;
    return [this.#steerFrequency(change, "slew-end", null)];
  }

  /**
   * The daemon applied a "step" or "set-frequency" action at `now` (read
   * after applying it). Every source filter is told. Returns false for an
   * action this controller did not emit or that was already confirmed.
   */
  applied(action: ControllerAction, now: Instant): boolean {
    if (!this.#pending.delete(action)) return false;
    if (action.kind === "step") {
      for (const e of this.#sources.values()) {
        e.filter.applyOffsetSteer(action.offset);
        e.measured.applyOffsetSteer(action.offset);
      }
    } else if (action.kind === "set-frequency") {
      const total = action.ppm * 1e-6;
      const change = (1 + total) / (1 + this.#appliedFreq) - 1;
      this.#appliedFreq = total;
      for (const e of this.#sources.values()) e.filter.applyFrequencySteer(now.wall, change);
    }
    return true;
  }

  /** Remember an action until applied(); a daemon that never confirms leaks nothing. */
  #track(action: ControllerAction): void {
    this.#pending.add(action);
    if (this.#pending.size > MAX_PENDING) {
      const oldest = this.#pending.values().next();
      if (oldest.done !== true) this.#pending.delete(oldest.value);
    }
  }

  #usable(entry: SourceEntry, stratum: number): boolean {
    return entry.usable && stratum < this.config.localStratum;
  }

  #reportPoll(id: number, entry: SourceEntry, actions: ControllerActions): void {
    const poll = entry.filter.desiredPoll();
    if (poll !== entry.reportedPoll) {
      entry.reportedPoll = poll;
      actions.push({ kind: "desired-poll", id, poll });
    }
  }

  #updateClock(time: NtpTimestamp, now: Instant, actions: ControllerActions): void {
    const algo = this.config.algorithm;
    const drift = driftBound(algo);
    const snapshots = new Map<number, SourceFilterSnapshot>();
    const candidates: SelectionCandidate[] = [];
    for (const id of this.sourceIds) {
      const entry = this.#sources.get(id);
      const snap = entry?.filter.snapshot() ?? null;
      if (entry === undefined || snap === null) continue;
      snapshots.set(id, snap);
      candidates.push({
        id,
        offset: snap.offset,
        uncertainty: snap.offsetUncertainty,
        delay: snap.delay,
        leap: snap.leap,
        stratum: snap.stratum,
        usable: this.#usable(entry, snap.stratum),
        startup: snap.startup,
        // A reference clock has no round trip to bound its samples: it votes with
        // its filter's interval (too wide until its start-up is over).
        measured:
          entry.filter instanceof ReferenceClockFilter
            ? null
            : entry.measured.at(time, drift, snap.startup ? snap.offset : null),
        periodic: entry.periodic,
      });
    }
    const selection = selectSources(candidates, {
      minimumAgreeingSources: this.config.minimumAgreeingSources,
      rangeStatisticalWeight: algo.rangeStatisticalWeight,
      rangeDelayWeight: algo.rangeDelayWeight,
      maximumSourceUncertainty: algo.maximumSourceUncertainty,
    });
    if (selection.kind === "no-consensus") {
      actions.push({
        kind: "no-consensus",
        agreeing: selection.agreeing,
        voting: selection.voting,
      });
      return;
    }
    const inputs: CombineInput[] = [];
    for (const id of selection.selected) {
      const snap = snapshots.get(id);
      if (snap === undefined) continue;
      inputs.push({
        id,
        state: snap.state,
        covariance: snap.covariance,
        delay: snap.delay,
        rootDelay: snap.rootDelay,
        rootDispersion: snap.rootDispersion,
        leap: snap.leap,
        stratum: snap.stratum,
        referenceId: this.#sources.get(id)?.referenceId ?? 0,
        wander: snap.wander,
      });
    }
    const combined = combine(inputs, { ignoreServerDispersion: algo.ignoreServerDispersion });
    if (combined === null) return;

    // A frequency known no better than `initial-frequency-uncertainty` (start-up
    // sources without a line through their samples yet report 0 ± 10 s/s) says
    // nothing: the clock is taken to run as it is being steered (−the slew
    // rate, 0 without one), which is what is published. A young source (in
    // start-up) with a line through its samples publishes that line: its offset
    // and slope make the estimate follow a clock 40 ppm off from the third sample
    // on (issue #11, "fast": 9 s to 100 µs before, with the start-up's slope
    // taken as 0).
    const frequencyKnown = combined.frequencyUncertainty < algo.initialFrequencyUncertainty;
    const frequency = frequencyKnown ? combined.frequency : this.#desiredFreq;
    // The clock itself is steered only from settled estimates: a young source's
    // line through 3 to 8 samples is too noisy to steer by (a stall on one
    // sample of a still server swung the frequency by 2.6 ppm, the simulator's
    // still-server-poll-step), and correcting a slew in progress towards the 0
    // of an unknown frequency undid the slew with every sample, running the
    // clock up to maximum-frequency-steer (issue #11, "step").
    const young = combined.sources.some((id) => snapshots.get(id)?.startup === true);
    const freqDelta = frequencyKnown && !young ? frequency - this.#desiredFreq : 0;
    const offsetDelta = combined.offset;
    const offsetSigma = combined.offsetUncertainty;
    const freqSigma = combined.frequencyUncertainty;
    let stepped = 0;
    // The estimate that crosses the threshold is probably an extreme one: leave
    // part of it uncorrected to avoid overshooting. During start-up σ is the
    // start-up placeholder (the largest delay seen, ntpd-rs), far above the real
    // error: leaving it uncorrected would only force a second step moments later
    // (found by the simulator). So the first correction is whole.
    const leftover = this.#inStartup ? 0 : algo.steerOffsetLeftover;
    const c = offsetDelta - offsetSigma * leftover * Math.sign(offsetDelta);
    // After the first correction, a slew waits while a combined source re-does
    // its start-up (a server that stepped, a new source): its samples would
    // carry the slew's 200 ppm, a slope beyond initial-frequency-uncertainty
    // that its filter cannot start from, so it would start at frequency 0 ±
    // 100 ppm with an offset the slew has left behind (issue #11, "step": a
    // frequency swinging to 330 ppm and ~1 ms of error for seconds). Its
    // offset is published meanwhile; a step is not held back (it leaves no slope).
    const slewWaits = !this.#inStartup && Math.abs(c) <= algo.stepThreshold && young;
    if (
      this.#desiredFreq === 0 &&
      Math.abs(offsetDelta) > offsetSigma * algo.steerOffsetThreshold &&
      !slewWaits
    ) {
      if (Math.abs(c) > algo.stepThreshold) {
        const check = checkStep(this.config, c, this.#inStartup, this.#accumulated);
        this.#accumulated = check.accumulated;
        if (!check.ok) {
          actions.push({
            kind: "panic",
            reason: PANIC_MESSAGE,
            offset: c,
            threshold: check.threshold ?? "single",
          });
          return;
        }
        const step: ControllerAction = {
          kind: "step",
          offset: c,
          level: this.config.warnOnJump ? "warn" : "info",
          startup: this.#inStartup,
        };
        this.#track(step);
        actions.push(step);
        stepped = c;
      } else if (c !== 0) {
        const rate = Math.min(
          algo.slewMaximumFrequencyOffset,
          Math.abs(c) / algo.slewMinimumDuration,
        );
        const duration = Math.abs(c) / rate;
        const newDesired = -rate * Math.sign(c);
        const change = this.#desiredFreq - newDesired + freqDelta;
        this.#desiredFreq = newDesired;
        actions.push(this.#steerFrequency(change, "slew-start", { offset: c, duration }));
        this.#slewEnd = now.mono + duration;
        actions.push({ kind: "set-timer", at: this.#slewEnd });
      }
    } else if (Math.abs(freqDelta) > freqSigma * algo.steerFrequencyThreshold) {
      const change = freqDelta - freqSigma * algo.steerFrequencyLeftover * Math.sign(freqDelta);
      actions.push(this.#steerFrequency(change, "frequency", null));
    }

    // After a step the local clock reads `stepped` later at the same instant.
    this.#system = systemStateFrom(combined, time.addSeconds(stepped), this.#system);
    this.#inStartup = false;
    actions.push({
      kind: "update",
      system: this.#system,
      offset: combined.offset,
      offsetUncertainty: combined.offsetUncertainty,
      frequency,
      frequencyUncertainty: combined.frequencyUncertainty,
      selected: combined.sources,
      outvoted: selection.outvoted,
    });
  }

  /** Compose `change` (s/s) onto the commanded frequency, clamped. */
  #steerFrequency(
    change: number,
    reason: "frequency" | "slew-start" | "slew-end",
    slew: { offset: number; duration: number } | null,
  ): ControllerAction {
    const max = this.config.algorithm.maximumFrequencySteer;
    const wanted = (1 + this.#freq) * (1 + change) - 1;
    this.#freq = Math.min(max, Math.max(-max, wanted));
    const action: ControllerAction = { kind: "set-frequency", ppm: this.#freq * 1e6, reason, slew };
    this.#track(action);
    return action;
  }
}
