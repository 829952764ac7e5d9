// The part of a SystemClock that a clock without a kernel behind it (VirtualClock,
// SimulatedClock) has in common: the leap indicator and the error estimates go nowhere,
// so the clock keeps the last ones given, for tests and inspection. The kernel clock
// hands them to adjtimex instead.

import {
  requireErrorEstimates,
  requireLeap,
  type ErrorEstimates,
  type LeapIndicator,
  type SystemClock,
} from "./system-clock.js";

export abstract class StatusRecordingClock implements Pick<
  SystemClock,
  "setLeap" | "setErrorEstimates"
> {
  #leap: LeapIndicator = 3;
  #estimates: ErrorEstimates | null = null;

  setLeap(leap: LeapIndicator): void {
    requireLeap(leap);
    this.#leap = leap;
  }

  setErrorEstimates(esterror: number, maxerror: number): void {
    requireErrorEstimates(esterror, maxerror);
    this.#estimates = { esterror, maxerror };
  }

  /** The leap indicator last set (3, unsynchronized, until then). */
  leap(): LeapIndicator {
    return this.#leap;
  }

  /** The error estimates last set, or null. */
  errorEstimates(): ErrorEstimates | null {
    return this.#estimates;
  }
}
