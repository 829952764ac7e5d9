// The offset noise of a source that its delays do not show, learnt from the
// filter's own innovations (source-filter.ts adds it to every sample's
// measurement variance).
//
// The queueing model (sample-model.ts) explains the offset error an exchange's
// extra delay allows. Some noise no delay reveals: a server whose T2 and T3
// readings are noisy on their own (their sum moves the offset, their difference
// the delay, and the two are uncorrelated), scheduling on a loaded machine, a
// clock adjusted under both ends. Left out, the filter takes each sample for
// nearly exact; the innovations come out larger than it expects, and the wander
// votes (kalman-steps.ts) read that as a wandering frequency: in the
// simulator's fast-reference (1 µs read noise per server time stamp, invisible
// in the delays) the wander rose 16 000-fold, the poll interval never left its
// minimum and the frequency estimate swung by ±5 ppm at a stated σ of 1 ppm.
//
// So the filter keeps the last UNSEEN_WINDOW innovations y with the variance
// its model gave them without this noise (m = HPH' + queueing variance), and
// takes as the unseen noise U the smallest variance with which the window's
// successive differences are typical: y_i − y_{i−1} has the variance
// m_i + m_{i−1} + 2U when the innovations are independent, as a right model
// makes them, and the median of (y_i − y_{i−1})²/(m_i + m_{i−1} + 2U) is then
// the median of χ² with one degree of freedom. Differences, because a
// frequency that moved leaves a trail of same-signed innovations, which is
// the wander's to answer (kalman-steps.ts votes it up) and which the
// difference of two neighbours cancels (von Neumann's successive
// differences); taken as noise it made the filter slower still (the
// simulator's thermal: U rose to 29 µs, the offsets' RMS from 18 to 25 µs). A
// filter that follows noise too closely gives alternating signs instead,
// whose differences are large. The median, not the mean: an outlier moves it
// by one rank, not by its square.
//
// Two limits keep it from standing in for what it is not. Only the innovations
// of the less-queued half of the window count, and it is never more than the
// scatter the start-up line found: on a heavy-tailed path (the simulator's
// Internet servers) the queueing model underrates the error of a much-queued
// exchange, and an added noise learnt from those took the weight from the
// exchanges near the minimum delay (reboot: RMS 41 → 50 µs). With both, over
// seeds 2–6 of the simulator: fast-reference p95 of the estimate 3.5 → 2.0
// µs, reboot-drift-file 75 → 54, reboot 66 → 57, lossy 67 → 58, clean-lan
// 5.3 → 5.4, thermal 10.1 → 11.2 µs.

import { median } from "./sample-model.js";

/** Innovations the unseen noise is estimated from (32 polls: a median of 16 scatters by ±40 %). */
export const UNSEEN_WINDOW = 32;
/** Innovations (their successive pairs, less one) needed before the estimate replaces the start-up's. */
export const UNSEEN_MIN_SAMPLES = 8;
/**
 * Share by which the estimate may fall per sample: it rises at once to what
 * the innovations show, and falls no faster than this. A few small
 * innovations in a row (a state better than its stated uncertainty, the
 * first samples after a start-up) otherwise took it to 0, and the filter took
 * each next sample for exact: in the simulator's reference step, a frequency
 * swinging by ±2 ppm at a stated σ of 0.006 ppm.
 */
export const UNSEEN_FADE = 1 / 8;
/** Median of the χ² distribution with one degree of freedom. */
export const CHI1_MEDIAN = 0.454936;
/** One innovation and what the filter's model, without the unseen noise, expected of it. */
export interface Innovation {
  /** y, s. */
  y: number;
  /** HPH' + the sample's queueing variance, s². */
  modeled: number;
  /** The HPH' part of `modeled`: the state's own uncertainty, s². */
  state: number;
}

/**
 * The unseen noise variance (s²) the `recent` innovations (oldest first)
 * support, or `current` faded by UNSEEN_FADE when that is more; never above
 * `ceiling` (the start-up line's scatter).
 */
export function unseenNoise(
  recent: readonly Innovation[],
  current: number,
  ceiling: number,
): number {
  return Math.min(ceiling, learnt(recent, current));
}

function learnt(recent: readonly Innovation[], current: number): number {
  // Only the exchanges with the least queueing (the lower half of the window)
  // tell the noise beyond it: on a heavy-tailed path the queueing model
  // underrates the error of a much-queued exchange, and that shortfall is no
  // noise of the near-minimum exchanges.
  const queueing = (i: Innovation) => i.modeled - i.state;
  const usualQueueing = median(recent.map(queueing));
  const informative = (i: Innovation) => queueing(i) <= usualQueueing;
  const faded = current * (1 - UNSEEN_FADE);
  const pairs: { d2: number; modeled: number }[] = [];
  for (let i = 1; i < recent.length; i++) {
    const a = recent[i - 1]!;
    const b = recent[i]!;
    if (!informative(a) || !informative(b)) continue;
    pairs.push({ d2: (b.y - a.y) ** 2, modeled: a.modeled + b.modeled });
  }
  if (pairs.length < UNSEEN_MIN_SAMPLES - 1) return faded;
  const ratioMedian = (u: number) => median(pairs.map((p) => p.d2 / (p.modeled + 2 * u)));
  if (ratioMedian(0) <= CHI1_MEDIAN) return faded;
  // ratioMedian falls as u grows; bisect for the u where it is CHI1_MEDIAN.
  let low = 0;
  let high = Math.max(...pairs.map((p) => p.d2 / (2 * CHI1_MEDIAN)));
  for (let k = 0; k < 50 && high - low > 1e-3 * high; k++) {
    const mid = (low + high) / 2;
    if (ratioMedian(mid) > CHI1_MEDIAN) low = mid;
    else high = mid;
  }
  return Math.max(faded, (low + high) / 2);
}
