// The clock the discipline steers when `[clock] clock` names a device (a PTP hardware
// clock) instead of the system clock: the same clock_adjtime calls as KernelClock, on
// the device's dynamic id, never on CLOCK_REALTIME.
//
//   read          clock_gettime(device id); monotonic stays CLOCK_MONOTONIC (timers)
//   setFrequency  ADJ_FREQUENCY (the PHC driver turns it into its own adjustment and
//                 refuses, ERANGE, what exceeds its max_adj)
//   step          ADJ_SETOFFSET | ADJ_NANO
//   setLeap, setErrorEstimates, takeControl: nothing. A PHC has no leap-second status,
//                 error estimates or kernel discipline to turn off (Linux refuses
//                 ADJ_STATUS / ADJ_*ERROR on it with EOPNOTSUPP); ntpd-rs's clock layer
//                 ignores those refusals too. The device does not insert a leap
//                 second: after one it is a second off, corrected like any offset.
//
// Steering needs the device opened read-write (the kernel checks the file's mode, not
// CAP_SYS_TIME).

import { NtpTimestamp } from "../../proto/time.js";
import { KERNEL_FREQ_PER_PPM, type Timespec } from "../native/clock.js";
import {
  requireErrorEstimates,
  requireFinite,
  requireLeap,
  type LeapIndicator,
  type SystemClock,
} from "../../proto/clock/system-clock.js";
import type { ClockDevice } from "./clock-device.js";

export class DeviceClock implements SystemClock {
  readonly kind = "device";
  private readonly scratch: Timespec = { sec: 0, nsec: 0 };
  private readonly reader;

  constructor(readonly device: ClockDevice) {
    this.reader = device.reader();
  }

  get path(): string {
    return this.device.path;
  }

  now(): NtpTimestamp {
    const t = this.device.read(this.scratch);
    return NtpTimestamp.fromUnix(t.sec, t.nsec);
  }

  monotonic(): number {
    const t = this.reader.readMonotonic(this.scratch);
    return t.sec + t.nsec / 1e9;
  }

  frequency(): number {
    return this.device.adjtime.adjtimeRead(this.device.clockId).freq / KERNEL_FREQ_PER_PPM;
  }

  setFrequency(ppm: number): number {
    requireFinite("frequency (ppm)", ppm);
    const after = this.device.adjtime.adjtimeWrite({
      clockId: this.device.clockId,
      frequencyPpm: ppm,
    });
    return after.freq / KERNEL_FREQ_PER_PPM;
  }

  /** A zero step makes no call. */
  step(seconds: number): void {
    requireFinite("step (s)", seconds);
    if (seconds === 0) return;
    this.device.adjtime.adjtimeWrite({ clockId: this.device.clockId, stepSeconds: seconds });
  }

  setLeap(leap: LeapIndicator): void {
    requireLeap(leap);
  }

  setErrorEstimates(esterror: number, maxerror: number): void {
    requireErrorEstimates(esterror, maxerror);
  }

  takeControl(): void {}
}
