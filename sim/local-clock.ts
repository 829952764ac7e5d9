// The local clock of the simulated host: the daemon's SimulatedClock (initial
// offset, frequency error, random-walk wander, steps and frequency corrections
// applied like a kernel clock) plus a temperature-like sinusoidal frequency
// error, integrated exactly:
//
//   thermal frequency  a·sin(2πt/P + φ) ppm
//   thermal offset     ∫₀ᵗ = a·10⁻⁶·P/(2π)·(cos φ − cos(2πt/P + φ)) s
//
// The oscillator itself drifts, so the wall clock and the monotonic clock
// both carry it (as with CLOCK_REALTIME and CLOCK_MONOTONIC on one crystal).

import { SimulatedClock } from "../src/proto/clock/simulated-clock.js";
import type { LeapIndicator, SystemClock } from "../src/proto/clock/system-clock.js";
import type { NtpTimestamp } from "../src/proto/time.js";
import type { LocalClockSpec } from "./scenario.js";

/** True Unix time at the start of every run. */
export const START_UNIX_SECONDS = 1_800_000_000;

export class SimLocalClock implements SystemClock {
  readonly kind = "simulated";
  readonly inner: SimulatedClock;
  readonly #amplitude: number;
  readonly #omega: number;
  readonly #phase: number;

  constructor(spec: LocalClockSpec, seed: number) {
    this.inner = new SimulatedClock({
      startSeconds: START_UNIX_SECONDS,
      initialOffset: spec.initialOffset,
      frequencyError: spec.frequencyError,
      initialFrequency: spec.initialFrequency ?? 0,
      wander: spec.wander ?? 0,
      seed,
    });
    this.#amplitude = spec.thermal?.amplitude ?? 0;
    this.#omega = spec.thermal !== undefined ? (2 * Math.PI) / spec.thermal.period : 0;
    this.#phase = spec.thermal?.phase ?? 0;
  }

  /** Lets true time run to `t` seconds since the start (never backwards). */
  advanceTo(t: number): void {
    this.inner.advanceTo(t);
  }

  /** True seconds since the start. */
  elapsed(): number {
    return this.inner.trueElapsed();
  }

  /** The true time now. */
  trueNow(): NtpTimestamp {
    return this.inner.trueNow();
  }

  /** What the daemon reads: the wall clock. */
  now(): NtpTimestamp {
    return this.inner.now().addSeconds(-this.#thermalOffset());
  }

  /** What the daemon reads: the monotonic clock, seconds. */
  monotonic(): number {
    return this.inner.monotonic() - this.#thermalOffset();
  }

  /** True time − clock, s. */
  trueOffset(): number {
    return this.inner.trueOffset() + this.#thermalOffset();
  }

  /** d(trueOffset)/dt now, ppm: the oscillator's error minus the applied correction. */
  trueFrequency(): number {
    return this.inner.trueFrequency() + this.#thermalFrequency();
  }

  /** The oscillator's own frequency error now (drift, wander, thermal), ppm. */
  oscillatorError(): number {
    return this.inner.trueFrequency() + this.inner.frequency() + this.#thermalFrequency();
  }

  /** The applied frequency correction, ppm (positive: the clock runs faster). */
  frequency(): number {
    return this.inner.frequency();
  }

  setFrequency(ppm: number): number {
    return this.inner.setFrequency(ppm);
  }

  step(seconds: number): void {
    this.inner.step(seconds);
  }

  setLeap(leap: LeapIndicator): void {
    this.inner.setLeap(leap);
  }

  setErrorEstimates(esterror: number, maxerror: number): void {
    this.inner.setErrorEstimates(esterror, maxerror);
  }

  takeControl(): void {
    this.inner.takeControl();
  }

  #thermalFrequency(): number {
    if (this.#amplitude === 0) return 0;
    return this.#amplitude * Math.sin(this.#omega * this.elapsed() + this.#phase);
  }

  #thermalOffset(): number {
    if (this.#amplitude === 0) return 0;
    const t = this.elapsed();
    return (
      ((this.#amplitude * 1e-6) / this.#omega) *
      (Math.cos(this.#phase) - Math.cos(this.#omega * t + this.#phase))
    );
  }
}
