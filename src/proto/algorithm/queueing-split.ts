// How a path's queueing splits between its two legs, learnt from the filter's
// own innovations: source-filter.ts corrects each sample's offset by it.
//
// An exchange whose delay exceeds the path's minimum by e has queued e in all,
// q₁ on the request leg and q₂ on the reply leg, and its offset is off by
// (q₁ − q₂)/2. When both legs queue alike that is anywhere within ±e/2 and
// averages out: the queueing model (sample-model.ts) only weights such an
// exchange less. When one leg does all the queueing it is exactly −e/2 (reply
// leg) or +e/2 (request leg), the same sign every time, and no weighting
// removes it: a server whose replies leave some µs after their T3 reading (a
// loaded send path; every basic-mode server reads T3 before it sends), or a
// client whose own stamps are read in user space. The accuracy bench's
// reference sent its replies a median 14 µs late (mean 20 µs): in 14 of 15
// runs of its clean, fast, slow, loss and restart our estimate's mean error
// was −1.2 to −2.9 µs, with a scatter of 0.5 to 1.5 µs around that.
//
// So the filter keeps the last SPLIT_WINDOW pairs (d, y): the round trip d and
// y, the offset less the filter's prediction before any correction (the
// start-up's samples come in with their offset less the start-up line, so
// the first split can come 8 samples after the start-up, not 16). Kendall's
// rank test tells whether y falls (or rises) with d beyond what chance gives;
// only then is the share k = dy/dd taken (the Theil–Sen slope: the median of
// the pairwise slopes, which a delay spike that passed the pop filter moves by
// one rank, not by its size), at most ½ either way, and each offset is moved
// by −k·(d − d₀): to what the exchange would have shown with the round trip
// d₀ of the path's best exchanges, the window's second smallest
// (SPLIT_BASE_RANK). Not the smallest: one reply sent before its T3 (which
// the bench's reference does now and then) or one stamp read wrong has that,
// and moving every offset to it biases them by half its error the other way.
// When the split changes, the filter's state moves with it (source-filter.ts,
// #resplit): a change of the correction is a step in the offsets, which
// learnt through the Kalman gain leaks into the frequency.
//
// The test's threshold is strict (SPLIT_Z) because successive windows share
// all but one pair, so chance correlations persist: with legs that queue alike
// (Exp(100 µs) each way, 400 seeded runs of the filter alone) it passed in 17
// of 17 110 windows and the error did not change (median / p95 9.0 / 31 µs);
// of the simulator's scenarios, none of which queue on one leg only, only
// `reboot` changes (RMS 50.3 → 49.7 µs). On the lateness the bench's
// reference showed (200 seeded runs of the filter alone, legs of 20 µs + Exp(1
// µs), replies late by a draw from the 1 951 measured): median / p95 |error|
// over 1-110 s 3.9 / 8.5 → 1.3 / 6.2 µs, over 40-110 s 3.6 / 7.8 → 1.0 / 3.2
// µs. In the simulator's late-replies the published estimate's p95 error goes
// from 10.5 to 1.5 µs.

import { median } from "./sample-model.js";

/** Pairs (round trip, uncorrected innovation) the split is estimated from. */
export const SPLIT_WINDOW = 32;
/** Pairs needed before any split is taken: the start-up's 8 and 8 more (120 pairwise slopes). */
export const SPLIT_MIN_POINTS = 16;
/** Kendall's z (concordance over its σ under independence) beyond which the legs are taken to queue apart. */
export const SPLIT_Z = 4;
/** Rank (from 0) of the window's round trip the offsets are moved to: the second smallest. */
export const SPLIT_BASE_RANK = 1;

export interface SplitPoint {
  /** The exchange's round trip (s, ≥ 0). */
  delay: number;
  /** Its offset less the filter's prediction, before any correction (s). */
  y: number;
}

export interface QueueingSplit {
  /** k: an exchange's offset error per second of queueing (−½ .. ½; 0: alike legs). */
  share: number;
  /** d₀: the round trip the offsets are moved to (s). */
  base: number;
}

export const NO_SPLIT: QueueingSplit = { share: 0, base: 0 };

/** How far `split` moves the offset of an exchange with round trip `delay` (s, to subtract). */
export function splitCorrection(split: QueueingSplit, delay: number): number {
  return split.share * (delay - split.base);
}

/** The split the `points` (oldest first) show, or NO_SPLIT when they show none. */
export function queueingSplit(points: readonly SplitPoint[]): QueueingSplit {
  const n = points.length;
  if (n < SPLIT_MIN_POINTS) return NO_SPLIT;
  const slopes: number[] = [];
  let concordance = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const de = points[j]!.delay - points[i]!.delay;
      if (de === 0) continue;
      const dy = points[j]!.y - points[i]!.y;
      slopes.push(dy / de);
      concordance += Math.sign(de) * Math.sign(dy);
    }
  }
  // The Mann–Kendall variance of the concordance of independent samples (no ties).
  const sigma = Math.sqrt((n * (n - 1) * (2 * n + 5)) / 18);
  if (Math.abs(concordance) <= SPLIT_Z * sigma) return NO_SPLIT;
  const delays = points.map((p) => p.delay).sort((a, b) => a - b);
  return {
    share: Math.max(-0.5, Math.min(0.5, median(slopes))),
    base: delays[SPLIT_BASE_RANK]!,
  };
}
