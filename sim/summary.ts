// What a run amounts to: convergence times, the offset error after
// convergence, the final frequency error, steps, falseticker selections,
// no-consensus and panics. Plain data, so equal runs give deepEqual summaries.

import type { PanicRecord, RunResult, StepRecord } from "./simulation.js";

export const CONVERGED = 1e-3;
export const CONVERGED_FINE = 100e-6;
/** Converged: below the threshold and staying there this long (or to the end), s. */
export const CONVERGENCE_HOLD = 300;

export interface OffsetStats {
  /** Root mean square of the true offset, s. */
  rms: number;
  /** 95th percentile of |offset|, s. */
  p95: number;
  /** Largest |offset|, s. */
  max: number;
}

export interface Summary {
  scenario: string;
  seed: number;
  /** Simulated hours run. */
  hours: number;
  /**
   * First time |offset| < 1 ms and staying so for CONVERGENCE_HOLD (or to the
   * end), s since the start; null: never.
   */
  within1ms: number | null;
  /** The same for 100 µs. */
  within100us: number | null;
  /** The last time |offset| was 1 ms or more, s since the start; null: never. */
  lastAbove1ms: number | null;
  /** |offset| statistics from `within1ms` to the end; null if never converged. */
  afterConvergence: OffsetStats | null;
  /**
   * The published estimate's error (RunResult.estimateErrors), as the accuracy
   * bench measures it: the first time from which it stays within 100 µs to the
   * end (null: never), and its |error| statistics from then on.
   */
  estimate: { within100us: number | null; median: number; p95: number; max: number };
  /** True offset at the end (true − clock), s. */
  finalOffset: number;
  /** Oscillator error minus the correction (without a running slew) at the end, ppm. */
  finalFrequencyError: number;
  steps: StepRecord[];
  /** Steps later than `within1ms`. */
  stepsAfterConvergence: number;
  /** Controller updates that selected a falseticker (see Scenario.falsetickerThreshold). */
  falsetickerSelected: number;
  /** The first such selection: when, which server, its error (s). */
  firstFalsetickerSelection: { at: number; server: string; error: number } | null;
  noConsensus: number;
  /** The last "no-consensus", s since the start; null: none. */
  lastNoConsensus: number | null;
  panics: PanicRecord[];
  meddling: number;
  updates: number;
  slews: number;
  servers: RunResult["servers"];
}

export function summarize(run: RunResult): Summary {
  const offsets = run.offsets;
  const dt = run.sampleInterval;
  const hold = Math.ceil(CONVERGENCE_HOLD / dt);
  const firstBelow = (limit: number): number | null => {
    let run = 0;
    for (let i = 0; i < offsets.length; i++) {
      run = Math.abs(offsets[i]!) < limit ? run + 1 : 0;
      if (run > hold) return (i - hold) * dt;
    }
    return run > 0 ? (offsets.length - run) * dt : null;
  };
  const within1ms = firstBelow(CONVERGED);
  const within100us = firstBelow(CONVERGED_FINE);
  let lastAbove1ms: number | null = null;
  for (let i = offsets.length - 1; i >= 0; i--) {
    if (!(Math.abs(offsets[i]!) < CONVERGED)) {
      lastAbove1ms = i * dt;
      break;
    }
  }
  let afterConvergence: OffsetStats | null = null;
  if (within1ms !== null) {
    const tail = Array.from(offsets.subarray(Math.round(within1ms / dt)), Math.abs);
    afterConvergence = offsetStats(tail);
  }
  const first = run.falsetickerSelections[0];
  return {
    estimate: estimateStats(run.estimateErrors, dt),
    scenario: run.scenario,
    seed: run.seed,
    hours: run.duration / 3600,
    within1ms,
    within100us,
    lastAbove1ms,
    afterConvergence,
    finalOffset: run.finalOffset,
    finalFrequencyError: run.finalFrequencyError,
    steps: run.steps,
    stepsAfterConvergence:
      within1ms === null ? 0 : run.steps.filter((s) => s.at > within1ms).length,
    falsetickerSelected: run.falsetickerSelections.length,
    firstFalsetickerSelection: first === undefined ? null : { ...first },
    noConsensus: run.noConsensus.length,
    lastNoConsensus: run.noConsensus.at(-1) ?? null,
    panics: run.panics,
    meddling: run.meddling,
    updates: run.updates,
    slews: run.slews,
    servers: run.servers,
  };
}

/** RMS, 95th percentile and maximum of absolute values. */
export function offsetStats(absolute: number[]): OffsetStats {
  if (absolute.length === 0) return { rms: 0, p95: 0, max: 0 };
  let squares = 0;
  let max = 0;
  for (const v of absolute) {
    squares += v * v;
    if (v > max) max = v;
  }
  const sorted = [...absolute].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1);
  return { rms: Math.sqrt(squares / absolute.length), p95: sorted[rank]!, max };
}

/** The published estimate's convergence (bench style: stays within 100 µs to the end) and error after it. */
export function estimateStats(errors: Float64Array, dt: number): Summary["estimate"] {
  let from = errors.length;
  while (from > 0 && Math.abs(errors[from - 1]!) <= CONVERGED_FINE) from--;
  const tail = Array.from(errors.subarray(from), Math.abs).sort((a, b) => a - b);
  const rank = (q: number) =>
    tail[Math.min(tail.length - 1, Math.ceil(q * tail.length) - 1)] ?? NaN;
  return {
    within100us: from === errors.length ? null : from * dt,
    median: rank(0.5),
    p95: rank(0.95),
    max: tail.at(-1) ?? NaN,
  };
}
