// A simulated system clock for tests and the simulator: pure (no real clock, no timers,
// no Math.random), driven by a simulated true time that only advance() moves.
//
// The clock has an initial offset and a frequency error, optionally wandering as a
// random walk; steps and frequency corrections act on it like on a kernel clock. It
// knows its true error, in the convention of the issue (see system-clock.ts):
//
//   trueOffset()     = true time − clock, s; positive = the clock is behind
//   trueFrequency()  = d(trueOffset)/dt, ppm; positive = the clock runs slow
//                    = frequencyError + wander − frequency()
//
// so a perfect discipline ends with frequency() = frequencyError + wander and
// trueOffset() = 0. Over a true interval dt the clock advances by
// dt · (1 − trueFrequency/1e6) (its frequency during dt is the mean of the values at
// the two ends: exact without wander), and so does monotonic(), which steps never move.
//
// Leap seconds as Linux applies them (kernel/time/ntp.c): with the leap indicator 1
// (STA_INS) set when the clock's reading reaches a UTC midnight, the reading is set
// back by one second (23:59:59 repeats: the kernel's 23:59:60); with 2 (STA_DEL),
// reaching 23:59:59 sets it forward to midnight. Like the kernel (TIME_WAIT), it does
// not act again until the flag has been cleared. True time here runs on without
// leaps, so an inserted second shows in trueOffset() as +1 s: UTC's own jump.

import { NtpTimestamp } from "../time.js";
import { StatusRecordingClock } from "./status-recording-clock.js";
import { requireFinite, type SystemClock } from "./system-clock.js";

export interface SimulatedClockOptions {
  /** True Unix time at the start: whole seconds (default 1_800_000_000) ... */
  startSeconds?: number;
  /** ... and nanoseconds, 0 <= ns < 1e9 (default 0). */
  startNanoseconds?: number;
  /** true time − clock at the start, s (positive = the clock is behind). Default 0. */
  initialOffset?: number;
  /**
   * The oscillator's own frequency error, ppm, in the issue's `frequency` convention:
   * how fast true − clock grows with no correction applied. Positive = the clock runs
   * slow; setFrequency(frequencyError) cancels it. Default 0.
   */
  frequencyError?: number;
  /** A correction already applied at the start (as a kernel's kept `freq`), ppm. Default 0. */
  initialFrequency?: number;
  /**
   * Random-walk wander of the frequency error: standard deviation in ppm per √s of
   * true time. Default 0 (none).
   */
  wander?: number;
  /** Seed of the wander's pseudo-random numbers (default 1): equal seeds, equal runs. */
  seed?: number;
  /** monotonic() at the start, s (default 1000). */
  monotonicStart?: number;
}

export interface SimulatedStep {
  /** True seconds since the start when the step was made. */
  at: number;
  /** The step, s (positive = forward). */
  seconds: number;
}

export interface SimulatedLeap {
  /** True seconds since the start when the kernel acted. */
  at: number;
  /** The UTC midnight (NTP seconds) the leap belonged to. */
  midnight: number;
  inserted: boolean;
}

const SECONDS_PER_DAY = 86_400;

export class SimulatedClock extends StatusRecordingClock implements SystemClock {
  readonly kind = "simulated";
  private readonly start: NtpTimestamp;
  /** True seconds since the start. */
  private elapsed = 0;
  /** true − clock, s. */
  private offset: number;
  private readonly frequencyError: number;
  private applied: number;
  /** Accumulated wander of the frequency error, ppm. */
  private wandered = 0;
  private readonly wander: number;
  private rng: number;
  private mono: number;
  private controlled = false;
  private readonly stepLog: SimulatedStep[] = [];
  private readonly leapLog: SimulatedLeap[] = [];
  /** The kernel's TIME_WAIT: a leap was applied and the flag not yet cleared. */
  private leapDone = false;

  constructor(options: SimulatedClockOptions = {}) {
    super();
    const startSeconds = options.startSeconds ?? 1_800_000_000;
    const startNs = options.startNanoseconds ?? 0;
    if (!Number.isInteger(startSeconds) || !Number.isInteger(startNs)) {
      throw new RangeError("startSeconds and startNanoseconds must be integers");
    }
    if (startNs < 0 || startNs >= 1e9) throw new RangeError("startNanoseconds must be in [0, 1e9)");
    this.start = NtpTimestamp.fromUnix(startSeconds, startNs);
    this.offset = finite("initialOffset", options.initialOffset ?? 0);
    this.frequencyError = finite("frequencyError", options.frequencyError ?? 0);
    this.applied = finite("initialFrequency", options.initialFrequency ?? 0);
    this.wander = finite("wander", options.wander ?? 0);
    if (this.wander < 0) throw new RangeError("wander must not be negative");
    this.rng = (options.seed ?? 1) >>> 0;
    this.mono = finite("monotonicStart", options.monotonicStart ?? 1000);
  }

  // ---- the simulation ------------------------------------------------------------

  /** Lets `seconds` (>= 0) of true time pass. */
  advance(seconds: number): void {
    requireFinite("advance (s)", seconds);
    if (seconds < 0) throw new RangeError(`true time cannot go back (advance ${seconds})`);
    if (seconds === 0) return;
    const before = this.readingSeconds();
    const f0 = this.trueFrequency();
    if (this.wander > 0) this.wandered += this.wander * Math.sqrt(seconds) * this.gaussian();
    const f1 = this.trueFrequency();
    const drift = ((f0 + f1) / 2) * (seconds / 1e6);
    this.offset += drift;
    this.mono += seconds - drift;
    this.elapsed += seconds;
    this.kernelLeap(before, this.readingSeconds());
  }

  /** The clock's reading, NTP seconds (era 0) with fraction. */
  private readingSeconds(): number {
    const t = this.now();
    return t.seconds + t.fraction / 4_294_967_296;
  }

  /** Applies an armed leap second when the reading went from `before` to `after`. */
  private kernelLeap(before: number, after: number): void {
    const leap = this.leap();
    if (this.leapDone || (leap !== 1 && leap !== 2)) return;
    // Insertion acts on reaching midnight, deletion on reaching 23:59:59.
    const mark = leap === 1 ? 0 : 1;
    const midnight = Math.floor((after + mark) / SECONDS_PER_DAY) * SECONDS_PER_DAY;
    if (!(before + mark < midnight && after + mark >= midnight)) return;
    this.offset += leap === 1 ? 1 : -1;
    this.leapDone = true;
    this.leapLog.push({ at: this.elapsed, midnight, inserted: leap === 1 });
  }

  override setLeap(leap: 0 | 1 | 2 | 3): void {
    super.setLeap(leap);
    if (leap === 0 || leap === 3) this.leapDone = false;
  }

  /** The leap seconds the emulated kernel applied, in order. */
  leaps(): readonly SimulatedLeap[] {
    return this.leapLog;
  }

  /** Advances to `elapsed` true seconds since the start (not before the current one). */
  advanceTo(elapsed: number): void {
    this.advance(elapsed - this.elapsed);
  }

  /** True seconds since the start. */
  trueElapsed(): number {
    return this.elapsed;
  }

  /** The true time now. */
  trueNow(): NtpTimestamp {
    return this.start.addSeconds(this.elapsed);
  }

  /** true time − clock, s (positive = the clock is behind). */
  trueOffset(): number {
    return this.offset;
  }

  /** d(trueOffset)/dt, ppm (positive = the clock runs slow). */
  trueFrequency(): number {
    return this.frequencyError + this.wandered - this.applied;
  }

  /** The steps made, in order. */
  steps(): readonly SimulatedStep[] {
    return this.stepLog;
  }

  /** Whether takeControl() was called. */
  isControlled(): boolean {
    return this.controlled;
  }

  // ---- SystemClock ---------------------------------------------------------------

  now(): NtpTimestamp {
    return this.start.addSeconds(this.elapsed - this.offset);
  }

  monotonic(): number {
    return this.mono;
  }

  frequency(): number {
    return this.applied;
  }

  setFrequency(ppm: number): number {
    requireFinite("frequency (ppm)", ppm);
    this.applied = ppm;
    return ppm;
  }

  step(seconds: number): void {
    requireFinite("step (s)", seconds);
    this.offset -= seconds; // the clock moves forward by `seconds`: true − clock shrinks
    this.stepLog.push({ at: this.elapsed, seconds });
  }

  /** Keeps the applied frequency, as the kernel clock does. */
  takeControl(): void {
    this.controlled = true;
  }

  /** A standard normal deviate (Box–Muller on mulberry32). */
  private gaussian(): number {
    const u1 = 1 - this.uniform(); // (0, 1]
    const u2 = this.uniform();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** mulberry32: uniform in [0, 1). */
  private uniform(): number {
    this.rng = (this.rng + 0x6d2b79f5) >>> 0;
    let t = this.rng;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  }
}

function finite(what: string, value: number): number {
  requireFinite(what, value);
  return value;
}
