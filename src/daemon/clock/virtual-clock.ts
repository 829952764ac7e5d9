// --no-clock-control: a clock of our own, layered on the system clock, that the
// discipline steers instead of the kernel. The system clock is only read.
//
//   virtual time = system time + offset0 + freq · (mono − mono0) / 1e6
//
// with mono = CLOCK_MONOTONIC seconds, freq in ppm. A step adds to offset0; a frequency
// change first folds the accumulated drift into offset0 at the current mono (so the
// virtual time is continuous) and then changes freq. Steps of the system clock made
// by someone else move the virtual clock with it; the offset stays.
//
// Once the daemon has synchronized the virtual clock it is its best estimate of true
// time, so its distance from the system clock is the daemon's estimate of the system
// clock's error, in the convention of the issue:
//
//   offsetFromSystem()    = virtual − system = estimated (true time − system clock), s;
//                           positive = the system clock is behind
//   frequencyVsSystem()   = d(offsetFromSystem)/dt, ppm; positive = the system clock
//                           runs slow (it would need +that ppm of correction)
//
// frequency() is the virtual clock's correction relative to the system clock: it starts
// at 0 whatever the kernel's own `freq` is, and equals frequencyVsSystem().

import { NtpTimestamp } from "../../proto/time.js";
import { clockReader, type ClockReader, type Timespec } from "../native/clock.js";
import { StatusRecordingClock } from "../../proto/clock/status-recording-clock.js";
import { requireFinite, type SystemClock } from "../../proto/clock/system-clock.js";

export class VirtualClock extends StatusRecordingClock implements SystemClock {
  readonly kind = "virtual";
  private readonly scratch: Timespec = { sec: 0, nsec: 0 };
  /** virtual − system at mono0, s. */
  private offset0 = 0;
  /** CLOCK_MONOTONIC seconds at which offset0 holds. */
  private mono0: number;
  /** ppm relative to the system clock. */
  private freq = 0;

  /** `reader`: the system clock (the addon's, else the pure-JS fallback). */
  constructor(private readonly reader: ClockReader = clockReader()) {
    super();
    this.mono0 = this.monotonic();
  }

  now(): NtpTimestamp {
    const offset = this.offsetAt(this.monotonic());
    const t = this.reader.readRealtime(this.scratch);
    return NtpTimestamp.fromUnix(t.sec, t.nsec).addSeconds(offset);
  }

  monotonic(): number {
    const t = this.reader.readMonotonic(this.scratch);
    return t.sec + t.nsec / 1e9;
  }

  /** ppm relative to the system clock (starts at 0). */
  frequency(): number {
    return this.freq;
  }

  setFrequency(ppm: number): number {
    requireFinite("frequency (ppm)", ppm);
    const mono = this.monotonic();
    this.offset0 = this.offsetAt(mono);
    this.mono0 = mono;
    this.freq = ppm;
    return ppm;
  }

  step(seconds: number): void {
    requireFinite("step (s)", seconds);
    this.offset0 += seconds;
  }

  /** Nothing to take over: the system clock is never touched. */
  takeControl(): void {}

  /** Estimated true time − system clock, s (positive = the system clock is behind). */
  offsetFromSystem(): number {
    return this.offsetAt(this.monotonic());
  }

  /** Rate of change of offsetFromSystem, ppm (positive = the system clock runs slow). */
  frequencyVsSystem(): number {
    return this.freq;
  }

  private offsetAt(mono: number): number {
    return this.offset0 + ((mono - this.mono0) * this.freq) / 1e6;
  }
}
