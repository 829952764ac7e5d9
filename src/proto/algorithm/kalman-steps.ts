// The two steps every per-source Kalman filter shares (network sources,
// source-filter.ts; reference clocks, reference-filter.ts), written once.

import type { AlgorithmConfig } from "../config/types.js";
import type { NtpTimestamp } from "../time.js";
import { add, mat2, mul, mulVec, symmetrize, transpose, type Mat2, type Vec2 } from "./matrix.js";

/** A filter's state as the prediction moves it: offset and frequency, their covariance. */
export interface PredictedState {
  x: Vec2;
  P: Mat2;
  /** Frequency random walk, s²/s³ (the process noise). */
  wander: number;
  /** The instant x and P describe. */
  filterTime: NtpTimestamp;
}

/**
 * Carries the state forward to `time` (the offset grows with the frequency;
 * the covariance with the wander). Returns false, changing nothing, when
 * `time` is not after the state's own instant.
 */
export function predict(s: PredictedState, time: NtpTimestamp): boolean {
  const dt = time.diffSeconds(s.filterTime);
  if (!(dt > 0)) return false;
  const F = mat2(1, dt, 0, 1);
  const w = s.wander;
  const Q = mat2((w * dt * dt * dt) / 3, (w * dt * dt) / 2, (w * dt * dt) / 2, w * dt);
  s.x = mulVec(F, s.x);
  s.P = symmetrize(add(mul(mul(F, s.P), transpose(F)), Q));
  s.filterTime = time;
  return true;
}

/** What the wander adaptation keeps between samples. */
export interface WanderVotes {
  wander: number;
  precisionScore: number;
}

type WanderConfig = Pick<
  AlgorithmConfig,
  | "precisionLowProbability"
  | "precisionHighProbability"
  | "precisionMinimumWeight"
  | "precisionHysteresis"
>;

/**
 * One sample's vote on the wander (ntpd-rs's precision-* settings): samples
 * that fit too well vote it down, samples that fit too badly vote it up, and
 * `precision-hysteresis` votes in a row change it fourfold.
 */
export function voteWander(s: WanderVotes, c: WanderConfig, p: number, weight: number): void {
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
