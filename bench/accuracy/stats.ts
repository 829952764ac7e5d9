// Figures of one daemon's run against the truth: convergence times and the
// error after convergence.

/** One sample: seconds since both daemons were started, estimate and truth (s), frequency (ppm). */
export interface Sample {
  t: number;
  /** The daemon's estimate of true time − system clock (s), or null before it has one. */
  estimate: number | null;
  truth: number;
  /** The daemon's frequency estimate (ppm, positive: system clock slow), or null. */
  frequency: number | null;
  /** Taken on the dense start-up grid: counts for convergence, not for the error figures. */
  dense?: boolean;
}

export interface ErrorStats {
  /** Samples in the window. */
  count: number;
  /** Mean signed error (estimate − truth), s: the bias. */
  mean: number;
  rms: number;
  /** Median |error|. */
  median: number;
  p95: number;
  max: number;
}

/**
 * Seconds (since start) of the first sample at or after `from` from which
 * every later sample is within `threshold` of the truth ("converged and
 * stayed"), or null if the last sample is not.
 */
export function convergenceTime(
  samples: readonly Sample[],
  threshold: number,
  from = 0,
): number | null {
  let since: number | null = null;
  for (const s of samples) {
    if (s.t < from) continue;
    const ok = s.estimate !== null && Math.abs(s.estimate - s.truth) <= threshold;
    if (!ok) since = null;
    else if (since === null) since = s.t;
  }
  return since;
}

/**
 * Error figures over the regular (not dense) samples at or after `from`
 * seconds that have an estimate.
 */
export function errorStats(samples: readonly Sample[], from: number): ErrorStats | null {
  const errors: number[] = [];
  for (const s of samples) {
    if (s.t >= from && s.estimate !== null && s.dense !== true) errors.push(s.estimate - s.truth);
  }
  if (errors.length === 0) return null;
  const abs = errors.map(Math.abs).sort((a, b) => a - b);
  const mean = errors.reduce((a, b) => a + b, 0) / errors.length;
  const rms = Math.sqrt(errors.reduce((a, b) => a + b * b, 0) / errors.length);
  return {
    count: errors.length,
    mean,
    rms,
    median: nearestRank(abs, 0.5),
    p95: nearestRank(abs, 0.95),
    max: abs[abs.length - 1]!,
  };
}

/** The q-quantile (0..1] of ascending `sorted` by nearest rank (NaN for none). */
export function nearestRank(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** The last frequency estimate, or null. */
export function finalFrequency(samples: readonly Sample[]): number | null {
  for (let i = samples.length - 1; i >= 0; i--) {
    const f = samples[i]!.frequency;
    if (f !== null) return f;
  }
  return null;
}
