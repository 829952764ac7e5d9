// The per-source clock filter (ntpd-rs `algorithm/kalman/source.rs`, rewritten).
//
// It estimates, for one remote source, the state x = (Δ, ω): Δ the offset of the
// remote clock from the local clock (s), ω their frequency difference (s/s),
// both against local (wall) time. The local clock is the time axis, so filters
// of different sources can be moved to the same instant and fused.
//
// Start-up: the first STARTUP_SAMPLES measurements are only collected. Then a
// straight line is fitted through them (startupLine: weighted least squares,
// each sample weighted by 1/sampleVariance against the smallest of their
// delays, so a delay spike hardly counts):
// its offset and slope at the last sample, with its covariance, seed the Kalman
// filter. Without a usable line (or with a slope beyond
// `initial-frequency-uncertainty`), the mean offset of the lowest-delay half
// (startupOffset) and the sample variance of the offsets seed it at frequency
// 0 with σ = `initial-frequency-uncertainty` (ntpd-rs's start). A frequency from
// the burst matters: with frequency 0 ± 100 ppm, the first sample after the
// poll interval grows to 16 s sets the frequency alone, to (its error)/16 s
// (issue #11: tens of ppm, and a slew away from a still source), and the mean
// offset of a burst lags a 40 ppm drift by ~300 µs.
//
// Stable: a two-state Kalman filter.
//   predict over δ seconds: F = [[1, δ], [0, 1]], Q = w·[[δ³/3, δ²/2], [δ²/2, δ]]
//     (the frequency is a random walk with variance rate w, the "wander";
//      w starts at `initial-wander`²);
//   update with the measured offset: H = [1, 0], R = sampleVariance() + the
//     start-up scatter: e²/12 + σ_trim²/48, e = delay − the minimum of the last
//     64 delays (MIN_DELAY_WINDOW). e is the queueing of the exchange, both
//     legs together (q₁ + q₂); its offset is off by (q₁ − q₂)/2, within ±e/2,
//     uniform for alike legs: variance e²/12 (queueingVariance). A late
//     timestamp at either end is queueing the same way. So an exchange near
//     the path's minimum delay is nearly exact and one with much queueing
//     counts little (chrony weights its regression by the same excess, more
//     gently); in the simulator's loopback-jitter (Exp(100 µs) queueing each
//     way) the estimate's RMS error drops from 15.7 to 12.0 µs. The floor,
//     σ_trim²/48 (QUEUEING_FLOOR_SHARE; σ_trim the spread of the last 8 delays
//     without spikes, further than SPIKE_SIGMAS robust σ from the median),
//     keeps the best exchange from counting as exact: noise the delays do not
//     show, a minimum not yet seen, and between sources a path asymmetry no
//     delay reveals. Added to R: the offset noise the delays do not show at
//     all (unseen-noise.ts), learnt from the last 32 innovations, at most
//     the start-up line's scatter. When the queueing is on one leg, which
//     biases every offset the same way, the offset is first moved by the
//     share of its queueing the last 32 samples show (queueing-split.ts).
// Jump: a stable filter whose innovation is wildly improbable, larger than
// any path asymmetry could explain (JUMP_P) and far beyond the recent
// innovations (JUMP_SCALE) restarts its start-up; below JUMP_CONFIRM_BELOW
// only when the next sample confirms it (alone it is dropped).
// After each update, the innovation's p-value (χ² with one degree of freedom)
// and the measurement's weight (1 − R/S) vote on the wander (×/÷ 4 after
// `precision-hysteresis` votes) and on the desired poll interval (±1 after
// `poll-interval-hysteresis` votes).
//
// Interleaved samples (docs/interleaved.md) describe the exchange before the
// reply that brought them, up to a poll interval or more behind the state
// when they arrive; they are compared with the state carried back to their
// time (H = [1, −lag] instead of [1, 0]), so neither the frequency nor its
// uncertainty is left out of the comparison.
//
// Pop filter: a measurement whose delay exceeds the median of the last 8 delays
// by more than `delay-outlier-threshold` × σ_trim is dropped, but never two in a
// row (a lasting change of the path must get through). ntpd-rs compares with
// the mean and the plain standard deviation, which one spike in the window
// inflates so that the next spike passes. The start-up spikes are left out of
// the delay window the stable filter starts with.
//
// Meddling: when the wall clock moved by more than `meddling-threshold` seconds
// more (or less) than the monotonic clock since the last sample, and not
// because of a step this filter was told about, someone else set the clock:
// the filter restarts its start-up.
//
// Steering: when the controller steps or changes the frequency of the clock,
// every filter is told (applyOffsetSteer / applyFrequencySteer) so its state
// keeps describing the remote clock relative to the adjusted local clock.
//
// Pure: every time is an argument; no clock reads.

import type { AlgorithmConfig } from "../config/types.js";
import type { LeapIndicator } from "../packet/types.js";
import type { PollIntervalLimits } from "../source/poll-interval.js";
import type { Measurement } from "../source/types.js";
import type { NtpTimestamp } from "../time.js";
import { predict, voteWander } from "./kalman-steps.js";
import { diag, mat2, mul, symmetrize, vec2, type Mat2, type Vec2 } from "./matrix.js";
import {
  NOISE_FLOOR,
  Window,
  rankingDelays,
  rawDelay,
  sampleVariance,
  startupLine,
  startupOffset,
} from "./sample-model.js";
import { UNSEEN_WINDOW, unseenNoise, type Innovation } from "./unseen-noise.js";
import {
  NO_SPLIT,
  SPLIT_WINDOW,
  queueingSplit,
  splitCorrection,
  type QueueingSplit,
  type SplitPoint,
} from "./queueing-split.js";

/** Measurements averaged before the Kalman filter starts (ntpd-rs: 8). */
export const STARTUP_SAMPLES = 8;
/**
 * Frequency variance ((s/s)²) a source reports while in start-up: it knows
 * nothing about the frequency yet (ntpd-rs INITIALIZATION_FREQ_UNCERTAINTY).
 */
export const STARTUP_FREQUENCY_VARIANCE = 100;
/**
 * A start-up reports its line's slope once the slope differs from a still
 * remote clock's (StartupState.stillSlope) by this many of its σ; a smaller
 * difference is the samples' scatter, and extrapolating it to the last
 * sample put the published estimate up to 90 µs off in the accuracy bench's
 * `jitter` (Exp(100 µs) each way), where the mean of the samples is right.
 */
export const SLOPE_SIGNIFICANCE = 2;
/** Poll exponent of the start-up burst: 2 s. */
export const BURST_POLL = 1;
/**
 * A measurement whose time (the midpoint of T1 and T4) lies at most this many
 * seconds before the filter's time is absorbed at the filter's time instead of
 * dropped. This happens when a long-delay reply is processed just after a
 * short-delay reply of another source moved all filters forward.
 */
export const LATE_TOLERANCE = 1;
/**
 * An interleaved measurement may lie up to this many maximum poll intervals
 * behind the state (it describes the exchange before the reply, which lost
 * replies can make several polls old).
 */
export const INTERLEAVED_LAG_POLLS = 8;
/**
 * A stable filter restarts its start-up (with the sample at hand as the first)
 * when a measurement's innovation has a p-value below JUMP_P and exceeds the
 * sample's delay plus the mean delay: no path asymmetry of an honest server
 * explains that, the remote clock itself jumped. Absorbing such a step would
 * leave the filter with a wild frequency at a small uncertainty, which then
 * drags the combination once its offset agrees again.
 */
export const JUMP_P = 1e-9;
/**
 * A jump must also exceed this many times the median |innovation| of the
 * recent samples: the Kalman σ can shrink below the noise a path really has
 * (a constant loopback delay shows none of the scheduling noise of a loaded
 * machine), and a restart in the middle of a slew costs far more than
 * absorbing a few µs. With Gaussian noise the median |innovation| is 0.67 σ,
 * so 10 × is 6.7 σ; a remote clock step is far beyond that.
 */
export const JUMP_SCALE = 10;
/**
 * A jump smaller than this (s) restarts the start-up only when the next
 * sample confirms it; alone it is dropped as an improbable sample. On the
 * accuracy bench's loopback one exchange of minimal delay came 23 µs off a
 * filter whose σ was 1 µs (a time stamp gone wrong somewhere on a shared VM):
 * the restart cost 8 samples of start-up and 11–16 µs of error for 15 s. A
 * step of the remote clock by more than this still restarts at once (the
 * bench's `step`: 5 ms).
 */
export const JUMP_CONFIRM_BELOW = 1e-3;

/**
 * Delays kept for the path's minimum delay, the reference the queueing of a
 * sample is measured from (chrony keeps up to 64 samples per source). Eight
 * (DELAY_WINDOW) rarely hold an exchange without queueing: with Exp(100 µs)
 * on each leg their minimum lies ~70 µs above the path's.
 */
export const MIN_DELAY_WINDOW = 64;

/** What the daemon read when a measurement was handed in. */
export interface Instant {
  /** The system (wall) clock. */
  wall: NtpTimestamp;
  /** A monotonic clock, seconds (CLOCK_MONOTONIC / CLOCK_BOOTTIME). */
  mono: number;
}

export interface SourceFilterOptions {
  /**
   * Desired poll exponent when the filter leaves start-up (ntpd-rs:
   * `initial-poll-interval`). Clamped into the limits; default the minimum.
   */
  initialPoll?: number;
  /**
   * Poll every 2 s (or at the minimum, when that is shorter) until the first
   * start-up is complete. Default true.
   */
  startupBurst?: boolean;
  /**
   * The local clock's frequency was kept from an earlier run (the drift file):
   * the first start-up takes its frequency as 0 ± this σ (s/s) rather than
   * knowing nothing beyond `initial-frequency-uncertainty`. Default none.
   */
  frequencyPrior?: number;
}

/** The state a filter exposes to selection, combination and observers. */
export interface SourceFilterSnapshot {
  /** Still averaging its first samples. */
  startup: boolean;
  /** Samples taken in the current start-up (STARTUP_SAMPLES once stable). */
  samples: number;
  /** Δ, seconds (remote minus local). */
  offset: number;
  /** σ of Δ, seconds. */
  offsetUncertainty: number;
  /** ω, s/s. */
  frequency: number;
  /** σ of ω, s/s. */
  frequencyUncertainty: number;
  state: Vec2;
  covariance: Mat2;
  /** Mean delay of the last 8 samples (start-up: the largest so far), seconds. */
  delay: number;
  /** Frequency wander, s²/s³. */
  wander: number;
  /** Desired poll exponent, log2 s. */
  desiredPoll: number;
  /** From the last reply. */
  leap: LeapIndicator;
  stratum: number;
  referenceId: number;
  rootDelay: number;
  rootDispersion: number;
  /** Local time of the last sample taken into account. */
  lastUpdate: NtpTimestamp;
  /**
   * Local time `offset` and `frequency` describe (the Kalman state's instant, which
   * moves on with the other sources' samples and with steering; during start-up the
   * last sample's): a reader extrapolates from here.
   */
  time: NtpTimestamp;
}

export type FilterUpdate =
  /** Taken into the estimate: the clock may be updated. */
  | {
      kind: "absorbed";
      /** Local time the estimate now describes. */
      time: NtpTimestamp;
      /** Still (or just finished) averaging the first samples. */
      startup: boolean;
      samples: number;
      /** Stable only: p-value of the innovation and weight of the measurement. */
      p: number | null;
      weight: number | null;
      /**
       * The remote clock jumped (see JUMP_P): the filter restarted its
       * start-up with this sample; `p` is the jump's p-value.
       */
      restarted?: boolean;
    }
  /**
   * Dropped as a jump too small to believe from one sample
   * (JUMP_CONFIRM_BELOW): innovation y (s) and its p-value.
   */
  | { kind: "improbable"; innovation: number; p: number }
  /** Dropped by the pop filter. */
  | {
      kind: "outlier";
      delay: number;
      /** Median of the recent delays and their spread without spikes (σ_trim), s. */
      usualDelay: number;
      usualSigma: number;
    }
  /** Older than the filter state by more than LATE_TOLERANCE: ignored. */
  | { kind: "stale"; lag: number }
  /** The wall clock jumped against the monotonic clock: back to start-up. */
  | { kind: "meddling"; wallElapsed: number; monoElapsed: number };

/**
 * 1 − CDF of the χ² distribution with one degree of freedom at `chi`:
 * erfc(√(χ/2)), with the Abramowitz & Stegun 7.1.26 approximation of erfc
 * (absolute error below 1.5e-7).
 */
export function chi1(chi: number): number {
  const x = Math.sqrt(Math.max(0, chi) / 2);
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t *
    (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return poly * Math.exp(-x * x);
}

/** Local time a measurement describes: the midpoint of T1 and T4 (ntpd-rs `localtime`). */
export function measurementTime(m: Measurement): NtpTimestamp {
  return m.t1.addSeconds(m.t4.diffSeconds(m.t1) / 2);
}

/**
 * Whether the wall clock moved by more than `threshold` seconds more or less
 * than the monotonic clock between two readings (ntpd-rs meddling check).
 */
export function isMeddling(
  previous: Instant,
  current: Instant,
  threshold: number,
): { meddling: boolean; wallElapsed: number; monoElapsed: number } {
  const wallElapsed = current.wall.diffSeconds(previous.wall);
  const monoElapsed = Math.abs(current.mono - previous.mono);
  return {
    meddling: Math.abs(wallElapsed - monoElapsed) > threshold,
    wallElapsed,
    monoElapsed,
  };
}

interface StartupState {
  kind: "startup";
  delays: Window;
  samples: number;
  lastTime: NtpTimestamp | null;
  /** Every sample of this start-up, for the line fitted at its end. */
  series: { time: NtpTimestamp; offset: number; delay: number; raw: number }[];
  /**
   * The slope a still remote clock gives the series (s/s): 0, less every
   * frequency change of the local clock since the start-up began (the series
   * is kept in the clock's present rate, applyFrequencySteer).
   */
  stillSlope: number;
}

interface StableState {
  kind: "stable";
  x: Vec2;
  P: Mat2;
  wander: number;
  delays: Window;
  precisionScore: number;
  pollScore: number;
  desiredPoll: number;
  prevWasOutlier: boolean;
  /** The last sample was dropped as improbable (JUMP_CONFIRM_BELOW). */
  prevWasImprobable: boolean;
  /** Time of the last absorbed measurement (for the poll period). */
  lastTime: NtpTimestamp;
  /** Time of the last sample looked at (absorbed or popped). */
  lastIter: NtpTimestamp;
  /** The instant x and P describe. */
  filterTime: NtpTimestamp;
  /**
   * Variance (s²) of the offset noise the delays do not show (unseen-noise.ts):
   * the start-up line's scatter, then learnt from `recent`, never more.
   */
  unseenNoise: number;
  /** The last UNSEEN_WINDOW innovations, oldest first, with their modelled variance. */
  recent: Innovation[];
  /** The last SPLIT_WINDOW (round trip, uncorrected innovation) pairs (queueing-split.ts). */
  splits: SplitPoint[];
  /** The split the offsets are corrected by, and x describes. */
  split: QueueingSplit;
  /** The start-up line's scatter (s²): the most unseenNoise may be. */
  startupScatter: number;
  /** |innovation| of the recent samples (the start-up line's residuals at first), for JUMP_SCALE. */
  innovations: Window;
  /** The last MIN_DELAY_WINDOW delays, for the path's minimum delay. */
  longDelays: Window;
}

/**
 * The path's minimum round trip as a stable filter knows it: the smallest of
 * its last MIN_DELAY_WINDOW possible ones (none seen yet: the clamped delays).
 */
function pathMinimum(s: StableState): number {
  return s.longDelays.values.length > 0 ? s.longDelays.min() : s.delays.min();
}

export class SourceFilter {
  readonly limits: Readonly<PollIntervalLimits>;
  readonly initialPoll: number;
  #config: AlgorithmConfig;
  #burst: boolean;
  #state: StartupState | StableState = SourceFilter.#freshStartup();
  /** Wall and monotonic readings at the last absorbed sample (meddling check). */
  #lastInstant: Instant | null = null;
  #leap: LeapIndicator = 3;
  #stratum = 16;
  #referenceId = 0;
  #rootDelay = 0;
  #rootDispersion = 0;
  /** σ of the frequency prior (s/s) for the first start-up; null once used or without one. */
  #frequencyPrior: number | null;

  constructor(
    config: AlgorithmConfig,
    limits: PollIntervalLimits,
    options: SourceFilterOptions = {},
  ) {
    if (!Number.isInteger(limits.min) || !Number.isInteger(limits.max) || limits.min > limits.max) {
      throw new RangeError(`bad poll interval limits ${limits.min}..${limits.max}`);
    }
    this.limits = Object.freeze({ min: limits.min, max: limits.max });
    const initial = options.initialPoll ?? limits.min;
    this.initialPoll = Math.min(limits.max, Math.max(limits.min, Math.round(initial)));
    this.#config = config;
    this.#burst = options.startupBurst ?? true;
    const prior = options.frequencyPrior;
    this.#frequencyPrior = prior !== undefined && prior > 0 && prior < Infinity ? prior : null;
  }

  static #freshStartup(): StartupState {
    return {
      kind: "startup",
      delays: new Window(),
      samples: 0,
      lastTime: null,
      series: [],
      stillSlope: 0,
    };
  }

  get inStartup(): boolean {
    return this.#state.kind === "startup";
  }

  /** Whether the start-up burst is still on (only during the first start-up). */
  get bursting(): boolean {
    return this.#burst && this.#state.kind === "startup";
  }

  /** The instant the Kalman state describes; null during start-up. */
  get filterTime(): NtpTimestamp | null {
    return this.#state.kind === "stable" ? this.#state.filterTime : null;
  }

  /**
   * Desired poll exponent. Start-up: 2 s (or the minimum if shorter) during the
   * burst of the first start-up, the minimum in a later one; stable: adapted
   * within the limits, starting at `initialPoll`.
   */
  desiredPoll(): number {
    const s = this.#state;
    if (s.kind === "stable") return s.desiredPoll;
    return this.#burst ? Math.min(BURST_POLL, this.limits.min) : this.limits.min;
  }

  /** Take in one measurement read at `now`. */
  update(m: Measurement, now: Instant): FilterUpdate {
    // What the server says about itself is always the latest word.
    this.#leap = m.leap;
    this.#stratum = m.stratum;
    this.#referenceId = m.referenceId;
    this.#rootDelay = m.rootDelay;
    this.#rootDispersion = m.rootDispersion;

    if (this.#lastInstant !== null) {
      const check = isMeddling(this.#lastInstant, now, this.#config.meddlingThreshold);
      if (check.meddling) {
        this.#state = SourceFilter.#freshStartup();
        this.#lastInstant = now;
        return { kind: "meddling", wallElapsed: check.wallElapsed, monoElapsed: check.monoElapsed };
      }
    }

    const time = measurementTime(m);
    const s = this.#state;
    if (s.kind === "startup") {
      s.delays.push(m.delay);
      s.samples++;
      s.lastTime = time;
      s.series.push({ time, offset: m.offset, delay: m.delay, raw: rawDelay(m) });
      this.#lastInstant = now;
      if (s.samples >= STARTUP_SAMPLES) {
        const seed = this.#startupSeed(s);
        this.#state = {
          kind: "stable",
          x: seed.x,
          P: seed.P,
          unseenNoise: seed.scatter,
          startupScatter: seed.scatter,
          recent: [],
          splits: SourceFilter.#startupSplits(s, seed.x),
          split: NO_SPLIT,
          innovations: Window.of(seed.residuals.map(Math.abs)),
          wander: this.#config.initialWander * this.#config.initialWander,
          delays: s.delays.withoutSpikes(),
          longDelays: Window.of(
            s.series.filter((p) => p.raw >= 0).map((p) => p.delay),
            MIN_DELAY_WINDOW,
          ),
          precisionScore: 0,
          pollScore: 0,
          desiredPoll: this.initialPoll,
          prevWasOutlier: false,
          prevWasImprobable: false,
          lastTime: time,
          lastIter: time,
          filterTime: time,
        };
        this.#burst = false;
      }
      return {
        kind: "absorbed",
        time,
        startup: true,
        samples: s.samples,
        p: null,
        weight: null,
      };
    }

    let t = time;
    // How far back from the state the sample lies, for the measurement model: an
    // interleaved sample describes an exchange a poll interval (or a few, after lost
    // replies) before it arrives, when other samples or steering may have moved the
    // state on; it is compared with the state carried back to its time (H = [1, −lag]).
    let lag = 0;
    const behind = s.filterTime.diffSeconds(time);
    if (behind > 0) {
      const tolerance =
        m.interleaved === true ? INTERLEAVED_LAG_POLLS * 2 ** this.limits.max : LATE_TOLERANCE;
      if (behind > tolerance) return { kind: "stale", lag: behind };
      t = s.filterTime;
      if (m.interleaved === true) lag = behind;
    }

    const meanDelay = s.delays.mean();
    const usualDelay = s.delays.median();
    const usualSigma = s.delays.trimmedSigma();
    if (
      !s.prevWasOutlier &&
      m.delay - usualDelay > this.#config.delayOutlierThreshold * Math.max(usualSigma, NOISE_FLOOR)
    ) {
      s.prevWasOutlier = true;
      s.lastIter = t;
      return { kind: "outlier", delay: m.delay, usualDelay, usualSigma };
    }
    s.prevWasOutlier = false;

    predict(s, t);
    SourceFilter.#resplit(s);
    // H = [1, h1]: the offset at the sample's time, lag seconds before the state's.
    const h1 = -lag;
    const predicted = s.x[0] + h1 * s.x[1];
    const ph0 = s.P[0] + h1 * s.P[1];
    const ph1 = s.P[2] + h1 * s.P[3];
    const hph = ph0 + h1 * ph1;
    {
      const y = m.offset - predicted;
      const S = hph + Math.max(s.delays.variance() / 4, NOISE_FLOOR * NOISE_FLOOR) + s.unseenNoise;
      const p = chi1((y * y) / S);
      if (
        p < JUMP_P &&
        Math.abs(y) > m.delay + meanDelay &&
        Math.abs(y) > JUMP_SCALE * s.innovations.median()
      ) {
        if (Math.abs(y) < JUMP_CONFIRM_BELOW && !s.prevWasImprobable) {
          s.prevWasImprobable = true;
          s.lastIter = t;
          this.#lastInstant = now;
          return { kind: "improbable", innovation: y, p };
        }
        const fresh = SourceFilter.#freshStartup();
        fresh.delays.push(m.delay);
        fresh.samples = 1;
        fresh.lastTime = t;
        fresh.series.push({ time: t, offset: m.offset, delay: m.delay, raw: rawDelay(m) });
        this.#state = fresh;
        this.#lastInstant = now;
        return {
          kind: "absorbed",
          time: t,
          startup: true,
          samples: 1,
          p,
          weight: null,
          restarted: true,
        };
      }
    }
    s.prevWasImprobable = false;
    s.delays.push(m.delay);
    // An impossible (negative) round trip says nothing about the path's minimum.
    if (rawDelay(m) >= 0) s.longDelays.push(m.delay);

    // Kalman update with H = [1, h1] ([1, 0] but for interleaved samples).
    // The queueing beyond the path's minimum delay bounds the offset error of
    // this exchange (queueingVariance), over a floor that keeps the best
    // exchanges from counting as exact; the noise no delay shows on top.
    // (No possible round trip seen yet: the clamped delays stand in.)
    const queueing = sampleVariance(rawDelay(m), pathMinimum(s), s.delays.trimmedSigma());
    const r = queueing + s.unseenNoise;
    // Moved by the share of its queueing the path's legs show (queueing-split.ts).
    const delay = rawDelay(m);
    let offset = m.offset;
    if (delay >= 0) {
      offset -= splitCorrection(s.split, delay);
      s.splits.push({ delay, y: m.offset - predicted });
      if (s.splits.length > SPLIT_WINDOW) s.splits.shift();
    }
    const y = offset - predicted;
    const S = hph + r;
    s.innovations.push(Math.abs(y));
    s.recent.push({ y, modeled: hph + queueing, state: hph });
    if (s.recent.length > UNSEEN_WINDOW) s.recent.shift();
    const k0 = ph0 / S;
    const k1 = ph1 / S;
    s.x = vec2(s.x[0] + k0 * y, s.x[1] + k1 * y);
    // (I − K H) P
    const ikh = mat2(1 - k0, -k0 * h1, -k1, 1 - k1 * h1);
    s.P = symmetrize(mul(ikh, s.P));

    const p = chi1((y * y) / S);
    const weight = 1 - r / S;
    const period = t.diffSeconds(s.lastTime);
    s.lastTime = t;
    s.lastIter = t;
    this.#lastInstant = now;

    // After this sample's own update (its weight used the noise it was judged by).
    s.unseenNoise = unseenNoise(s.recent, s.unseenNoise, s.startupScatter);
    voteWander(s, this.#config, p, weight);
    this.#votePoll(s, p, weight, period);

    return { kind: "absorbed", time: t, startup: false, samples: STARTUP_SAMPLES, p, weight };
  }

  /**
   * The Kalman state at the end of start-up: the line through the samples
   * (startupLine) with its covariance, when its frequency and that
   * frequency's σ are both below `initial-frequency-uncertainty`; otherwise
   * (no line, or a slope such as a slew in progress gives) the offset of the
   * lowest-delay half and a frequency of 0 ± `initial-frequency-uncertainty`,
   * with no scatter carried over.
   */
  #startupSeed(s: StartupState): { x: Vec2; P: Mat2; scatter: number; residuals: number[] } {
    const seed = this.#startupEstimate(s);
    const prior = this.#frequencyPrior;
    if (prior === null) return seed;
    this.#frequencyPrior = null;
    // The kept frequency as a measurement of the frequency: 0 ± prior (the clock
    // already runs at it), folded in as a Kalman update with H = [0, 1].
    const { x, P } = seed;
    const S = P[3] + prior * prior;
    const k0 = P[1] / S;
    const k1 = P[3] / S;
    return {
      ...seed,
      x: vec2(x[0] - k0 * x[1], x[1] - k1 * x[1]),
      P: symmetrize(mat2(P[0] - k0 * P[2], P[1] - k0 * P[3], P[2] - k1 * P[2], P[3] - k1 * P[3])),
    };
  }

  /**
   * The start-up's samples as queueing-split pairs: each possible round trip,
   * and its offset less the seed's line `x` (the offset and frequency at the
   * last sample) then.
   */
  static #startupSplits(s: StartupState, x: Vec2): SplitPoint[] {
    const last = s.series[s.series.length - 1]!.time;
    return s.series
      .filter((p) => p.raw >= 0)
      .map((p) => ({ delay: p.raw, y: p.offset - (x[0] + x[1] * p.time.diffSeconds(last)) }));
  }

  /**
   * Takes the queueing split the window now shows (queueing-split.ts). The
   * state describes the offsets as corrected so far: when the correction
   * changes, the window's samples say something else, and the state moves by
   * the mean of that change, each sample weighted as the filter weights it.
   * (Learnt through the Kalman gain instead, each change is a step in the
   * offsets, which leaks into the frequency: on the accuracy bench's reply
   * lateness, 100 seeded runs of 110 s, the median final frequency error was
   * 0.021 ppm, against 0.008 with the state moved.)
   */
  static #resplit(s: StableState): void {
    const split = queueingSplit(s.splits);
    if (split.share === s.split.share && split.base === s.split.base) return;
    const minDelay = pathMinimum(s);
    const spread = s.delays.trimmedSigma();
    let weights = 0;
    let change = 0;
    for (const p of s.splits) {
      const w = 1 / (sampleVariance(p.delay, minDelay, spread) + s.unseenNoise);
      weights += w;
      change += w * (splitCorrection(split, p.delay) - splitCorrection(s.split, p.delay));
    }
    if (weights > 0) s.x = vec2(s.x[0] - change / weights, s.x[1]);
    s.split = split;
  }

  /** #startupSeed without a frequency prior. */
  #startupEstimate(s: StartupState): {
    x: Vec2;
    P: Mat2;
    scatter: number;
    residuals: number[];
  } {
    const ifu = this.#config.initialFrequencyUncertainty;
    const line = SourceFilter.#line(s);
    if (line === null || !(Math.abs(line.x[1]) < ifu) || !(line.P[3] < ifu * ifu)) {
      const offsets = SourceFilter.#stillOffsets(s);
      return {
        x: vec2(startupOffset(offsets, rankingDelays(s.series)), s.stillSlope),
        P: diag(Window.of(offsets).variance(), ifu * ifu),
        scatter: 0,
        residuals: [],
      };
    }
    return line;
  }

  /** The line through a start-up's samples so far (startupLine), times from the first. */
  static #line(s: StartupState): ReturnType<typeof startupLine> {
    const first = s.series[0];
    if (first === undefined) return null;
    return startupLine(
      s.series.map((p) => ({
        at: p.time.diffSeconds(first.time),
        offset: p.offset,
        delay: p.delay,
        raw: p.raw,
      })),
    );
  }

  /**
   * The start-up's offsets carried to its last sample at a still remote
   * clock's slope (as they were measured when the clock's frequency has not
   * been changed since the start-up began).
   */
  static #stillOffsets(s: StartupState): number[] {
    const last = s.series[s.series.length - 1]?.time;
    return s.series.map((p) => p.offset + (last ? s.stillSlope * last.diffSeconds(p.time) : 0));
  }

  /** Move the Kalman state forward to `time` (no-op during start-up or for the past). */
  progress(time: NtpTimestamp): void {
    if (this.#state.kind === "stable") predict(this.#state, time);
  }

  #votePoll(s: StableState, p: number, weight: number, period: number): void {
    const c = this.#config;
    const ratio = period / 2 ** s.desiredPoll;
    // Vote only when we get about what we asked for: no faster polls when the
    // measurements already come more often than desired, and vice versa.
    if (weight < c.pollIntervalLowWeight && ratio > 0.75) {
      s.pollScore -= 1;
    } else if (weight > c.pollIntervalHighWeight && ratio < 1.4) {
      s.pollScore += 1;
    } else {
      s.pollScore -= Math.sign(s.pollScore);
    }
    if (p <= c.pollIntervalStepThreshold) {
      // The remote clock did something the model cannot explain: look closely.
      s.desiredPoll = this.limits.min;
      s.pollScore = 0;
    } else if (s.pollScore <= -c.pollIntervalHysteresis) {
      s.desiredPoll = Math.min(s.desiredPoll + 1, this.limits.max);
      s.pollScore = 0;
    } else if (s.pollScore >= c.pollIntervalHysteresis) {
      s.desiredPoll = Math.max(s.desiredPoll - 1, this.limits.min);
      s.pollScore = 0;
    }
  }

  /** The clock was stepped by `offset` seconds (added to the local clock). */
  applyOffsetSteer(offset: number): void {
    const s = this.#state;
    if (this.#lastInstant !== null) {
      this.#lastInstant = {
        wall: this.#lastInstant.wall.addSeconds(offset),
        mono: this.#lastInstant.mono,
      };
    }
    if (s.kind === "startup") {
      if (s.lastTime !== null) s.lastTime = s.lastTime.addSeconds(offset);
      for (const p of s.series) {
        p.time = p.time.addSeconds(offset);
        p.offset -= offset;
      }
      return;
    }
    s.x = vec2(s.x[0] - offset, s.x[1]);
    s.lastTime = s.lastTime.addSeconds(offset);
    s.lastIter = s.lastIter.addSeconds(offset);
    s.filterTime = s.filterTime.addSeconds(offset);
  }

  /**
   * The clock's frequency was changed at local time `time` by `change` (s/s,
   * relative: the local clock now runs (1 + change) times as fast as before).
   */
  applyFrequencySteer(time: NtpTimestamp, change: number): void {
    const s = this.#state;
    if (s.kind === "startup") {
      // Express the samples so far as if the clock had always run at the new
      // rate (what the Kalman state does below), so the line stays straight.
      for (const p of s.series) p.offset += change * time.diffSeconds(p.time);
      s.stillSlope -= change;
      return;
    }
    predict(s, time);
    s.x = vec2(s.x[0], s.x[1] - change);
  }

  /** The view selection and combination use; null before the first sample. */
  snapshot(): SourceFilterSnapshot | null {
    const s = this.#state;
    const remote = {
      leap: this.#leap,
      stratum: this.#stratum,
      referenceId: this.#referenceId,
      rootDelay: this.#rootDelay,
      rootDispersion: this.#rootDispersion,
    };
    if (s.kind === "startup") {
      if (s.samples === 0 || s.lastTime === null) return null;
      const maxDelay = s.delays.max();
      // ntpd-rs reports the largest delay seen as the offset *variance* here:
      // a deliberately generous uncertainty until the filter has settled.
      const { offset, frequency, frequencyVariance } = this.#startupView(s);
      const P = diag(maxDelay, frequencyVariance);
      return {
        startup: true,
        samples: s.samples,
        offset,
        offsetUncertainty: Math.sqrt(maxDelay),
        frequency,
        frequencyUncertainty: Math.sqrt(frequencyVariance),
        state: vec2(offset, frequency),
        covariance: P,
        delay: maxDelay,
        wander: this.#config.initialWander * this.#config.initialWander,
        desiredPoll: this.desiredPoll(),
        ...remote,
        lastUpdate: s.lastTime,
        time: s.lastTime,
      };
    }
    return {
      startup: false,
      samples: STARTUP_SAMPLES,
      offset: s.x[0],
      offsetUncertainty: Math.sqrt(Math.max(0, s.P[0])),
      frequency: s.x[1],
      frequencyUncertainty: Math.sqrt(Math.max(0, s.P[3])),
      state: s.x,
      covariance: s.P,
      delay: s.delays.mean(),
      wander: s.wander,
      desiredPoll: s.desiredPoll,
      ...remote,
      lastUpdate: s.lastIter,
      time: s.filterTime,
    };
  }

  /**
   * What a start-up reports before its end: the line through its samples so far
   * (startupLine: offset at the last sample, slope), once there is one whose
   * slope is known better than `initial-frequency-uncertainty` (a slope within
   * SLOPE_SIGNIFICANCE σ of a still remote clock's reported as that, with the
   * line through the samples' weighted centre); else the mean offset of the
   * lowest-delay half at a still remote clock's slope, its σ unknown. A start-up lasts
   * STARTUP_SAMPLES polls: a source whose clock runs 40 ppm off the local one
   * would otherwise be reported as still for that long, its offset lagging by
   * up to 40 µs per second (issue #11, "fast": 9 s to 100 µs), and a slew in
   * progress would go unseen (the samples are kept in the clock's present rate,
   * applyFrequencySteer, so the slope shows it).
   */
  #startupView(s: StartupState): { offset: number; frequency: number; frequencyVariance: number } {
    const ifu = this.#config.initialFrequencyUncertainty;
    const line = SourceFilter.#line(s);
    const still = s.stillSlope;
    if (line !== null && line.P[3] < ifu * ifu) {
      const [offset, slope] = line.x;
      if (Math.abs(slope - still) >= SLOPE_SIGNIFICANCE * Math.sqrt(line.P[3])) {
        return { offset, frequency: slope, frequencyVariance: line.P[3] };
      }
      // A slope the scatter explains: the line through the samples' weighted
      // centre (P[1]/P[3] = the last sample's distance from it) at the slope of
      // a still remote clock, not an extrapolation of noise to the last sample.
      // (Judged against that slope, not 0, a change of the local clock's
      // frequency moves what is reported only by what it changes.)
      return {
        offset: offset - ((slope - still) * line.P[1]) / line.P[3],
        frequency: still,
        frequencyVariance: line.P[3],
      };
    }
    return {
      offset: startupOffset(SourceFilter.#stillOffsets(s), rankingDelays(s.series)),
      frequency: still,
      frequencyVariance: STARTUP_FREQUENCY_VARIANCE,
    };
  }

  /** Test hook: the offset noise variance no delay shows (s²; unseen-noise.ts); 0 during start-up. */
  get unseenNoise(): number {
    return this.#state.kind === "stable" ? this.#state.unseenNoise : 0;
  }

  /** Test hook: the current wander (s²/s³); initial-wander² during start-up. */
  get wander(): number {
    const s = this.#state;
    return s.kind === "stable" ? s.wander : this.#config.initialWander * this.#config.initialWander;
  }
}
