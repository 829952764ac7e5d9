// The system clock itself, steered through the addon's clock_adjtime as ntpd-rs does
// (reference/ntpd-rs.md §5.5):
//
//   read          clock_gettime(CLOCK_REALTIME / CLOCK_MONOTONIC); clock_adjtime modes=0
//   takeControl   the current kernel frequency is KEPT (not reset); ADJ_STATUS clears
//                 STA_PLL|STA_FLL|STA_PPSTIME|STA_PPSFREQ (the kernel's own discipline)
//                 and STA_INS|STA_DEL, and sets STA_UNSYNC (leap status "unknown")
//   setFrequency  ADJ_FREQUENCY, freq = round(ppm * 65536) clamped to ±(32768000 − 1)
//   step          ADJ_SETOFFSET | ADJ_NANO (never the kernel PLL's ADJ_OFFSET, never adjtime())
//   setLeap       ADJ_STATUS replacing STA_UNSYNC|STA_INS|STA_DEL: 0 none, 1 STA_INS,
//                 2 STA_DEL, 3 STA_UNSYNC
//   setErrorEstimates  ADJ_ESTERROR | ADJ_MAXERROR, µs
//
// Every write needs CAP_SYS_TIME; without it the addon throws an EPERM error whose
// message says so. canControl() tells beforehand, without changing anything.

import { NtpTimestamp } from "../../proto/time.js";
import { getAddon, loadAddon } from "../native/addon.js";
import {
  ADJ_FREQUENCY,
  createNativeClockReader,
  KERNEL_FREQ_PER_PPM,
  KERNEL_MAX_FREQ,
  STA_DEL,
  STA_FLL,
  STA_INS,
  STA_PLL,
  STA_PPSFREQ,
  STA_PPSTIME,
  STA_UNSYNC,
  type ClockReader,
  type Timespec,
} from "../native/clock.js";
import type { NativeAddon } from "../native/types.js";
import { probeClockControl, type ControlProbe } from "./control-probe.js";
import {
  requireErrorEstimates,
  requireFinite,
  requireLeap,
  type LeapIndicator,
  type SystemClock,
} from "../../proto/clock/system-clock.js";

/** The status bits setLeap owns. */
const LEAP_BITS = STA_UNSYNC | STA_INS | STA_DEL;

/** The kernel discipline bits takeControl turns off (as ntpd-rs). */
const KERNEL_DISCIPLINE_BITS = STA_PLL | STA_FLL | STA_PPSTIME | STA_PPSFREQ;

/** The STA_* bit each leap indicator sets (the rest of LEAP_BITS is cleared). */
export const LEAP_STATUS: Readonly<Record<LeapIndicator, number>> = {
  0: 0,
  1: STA_INS,
  2: STA_DEL,
  3: STA_UNSYNC,
};

/** The status change for a leap indicator: {set, clear} for adjtimeWrite. */
export function leapStatusChange(leap: LeapIndicator): { set: number; clear: number } {
  const set = LEAP_STATUS[leap];
  return { set, clear: LEAP_BITS & ~set };
}

/** takeControl's status change: kernel discipline off, INS/DEL off, UNSYNC on. */
export const TAKE_CONTROL_STATUS: Readonly<{ set: number; clear: number }> = {
  set: STA_UNSYNC,
  clear: KERNEL_DISCIPLINE_BITS | STA_INS | STA_DEL,
};

export interface FrequencyWriteBack {
  /** `freq` read before the write, 2^-16 ppm. */
  before: number;
  /** `freq` the kernel returned from the write (its value after it). */
  after: number;
}

/**
 * Reads the kernel frequency and writes exactly that value back with ADJ_FREQUENCY:
 * exercises the write path and proves the kernel accepts our writes, changing nothing.
 * Refuses (throws, before writing) when the value would not survive the round trip
 * unchanged: a freq the addon would clamp (|freq| > 32767999) or that is not an integer.
 * Throws the addon's EPERM error (naming CAP_SYS_TIME) when writes are not permitted.
 */
export function writeBackFrequency(addon: NativeAddon): FrequencyWriteBack {
  const before = addon.adjtimeRead().freq;
  if (!Number.isInteger(before) || Math.abs(before) > KERNEL_MAX_FREQ) {
    throw new RangeError(
      `kernel freq ${before} cannot be written back unchanged (outside ±${KERNEL_MAX_FREQ})`,
    );
  }
  const request = { frequencyPpm: before / KERNEL_FREQ_PER_PPM };
  // Belt and braces: the exact timex the write would pass must carry `before` and nothing else.
  const planned = addon.adjtimeWrite({ ...request, dryRun: true });
  if (planned.freq !== before || planned.modes !== ADJ_FREQUENCY) {
    throw new Error(
      `write-back would pass modes ${planned.modes} freq ${planned.freq}, not freq ${before}`,
    );
  }
  const after = addon.adjtimeWrite(request).freq;
  return { before, after };
}

export interface CanControlOptions {
  /**
   * Also confirm with the kernel by writing back the frequency just read
   * (writeBackFrequency). Catches what /proc cannot show (seccomp, LSMs). Do not use
   * while another daemon steers the clock: its own change could land in between.
   */
  writeBack?: boolean;
}

export class KernelClock implements SystemClock {
  readonly kind = "kernel";
  private readonly reader: ClockReader;
  private readonly scratch: Timespec = { sec: 0, nsec: 0 };

  constructor(
    private readonly addon: NativeAddon,
    reader?: ClockReader,
    private readonly probe: () => ControlProbe = probeClockControl,
  ) {
    this.reader = reader ?? createNativeClockReader(addon);
  }

  /** A KernelClock on the loaded addon; throws a clear error when there is none. */
  static open(): KernelClock {
    const addon = getAddon();
    if (addon === null) {
      throw new Error(
        `cannot steer the system clock without the native addon (${loadAddon().reason}); ` +
          "run with --no-clock-control to only measure",
      );
    }
    return new KernelClock(addon);
  }

  /**
   * Whether this process may steer the clock. By default from /proc only (changes
   * nothing); with `writeBack` also by writing back the current frequency.
   */
  canControl(options: CanControlOptions = {}): ControlProbe {
    const probe = this.probe();
    if (!probe.permitted || options.writeBack !== true) return probe;
    try {
      writeBackFrequency(this.addon);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      return { permitted: false, reason: `the kernel refused a frequency write-back: ${message}` };
    }
    return {
      permitted: true,
      reason: `${probe.reason}; the kernel accepted a write-back of the current frequency`,
    };
  }

  now(): NtpTimestamp {
    const t = this.reader.readRealtime(this.scratch);
    return NtpTimestamp.fromUnix(t.sec, t.nsec);
  }

  monotonic(): number {
    const t = this.reader.readMonotonic(this.scratch);
    return t.sec + t.nsec / 1e9;
  }

  /** The kernel's current `freq` in ppm (read each time: the kernel is the truth). */
  frequency(): number {
    return this.addon.adjtimeRead().freq / KERNEL_FREQ_PER_PPM;
  }

  setFrequency(ppm: number): number {
    requireFinite("frequency (ppm)", ppm);
    return this.addon.adjtimeWrite({ frequencyPpm: ppm }).freq / KERNEL_FREQ_PER_PPM;
  }

  /** A zero step makes no call. */
  step(seconds: number): void {
    requireFinite("step (s)", seconds);
    if (seconds === 0) return;
    this.addon.adjtimeWrite({ stepSeconds: seconds });
  }

  setLeap(leap: LeapIndicator): void {
    requireLeap(leap);
    this.addon.adjtimeWrite({ status: leapStatusChange(leap) });
  }

  setErrorEstimates(esterror: number, maxerror: number): void {
    requireErrorEstimates(esterror, maxerror);
    this.addon.adjtimeWrite({ esterrorUs: esterror * 1e6, maxerrorUs: maxerror * 1e6 });
  }

  takeControl(): void {
    this.addon.adjtimeWrite({ status: { ...TAKE_CONTROL_STATUS } });
  }
}
