// The clock the system core (src/proto/system/time-system.ts) reads and steers: one
// interface, four clocks.
//
//   KernelClock     src/daemon/clock: the system clock itself, through the addon's
//                   clock_adjtime (needs CAP_SYS_TIME to steer)
//   DeviceClock     src/daemon/clock: a clock device (`[clock] clock`, a PTP hardware
//                   clock) instead of the system clock, through the same calls on its id
//   VirtualClock    src/daemon/clock, --no-clock-control: a private clock layered on the
//                   system clock; steering moves only it, and its distance from the system
//                   clock is the daemon's estimate of the system clock's error
//   SimulatedClock  here (pure), for tests and the simulator: driven by a simulated true time
//
// Sign conventions (the same for every implementation):
//
//   step(s)            the clock's reading jumps by +s: positive = forward (later).
//   setFrequency(ppm)  the frequency correction applied, as the kernel's `freq`:
//                      positive = the clock runs faster (ppm = µs per s).
//   offset             (reported by the daemon, VirtualClock.offsetFromSystem,
//                      SimulatedClock.trueOffset) = true time − the clock, seconds;
//                      positive = the clock is behind. It is exactly the step that
//                      would make the clock right: step(offset).
//   frequency          (VirtualClock.frequencyVsSystem, SimulatedClock.trueFrequency)
//                      = the rate of change of that offset, ppm; positive = the clock
//                      runs slow and falls further behind. It is exactly the frequency
//                      change that would stop the drift: setFrequency(frequency() + it).

import type { LeapIndicator } from "../packet/types.js";
import type { NtpTimestamp } from "../time.js";

export type { LeapIndicator };

export interface SystemClock {
  readonly kind: "kernel" | "device" | "virtual" | "simulated";
  /** The clock's time now, as an NTP timestamp. */
  now(): NtpTimestamp;
  /**
   * CLOCK_MONOTONIC in seconds, for intervals and timers: never stepped. As on Linux it
   * runs at the system clock's corrected rate (a VirtualClock's own frequency does not
   * touch it; a SimulatedClock's does).
   */
  monotonic(): number;
  /** The frequency correction currently applied, ppm (positive = runs faster). */
  frequency(): number;
  /**
   * Applies a frequency correction of `ppm` (absolute, not a change; positive = faster)
   * and returns the value in effect, which the kernel clock quantizes to 2^-16 ppm and
   * clamps to ±500 ppm.
   */
  setFrequency(ppm: number): number;
  /** Moves the clock by `seconds` at once (positive = forward). */
  step(seconds: number): void;
  /** The leap second announced for the end of the current UTC day (3: unsynchronized). */
  setLeap(leap: LeapIndicator): void;
  /** Estimated and maximum error of the clock, seconds (the kernel gets them in µs). */
  setErrorEstimates(esterror: number, maxerror: number): void;
  /**
   * Called once before the first correction. The kernel clock keeps its current
   * frequency, turns the kernel's own PLL/FLL/PPS discipline off and marks itself
   * unsynchronized; the others have nothing to take over.
   */
  takeControl(): void;
}

/** The error estimates last given to setErrorEstimates, seconds. */
export interface ErrorEstimates {
  esterror: number;
  maxerror: number;
}

/** Throws a RangeError unless `value` is a finite number. */
export function requireFinite(what: string, value: number): void {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new RangeError(`${what} must be a finite number, got ${String(value)}`);
  }
}

/** Throws a RangeError unless both estimates are finite and >= 0. */
export function requireErrorEstimates(esterror: number, maxerror: number): void {
  requireFinite("esterror", esterror);
  requireFinite("maxerror", maxerror);
  if (esterror < 0 || maxerror < 0) {
    throw new RangeError(`error estimates must not be negative (${esterror}, ${maxerror})`);
  }
}

/** Throws a RangeError unless `leap` is 0, 1, 2 or 3. */
export function requireLeap(leap: number): asserts leap is LeapIndicator {
  if (leap !== 0 && leap !== 1 && leap !== 2 && leap !== 3) {
    throw new RangeError(`leap indicator must be 0, 1, 2 or 3, got ${String(leap)}`);
  }
}
