// The per-source clock filter (ntpd-rs `algorithm/kalman/source.rs`, rewritten).
//
// It estimates, for one remote source, the state x = (Δ, ω): Δ the offset of the
// remote clock from the local clock (s), ω their frequency difference (s/s),
// both against local (wall) time. The local clock is the time axis, so filters
// of different sources can be moved to the same instant and fused.
//
// Start-up: the first STARTUP_SAMPLES measurements are only collected. The mean
// offset of their lowest-delay half (startupOffset) and the sample variance of
// all offsets seed the Kalman filter, whose frequency starts
// at 0 with σ = `initial-frequency-uncertainty`.
//
// Stable: a two-state Kalman filter.
//   predict over δ seconds: F = [[1, δ], [0, 1]], Q = w·[[δ³/3, δ²/2], [δ²/2, δ]]
//     (the frequency is a random walk with variance rate w, the "wander";
//      w starts at `initial-wander`²);
//   update with the measured offset: H = [1, 0], R = var(last 8 delays) / 4
//     (offset = (d₁ − d₂)/2 while delay = d₁ + d₂, so Var(offset) = Var(delay)/4
//      for independent legs) + e², e = max(0, delay − min(last 8) − σ_delay)/2:
//     queueing beyond the usual spread is offset error too, so such samples
//     count less (as chrony weights by delay).
// Jump: a stable filter whose innovation is wildly improbable and larger than
// any path asymmetry could explain (JUMP_P) restarts its start-up.
// After each update, the innovation's p-value (χ² with one degree of freedom)
// and the measurement's weight (1 − R/S) vote on the wander (×/÷ 4 after
// `precision-hysteresis` votes) and on the desired poll interval (±1 after
// `poll-interval-hysteresis` votes).
//
// Pop filter: a measurement whose delay exceeds the mean of the last 8 delays by
// more than `delay-outlier-threshold` standard deviations is dropped, but never
// two in a row (a lasting change of the path must get through).
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
import {
  add,
  diag,
  mat2,
  mul,
  mulVec,
  symmetrize,
  transpose,
  vec2,
  type Mat2,
  type Vec2,
} from "./matrix.js";

/** Measurements averaged before the Kalman filter starts (ntpd-rs: 8). */
export const STARTUP_SAMPLES = 8;
/** Delays kept for the measurement noise and the pop filter (ntpd-rs: 8). */
export const DELAY_WINDOW = 8;
/**
 * Frequency variance ((s/s)²) a source reports while in start-up: it knows
 * nothing about the frequency yet (ntpd-rs INITIALIZATION_FREQ_UNCERTAINTY).
 */
export const STARTUP_FREQUENCY_VARIANCE = 100;
/** Poll exponent of the start-up burst: 2 s. */
export const BURST_POLL = 1;
/**
 * Floor on the measurement noise σ (1 ns) and on the delay σ the pop filter
 * scales. Only matters for identical delays (synthetic data): it keeps the
 * Kalman gain finite and keeps rounding in the mean from popping samples.
 */
export const NOISE_FLOOR = 1e-9;
/**
 * A measurement whose time (the midpoint of T1 and T4) lies at most this many
 * seconds before the filter's time is absorbed at the filter's time instead of
 * dropped. This happens when a long-delay reply is processed just after a
 * short-delay reply of another source moved all filters forward.
 */
export const LATE_TOLERANCE = 1;
/**
 * A stable filter restarts its start-up (with the sample at hand as the first)
 * when a measurement's innovation has a p-value below JUMP_P and exceeds the
 * sample's delay plus the mean delay: no path asymmetry of an honest server
 * explains that, the remote clock itself jumped. Absorbing such a step would
 * leave the filter with a wild frequency at a small uncertainty, which then
 * drags the combination once its offset agrees again.
 */
export const JUMP_P = 1e-9;

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
  /** Dropped by the pop filter. */
  | { kind: "outlier"; delay: number; meanDelay: number; delaySigma: number }
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

/** A ring of the last DELAY_WINDOW values. */
class Window {
  readonly values: number[] = [];
  #next = 0;

  push(value: number): void {
    if (this.values.length < DELAY_WINDOW) this.values.push(value);
    else this.values[this.#next] = value;
    this.#next = (this.#next + 1) % DELAY_WINDOW;
  }

  mean(): number {
    let sum = 0;
    for (const v of this.values) sum += v;
    return this.values.length === 0 ? 0 : sum / this.values.length;
  }

  /** Sample variance (n − 1); 0 for fewer than two values. */
  variance(): number {
    const n = this.values.length;
    if (n < 2) return 0;
    const mean = this.mean();
    let sum = 0;
    for (const v of this.values) sum += (v - mean) * (v - mean);
    return sum / (n - 1);
  }

  max(): number {
    let m = -Infinity;
    for (const v of this.values) if (v > m) m = v;
    return m;
  }

  min(): number {
    let m = Infinity;
    for (const v of this.values) if (v < m) m = v;
    return m;
  }

  shift(by: number): void {
    for (let i = 0; i < this.values.length; i++) this.values[i] = (this.values[i] ?? 0) - by;
  }

  clone(): Window {
    const w = new Window();
    w.values.push(...this.values);
    w.#next = this.#next;
    return w;
  }
}

/**
 * The start-up offset estimate: the mean offset of the lowest-delay half of
 * the samples (at least one). Queueing only ever adds delay, and with it
 * (asymmetric) offset error, so the samples nearest the minimum delay are the
 * trustworthy ones; the plain mean lets two slow replies pull it far off.
 */
export function startupOffset(offsets: readonly number[], delays: readonly number[]): number {
  const n = Math.min(offsets.length, delays.length);
  if (n === 0) return 0;
  const order = Array.from({ length: n }, (_, i) => i).sort(
    (a, b) => (delays[a] ?? 0) - (delays[b] ?? 0),
  );
  const keep = Math.ceil(n / 2);
  let sum = 0;
  for (let i = 0; i < keep; i++) sum += offsets[order[i] ?? 0] ?? 0;
  return sum / keep;
}

interface StartupState {
  kind: "startup";
  offsets: Window;
  delays: Window;
  samples: number;
  lastTime: NtpTimestamp | null;
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
  /** Time of the last absorbed measurement (for the poll period). */
  lastTime: NtpTimestamp;
  /** Time of the last sample looked at (absorbed or popped). */
  lastIter: NtpTimestamp;
  /** The instant x and P describe. */
  filterTime: NtpTimestamp;
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
  }

  static #freshStartup(): StartupState {
    return {
      kind: "startup",
      offsets: new Window(),
      delays: new Window(),
      samples: 0,
      lastTime: null,
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
      s.offsets.push(m.offset);
      s.delays.push(m.delay);
      s.samples++;
      s.lastTime = time;
      this.#lastInstant = now;
      if (s.samples >= STARTUP_SAMPLES) {
        const ifu = this.#config.initialFrequencyUncertainty;
        this.#state = {
          kind: "stable",
          x: vec2(startupOffset(s.offsets.values, s.delays.values), 0),
          P: diag(s.offsets.variance(), ifu * ifu),
          wander: this.#config.initialWander * this.#config.initialWander,
          delays: s.delays.clone(),
          precisionScore: 0,
          pollScore: 0,
          desiredPoll: this.initialPoll,
          prevWasOutlier: false,
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
    const lag = s.filterTime.diffSeconds(time);
    if (lag > 0) {
      if (lag > LATE_TOLERANCE) return { kind: "stale", lag };
      t = s.filterTime;
    }

    const meanDelay = s.delays.mean();
    const delaySigma = Math.sqrt(s.delays.variance());
    if (
      !s.prevWasOutlier &&
      m.delay - meanDelay > this.#config.delayOutlierThreshold * Math.max(delaySigma, NOISE_FLOOR)
    ) {
      s.prevWasOutlier = true;
      s.lastIter = t;
      return { kind: "outlier", delay: m.delay, meanDelay, delaySigma };
    }
    s.prevWasOutlier = false;

    this.#progress(s, t);
    {
      const y = m.offset - s.x[0];
      const S = s.P[0] + Math.max(s.delays.variance() / 4, NOISE_FLOOR * NOISE_FLOOR);
      const p = chi1((y * y) / S);
      if (p < JUMP_P && Math.abs(y) > m.delay + meanDelay) {
        const fresh = SourceFilter.#freshStartup();
        fresh.offsets.push(m.offset);
        fresh.delays.push(m.delay);
        fresh.samples = 1;
        fresh.lastTime = t;
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
    s.delays.push(m.delay);

    // Kalman update with H = [1, 0].
    // Queueing delay beyond the recent minimum is (possibly one-sided) offset
    // error on top of the usual noise: trust such a sample less.
    const excess = Math.max(0, m.delay - s.delays.min() - Math.sqrt(s.delays.variance())) / 2;
    const r = Math.max(s.delays.variance() / 4, NOISE_FLOOR * NOISE_FLOOR) + excess * excess;
    const y = m.offset - s.x[0];
    const S = s.P[0] + r;
    const k0 = s.P[0] / S;
    const k1 = s.P[2] / S;
    s.x = vec2(s.x[0] + k0 * y, s.x[1] + k1 * y);
    // (I − K H) P
    const ikh = mat2(1 - k0, 0, -k1, 1);
    s.P = symmetrize(mul(ikh, s.P));

    const p = chi1((y * y) / S);
    const weight = 1 - r / S;
    const period = t.diffSeconds(s.lastTime);
    s.lastTime = t;
    s.lastIter = t;
    this.#lastInstant = now;

    this.#voteWander(s, p, weight);
    this.#votePoll(s, p, weight, period);

    return { kind: "absorbed", time: t, startup: false, samples: STARTUP_SAMPLES, p, weight };
  }

  /** Move the Kalman state forward to `time` (no-op during start-up or for the past). */
  progress(time: NtpTimestamp): void {
    if (this.#state.kind === "stable") this.#progress(this.#state, time);
  }

  #progress(s: StableState, time: NtpTimestamp): void {
    const dt = time.diffSeconds(s.filterTime);
    if (!(dt > 0)) return;
    const F = mat2(1, dt, 0, 1);
    const w = s.wander;
    const Q = mat2((w * dt * dt * dt) / 3, (w * dt * dt) / 2, (w * dt * dt) / 2, w * dt);
    s.x = mulVec(F, s.x);
    s.P = symmetrize(add(mul(mul(F, s.P), transpose(F)), Q));
    s.filterTime = time;
  }

  #voteWander(s: StableState, p: number, weight: number): void {
    const c = this.#config;
    // 1 − p is uniform on [0, 1] when the model is right.
    if (1 - p < c.precisionLowProbability && weight > c.precisionMinimumWeight) {
      s.precisionScore -= 1;
    } else if (1 - p > c.precisionHighProbability) {
      s.precisionScore += 1;
    } else {
      s.precisionScore -= Math.sign(s.precisionScore);
    }
    if (s.precisionScore <= -c.precisionHysteresis) {
      s.wander /= 4;
      s.precisionScore = 0;
    } else if (s.precisionScore >= c.precisionHysteresis) {
      s.wander *= 4;
      s.precisionScore = 0;
    }
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
      s.offsets.shift(offset);
      if (s.lastTime !== null) s.lastTime = s.lastTime.addSeconds(offset);
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
    if (s.kind !== "stable") return;
    this.#progress(s, time);
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
      const P = diag(maxDelay, STARTUP_FREQUENCY_VARIANCE);
      const offset = startupOffset(s.offsets.values, s.delays.values);
      return {
        startup: true,
        samples: s.samples,
        offset,
        offsetUncertainty: Math.sqrt(maxDelay),
        frequency: 0,
        frequencyUncertainty: Math.sqrt(STARTUP_FREQUENCY_VARIANCE),
        state: vec2(offset, 0),
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

  /** Test hook: the current wander (s²/s³); initial-wander² during start-up. */
  get wander(): number {
    const s = this.#state;
    return s.kind === "stable" ? s.wander : this.#config.initialWander * this.#config.initialWander;
  }
}
