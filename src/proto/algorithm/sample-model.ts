// What one measurement is worth to a source's filter (source-filter.ts): the
// delay windows, the variance an exchange's queueing allows (the queueing
// model of docs/ARCHITECTURE.md, "The per-source filter's measurement model"),
// and the weighted line its start-up fits through its first samples.

import { MIN_DELAY_SECONDS } from "../source/source.js";
import type { Measurement } from "../source/types.js";
import { mat2, vec2, type Mat2, type Vec2 } from "./matrix.js";

/** Delays kept for the measurement noise and the pop filter (ntpd-rs: 8). */
export const DELAY_WINDOW = 8;

/**
 * Floor on the measurement noise σ (1 ns) and on the delay σ the pop filter
 * scales. Only matters for identical delays (synthetic data): it keeps the
 * Kalman gain finite and keeps rounding in the mean from popping samples.
 */
export const NOISE_FLOOR = 1e-9;

/**
 * Delays further than this many robust σ (1.4826 × MAD) from the median of
 * the window are spikes: left out of the spread that sets the measurement
 * noise.
 */
export const SPIKE_SIGMAS = 5;

/**
 * The smallest measurement variance of a sample, as a share of the delay
 * window's spread (σ_trim²): an exchange at the minimum delay is nearly exact
 * by the queueing model, but not infinitely better than a usual one (a
 * symmetric noise the delays cannot show, a minimum not yet seen). With
 * Exp(θ) queueing on each leg the floor is σ_trim/√48 ≈ 0.2 θ, a quarter of
 * the variance of a sample with the spread's queueing (σ_trim²/12).
 */
export const QUEUEING_FLOOR_SHARE = 1 / 48;

/** A ring of the last `capacity` values (DELAY_WINDOW unless told). */
export class Window {
  readonly values: number[] = [];
  #next = 0;
  readonly #capacity: number;

  constructor(capacity = DELAY_WINDOW) {
    this.#capacity = capacity;
  }

  push(value: number): void {
    if (this.values.length < this.#capacity) this.values.push(value);
    else this.values[this.#next] = value;
    this.#next = (this.#next + 1) % this.#capacity;
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

  median(): number {
    return median(this.values);
  }

  /** A window holding the last `capacity` of `values`. */
  static of(values: readonly number[], capacity = DELAY_WINDOW): Window {
    const w = new Window(capacity);
    for (const v of values) w.push(v);
    return w;
  }

  /**
   * A spread that a delay spike or two in the window does not inflate:
   * 1.4826 × the median absolute deviation (σ for normal data).
   */
  robustSigma(): number {
    if (this.values.length < 2) return 0;
    const mid = this.median();
    return 1.4826 * median(this.values.map((v) => Math.abs(v - mid)));
  }

  /**
   * The standard deviation of the values within SPIKE_SIGMAS robust σ of the
   * median: a delay spike in the window does not inflate it, while the usual
   * spread of a heavy-tailed path (which MAD alone underrates) still counts.
   */
  trimmedSigma(): number {
    const mid = this.median();
    const limit = SPIKE_SIGMAS * Math.max(this.robustSigma(), NOISE_FLOOR);
    const kept = this.values.filter((v) => Math.abs(v - mid) <= limit);
    if (kept.length < 2) return this.robustSigma();
    let mean = 0;
    for (const v of kept) mean += v / kept.length;
    let sum = 0;
    for (const v of kept) sum += (v - mean) * (v - mean);
    return Math.sqrt(sum / (kept.length - 1));
  }

  /** A copy without the values trimmedSigma() leaves out (at least the median stays). */
  withoutSpikes(): Window {
    const mid = this.median();
    const limit = SPIKE_SIGMAS * Math.max(this.robustSigma(), NOISE_FLOOR);
    const w = new Window();
    for (const v of this.values) if (Math.abs(v - mid) <= limit) w.push(v);
    if (w.values.length === 0) w.push(mid);
    return w;
  }

  shift(by: number): void {
    for (let i = 0; i < this.values.length; i++) this.values[i] = (this.values[i] ?? 0) - by;
  }

  clone(): Window {
    const w = new Window(this.#capacity);
    w.values.push(...this.values);
    w.#next = this.#next;
    return w;
  }
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/**
 * Variance (s²) of the offset error that the queueing of one exchange can
 * cause: `excess` = its delay minus the path's minimum delay is the queueing
 * on both legs together (q₁ + q₂), and the offset is off by (q₁ − q₂)/2,
 * somewhere in ±excess/2. With the queueing of the two legs independent and
 * alike (exponential: q₁ is uniform on [0, excess] given the sum) that is
 * excess²/12. A late timestamp at either end (T1 taken early, T2 or T4 late, T3
 * early) is queueing the same way. So an exchange near the minimum delay is
 * nearly exact, one with much queueing is worth little: chrony weights by the
 * same excess, more gently.
 */
export function queueingVariance(delay: number, minDelay: number): number {
  if (delay < 0) {
    // Impossible (rawDelay): a reply that left e = minDelay − delay or more
    // before its T3 makes the offset too large by e/2 or more, not somewhere
    // within ±e/2: at least e²/4.
    const early = minDelay - delay;
    return (early * early) / 4;
  }
  const excess = Math.max(0, delay - minDelay);
  return (excess * excess) / 12;
}

/**
 * The round trip as the four timestamps give it when it is negative (which
 * Measurement.delay carries clamped to 2^-18 s), else the delay: negative
 * when a server's T3 is later than its reply really left (or its T2 earlier
 * than the request arrived), which makes the offset too large by about half
 * of it.
 */
export function rawDelay(m: Measurement): number {
  if (m.delay > MIN_DELAY_SECONDS) return m.delay;
  const raw = m.t4.diffSeconds(m.t1) - m.t3.diffSeconds(m.t2);
  return raw < 0 ? raw : m.delay;
}

/**
 * The measurement variance (s²) of a sample with `delay` on a path whose
 * minimum delay is `minDelay` and whose usual delay spread is `spread`: its
 * queueing variance over the floor (QUEUEING_FLOOR_SHARE of the spread²).
 */
export function sampleVariance(delay: number, minDelay: number, spread: number): number {
  return (
    queueingVariance(delay, minDelay) +
    QUEUEING_FLOOR_SHARE * spread * spread +
    NOISE_FLOOR * NOISE_FLOOR
  );
}

/**
 * The path's minimum delay as a start-up's delays show it: their smallest,
 * unless it lies more than SPIKE_SIGMAS robust σ (`sigma`) below the second
 * smallest. Such a reply was sent early (it takes the line alone when it
 * counts as the one exchange without queueing) and is measured as early, by
 * how far below the second smallest it lies. Measured against the second
 * smallest always, the best exchange of a path with much queueing counted as
 * early too: in the accuracy bench's `jitter` (Exp(100 µs) each way) the
 * start-up's error in its first 4 s was twice what the smallest gives.
 */
export function startupMinimum(values: readonly number[], sigma: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const smallest = sorted[0] ?? 0;
  const second = sorted[Math.min(1, sorted.length - 1)] ?? 0;
  return second - smallest > SPIKE_SIGMAS * Math.max(sigma, NOISE_FLOOR) ? second : smallest;
}

/** A start-up sample: its time relative to the first (s, local), offset and delay (s). */
export interface StartupSample {
  at: number;
  offset: number;
  delay: number;
  /** The delay before the clamp (rawDelay), when it differs. */
  raw?: number;
}

/**
 * The state the start-up samples support: offset and frequency at the time of
 * the last sample from a weighted least-squares line through them, each
 * weighted by 1/sampleVariance (so a delay spike hardly counts), with the
 * line's covariance (scaled up when the residuals are larger than the weights
 * promise). Null when the samples do not span time (fewer than 3, or all at
 * one instant). A frequency from the burst means the first long poll interval
 * does not have to find it alone: a single sample 16 s after the burst would
 * otherwise set it to (its error)/16 s (issue #11: 40 ppm off a still
 * source). chrony fits its samples by regression as well.
 */
export function startupLine(
  samples: readonly StartupSample[],
): { x: Vec2; P: Mat2; scatter: number; residuals: number[] } | null {
  const n = samples.length;
  if (n < 3) return null;
  const delays = samples.map((s) => s.delay);
  // The path's minimum from the possible round trips (rawDelay) only.
  const possible = samples.filter((s) => (s.raw ?? s.delay) >= 0).map((s) => s.delay);
  const mid = median(delays);
  const sigma = 1.4826 * median(delays.map((d) => Math.abs(d - mid)));
  const minDelay = startupMinimum(possible.length > 0 ? possible : delays, sigma);
  const end = samples[n - 1]!.at;
  // Normal equations for offset = a + b·(t − end), weights w = 1/variance.
  let sw = 0;
  let st = 0;
  let stt = 0;
  let so = 0;
  let sto = 0;
  const weights = samples.map((s) => {
    const delay = s.raw ?? s.delay;
    // Below the others' minimum: impossible on this path, as a negative round trip.
    return 1 / sampleVariance(delay < minDelay ? delay - minDelay : delay, minDelay, sigma);
  });
  samples.forEach((s, i) => {
    const w = weights[i]!;
    const t = s.at - end;
    sw += w;
    st += w * t;
    stt += w * t * t;
    so += w * s.offset;
    sto += w * t * s.offset;
  });
  const det = sw * stt - st * st;
  if (!(det > 0) || !(det > 1e-12 * sw * stt)) return null;
  const a = (stt * so - st * sto) / det;
  const b = (sw * sto - st * so) / det;
  let chi = 0;
  samples.forEach((s, i) => {
    const r = s.offset - (a + b * (s.at - end));
    chi += weights[i]! * r * r;
  });
  const scale = Math.max(1, chi / (n - 2));
  // The scatter of the samples with a usual delay around the line beyond what
  // their queueing explains: offset noise their delays do not show
  // (timestamping, scheduling, a clock adjusted under both ends), which the
  // stable filter keeps counting. (With all of the scatter counted, a path
  // with much queueing drowned the queueing weights for ~18 samples.)
  const limit = SPIKE_SIGMAS * Math.max(sigma, NOISE_FLOOR);
  const residuals: number[] = [];
  let squares = 0;
  for (const s of samples) {
    if (Math.abs(s.delay - mid) > limit) continue;
    const r = s.offset - (a + b * (s.at - end));
    residuals.push(r);
    // What the queueing explains is counted by the stable filter's R already.
    squares += r * r - queueingVariance(s.raw ?? s.delay, minDelay);
  }
  squares = Math.max(0, squares);
  return {
    residuals,
    scatter: residuals.length > 2 ? squares / (residuals.length - 2) : 0,
    x: vec2(a, b),
    P: mat2((stt / det) * scale, (-st / det) * scale, (-st / det) * scale, (sw / det) * scale),
  };
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

/**
 * The start-up samples' delays for startupOffset's ranking: an impossible
 * (negative, rawDelay) round trip ranks as far above the smallest possible
 * delay as it lies below it, instead of first (its clamped delay is the
 * smallest there is).
 */
export function rankingDelays(series: readonly { delay: number; raw: number }[]): number[] {
  const possible = series.filter((p) => p.raw >= 0).map((p) => p.delay);
  const min = possible.length > 0 ? Math.min(...possible) : MIN_DELAY_SECONDS;
  return series.map((p) => (p.raw < 0 ? 2 * min - p.raw : p.delay));
}
