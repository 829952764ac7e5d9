// What a source's own samples prove about the true offset, independent of any
// filter's prior: the interval a young source brings to selection.
//
// One sample from an honest server bounds the offset of true time from the
// local clock, at the sample's time, by its correctness interval
//   offset ± λ,  λ = delay/2 + root delay/2 + root dispersion + both precisions:
// whatever the split of the round trip between the two legs, the server's
// clock read between T1 and T4 (the classic NTP correctness interval; chrony
// selects on the same root distance of a source's best sample). Unlike a
// statistical σ this holds from the first sample, so a majority of such
// intervals is real at start-up, when a filter's σ is still only a
// placeholder.
//
// Between a sample and the instant selection looks at, the local clock may
// drift against true time: the interval widens by `drift` · age. Of the recent
// samples the narrowest after widening counts (the best single sample), cut
// to what the filter's estimate, which combination will use, can be off.

import type { AlgorithmConfig } from "../config/types.js";
import type { Measurement } from "../source/types.js";
import type { NtpTimestamp } from "../time.js";

/** Samples remembered per source: the start-up window of the filter. */
export const MEASURED_SAMPLES = 8;

export interface Interval {
  low: number;
  high: number;
}

/** λ of one sample, seconds: half the round trip plus what the server and both clocks' precision add. */
export function correctnessRadius(m: Measurement, localPrecisionLog2: number): number {
  return (
    m.delay / 2 +
    m.rootDelay / 2 +
    m.rootDispersion +
    2 ** Math.min(0, m.precision) +
    2 ** Math.min(0, localPrecisionLog2)
  );
}

/**
 * How fast the local clock may drift from true time while sources are young,
 * s/s: its oscillator error after the kernel's kept correction (taken as
 * `initial-frequency-uncertainty`) plus the most the controller may change the
 * correction (`maximum-frequency-steer`, which bounds a slew). Generous on
 * purpose: a too-narrow interval could leave an honest source out, while
 * during the 2 s start-up burst this adds only about a millisecond.
 */
export function driftBound(
  algorithm: Pick<AlgorithmConfig, "initialFrequencyUncertainty" | "maximumFrequencySteer">,
): number {
  return algorithm.initialFrequencyUncertainty + algorithm.maximumFrequencySteer;
}

interface Sample {
  offset: number;
  radius: number;
  time: NtpTimestamp;
}

/** The correctness intervals of one source's recent samples. */
export class MeasuredInterval {
  #samples: Sample[] = [];

  /** Remember one sample, taken at local time `time` (the midpoint of T1 and T4). */
  add(m: Measurement, time: NtpTimestamp, localPrecisionLog2: number): void {
    const radius = correctnessRadius(m, localPrecisionLog2);
    if (!Number.isFinite(m.offset) || !Number.isFinite(radius)) return;
    this.#samples.push({ offset: m.offset, radius, time });
    if (this.#samples.length > MEASURED_SAMPLES) this.#samples.shift();
  }

  /** Forget every sample: the server or the local clock jumped, they no longer describe now. */
  reset(): void {
    this.#samples = [];
  }

  /** The local clock was stepped by `offset` seconds: every sample's offset and time move with it. */
  applyOffsetSteer(offset: number): void {
    this.#samples = this.#samples.map((s) => ({
      offset: s.offset - offset,
      radius: s.radius,
      time: s.time.addSeconds(offset),
    }));
  }

  /**
   * The narrowest interval the samples give for local time `time`, each
   * widened by `drift` (s/s) times its age; null without samples.
   *
   * With `estimate` (the filter's offset, an average of some of these
   * samples) the interval is cut to what that estimate can honestly be off:
   * no more than the widest widened sample. The source is combined with its
   * estimate, so an estimate the samples do not support must not vote: a
   * server that was wrong for its first samples and then corrected itself
   * has a narrow, right newest sample but a mixed estimate. Such a cut can
   * leave nothing (low > high): the source contradicts itself.
   */
  at(time: NtpTimestamp, drift: number, estimate: number | null = null): Interval | null {
    let best: Interval | null = null;
    let widest = 0;
    for (const s of this.#samples) {
      const r = s.radius + drift * Math.abs(time.diffSeconds(s.time));
      widest = Math.max(widest, r);
      if (best === null || r < (best.high - best.low) / 2) {
        best = { low: s.offset - r, high: s.offset + r };
      }
    }
    if (best === null || estimate === null) return best;
    return {
      low: Math.max(best.low, estimate - widest),
      high: Math.min(best.high, estimate + widest),
    };
  }
}
