// The clock filter of a reference clock: a `sock` (gpsd) or `pps` source
// (ntpd-rs `OneWayKalmanSourceController`, i.e. its Kalman source filter with
// `FixedMeasurementNoise`, rewritten).
//
// A reference clock measures no round trip, so nothing estimates its noise:
// the operator states it. Its measurements enter the same two-state Kalman
// filter as a network source's (source-filter.ts), with
//   R = precision²                 (fixed measurement noise, `precision`)
//   delay = 4 · accuracy           (`accuracy` as a pseudo-delay: the selection
//                                   radius 2σ + 0.25 · delay becomes 2σ + accuracy)
// and none of the delay machinery (pop filter, delay-based noise, jump test).
// Start-up averages the first STARTUP_SAMPLES offsets as ntpd-rs does; until
// then the source reports an uncertainty of 1 s (at least `accuracy`), so it
// cannot vote.
//
// A periodic source (pps, `period`) knows the offset only modulo its period:
// a pulse says "a second starts now", not which one. Every offset it reports
// is wrapped into ±period/2 around what the filter expects (the start-up mean,
// the prediction), and the state is kept within ±period/2 after each update
// and each steer (wrapOffset). Selection never lets such a source vote
// (select.ts): it only refines the time the other sources agree on.
//
// Pure: every time is an argument; no clock reads.

import type { AlgorithmConfig } from "../config/types.js";
import type { LeapIndicator } from "../packet/types.js";
import type { Measurement } from "../source/types.js";
import type { NtpTimestamp } from "../time.js";
import { predict, voteWander } from "./kalman-steps.js";
import { diag, mat2, mul, symmetrize, vec2, type Mat2 } from "./matrix.js";
import {
  LATE_TOLERANCE,
  STARTUP_FREQUENCY_VARIANCE,
  STARTUP_SAMPLES,
  chi1,
  type FilterUpdate,
  type Instant,
  type SourceFilterSnapshot,
} from "./source-filter.js";

/** What the operator says of a reference clock (`[[source]]` precision, accuracy, period). */
export interface ReferenceClockNoise {
  /** σ of one measurement, s (> 0). */
  precision: number;
  /** Systematic error, s (≥ 0). */
  accuracy: number;
  /** The offset is known modulo this many seconds (pps); null: absolute (sock). */
  period: number | null;
}

/** Multiplies `accuracy` into the pseudo-delay (ntpd-rs: the delay weight is 0.25). */
export const ACCURACY_DELAY_FACTOR = 4;
/** The poll exponent a reference clock reports (ntpd-rs: 0); it sends when it wants. */
export const REFERENCE_POLL = 0;

/**
 * `offset` moved by whole periods to lie within ±period/2 of `around`
 * (unchanged without a period). The upper bound is open: +period/2 maps to −period/2.
 */
export function wrapOffset(offset: number, period: number | null, around = 0): number {
  if (period === null || !Number.isFinite(offset)) return offset;
  const turns = Math.floor((offset - around) / period + 0.5);
  return offset - turns * period;
}

interface Startup {
  kind: "startup";
  offsets: number[];
  lastTime: NtpTimestamp | null;
}

interface Stable {
  kind: "stable";
  x: readonly [number, number];
  P: Mat2;
  wander: number;
  precisionScore: number;
  filterTime: NtpTimestamp;
  lastTime: NtpTimestamp;
}

function mean(values: readonly number[]): number {
  return values.length === 0 ? 0 : values.reduce((s, v) => s + v, 0) / values.length;
}

function sampleVariance(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const m = mean(values);
  return values.reduce((s, v) => s + (v - m) * (v - m), 0) / (values.length - 1);
}

export class ReferenceClockFilter {
  readonly initialPoll = REFERENCE_POLL;
  readonly #config: AlgorithmConfig;
  readonly #noise: ReferenceClockNoise;
  #state: Startup | Stable = { kind: "startup", offsets: [], lastTime: null };
  #leap: LeapIndicator = 3;

  constructor(config: AlgorithmConfig, noise: ReferenceClockNoise) {
    if (!(noise.precision > 0)) throw new RangeError(`precision must be > 0 (${noise.precision})`);
    if (noise.period !== null && !(noise.period > 0)) {
      throw new RangeError(`period must be > 0 (${noise.period})`);
    }
    this.#config = config;
    this.#noise = noise;
  }

  get period(): number | null {
    return this.#noise.period;
  }

  get inStartup(): boolean {
    return this.#state.kind === "startup";
  }

  get filterTime(): NtpTimestamp | null {
    return this.#state.kind === "stable" ? this.#state.filterTime : null;
  }

  desiredPoll(): number {
    return REFERENCE_POLL;
  }

  /** The sample's local time is t4 (t1 = t4: nothing travels both ways). */
  update(m: Measurement, _now: Instant): FilterUpdate {
    this.#leap = m.leap;
    const time = m.t4;
    const s = this.#state;
    const period = this.#noise.period;
    if (s.kind === "startup") {
      s.offsets.push(wrapOffset(m.offset, period, mean(s.offsets)));
      this.#recentre(s);
      s.lastTime = time;
      if (s.offsets.length >= STARTUP_SAMPLES) {
        const ifu = this.#config.initialFrequencyUncertainty;
        const variance = Math.max(sampleVariance(s.offsets), this.#noise.precision ** 2);
        this.#state = {
          kind: "stable",
          x: [mean(s.offsets), 0],
          P: diag(variance, ifu * ifu),
          wander: this.#config.initialWander * this.#config.initialWander,
          precisionScore: 0,
          filterTime: time,
          lastTime: time,
        };
      }
      const samples = this.#state.kind === "stable" ? STARTUP_SAMPLES : s.offsets.length;
      return { kind: "absorbed", time, startup: true, samples, p: null, weight: null };
    }

    let t = time;
    const behind = s.filterTime.diffSeconds(time);
    if (behind > 0) {
      if (behind > LATE_TOLERANCE) return { kind: "stale", lag: behind };
      t = s.filterTime;
    }
    this.#progress(s, t);
    const r = this.#noise.precision ** 2;
    const y = wrapOffset(m.offset, period, s.x[0]) - s.x[0];
    const S = s.P[0] + r;
    const k0 = s.P[0] / S;
    const k1 = s.P[2] / S;
    s.x = [wrapOffset(s.x[0] + k0 * y, period), s.x[1] + k1 * y];
    s.P = symmetrize(mul(mat2(1 - k0, 0, -k1, 1), s.P));
    const p = chi1((y * y) / S);
    const weight = 1 - r / S;
    voteWander(s, this.#config, p, weight);
    s.lastTime = t;
    return { kind: "absorbed", time: t, startup: false, samples: STARTUP_SAMPLES, p, weight };
  }

  /** Keeps the start-up mean within ±period/2 (all samples move together). */
  #recentre(s: Startup): void {
    const period = this.#noise.period;
    if (period === null) return;
    const shift = mean(s.offsets) - wrapOffset(mean(s.offsets), period);
    if (shift !== 0) for (let i = 0; i < s.offsets.length; i++) s.offsets[i]! -= shift;
  }

  progress(time: NtpTimestamp): void {
    if (this.#state.kind === "stable") this.#progress(this.#state, time);
  }

  /** The shared prediction, then the offset wrapped into ±period/2 (pps). */
  #progress(s: Stable, time: NtpTimestamp): void {
    if (predict(s, time)) s.x = [wrapOffset(s.x[0], this.#noise.period), s.x[1]];
  }

  applyOffsetSteer(offset: number): void {
    const s = this.#state;
    if (s.kind === "startup") {
      for (let i = 0; i < s.offsets.length; i++) s.offsets[i]! -= offset;
      this.#recentre(s);
      if (s.lastTime !== null) s.lastTime = s.lastTime.addSeconds(offset);
      return;
    }
    s.x = [wrapOffset(s.x[0] - offset, this.#noise.period), s.x[1]];
    s.filterTime = s.filterTime.addSeconds(offset);
    s.lastTime = s.lastTime.addSeconds(offset);
  }

  applyFrequencySteer(time: NtpTimestamp, change: number): void {
    const s = this.#state;
    if (s.kind === "startup") return;
    this.#progress(s, time);
    s.x = [s.x[0], s.x[1] - change];
  }

  snapshot(): SourceFilterSnapshot | null {
    const s = this.#state;
    const delay = ACCURACY_DELAY_FACTOR * this.#noise.accuracy;
    const remote = {
      leap: this.#leap,
      stratum: 0,
      referenceId: 0,
      rootDelay: 0,
      rootDispersion: 0,
    };
    const wander = s.kind === "stable" ? s.wander : this.#config.initialWander ** 2;
    if (s.kind === "startup") {
      if (s.lastTime === null) return null;
      // ntpd-rs: the largest round trip of a one-way source is max(1 s, accuracy),
      // reported as the offset variance until start-up ends: too wide to vote.
      const variance = Math.max(1, this.#noise.accuracy);
      const offset = mean(s.offsets);
      return {
        startup: true,
        samples: s.offsets.length,
        offset,
        offsetUncertainty: Math.sqrt(variance),
        frequency: 0,
        frequencyUncertainty: Math.sqrt(STARTUP_FREQUENCY_VARIANCE),
        state: vec2(offset, 0),
        covariance: diag(variance, STARTUP_FREQUENCY_VARIANCE),
        delay,
        wander,
        desiredPoll: REFERENCE_POLL,
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
      state: vec2(s.x[0], s.x[1]),
      covariance: s.P,
      delay,
      wander,
      desiredPoll: REFERENCE_POLL,
      ...remote,
      lastUpdate: s.lastTime,
      time: s.filterTime,
    };
  }
}
