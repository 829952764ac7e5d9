// A clock device (`[clock] clock = "/dev/ptp0"`, a PTP hardware clock) opened through the
// addon: its dynamic clock id (FD_TO_CLOCKID) for reads and steering, a ClockReader on
// it (so a VirtualClock can layer on it as on the system clock), and the distance
// between it and CLOCK_REALTIME, which translates the kernel's software timestamps
// (CLOCK_REALTIME) into its time (translating-socket.ts).
//
// A device path can never name CLOCK_REALTIME: the kernel gives dynamic ids only to
// clock character devices and routes them to the device's own operations. The addon
// checks that the path is a character device and that the kernel reads a time from it.

import { clockDeviceAddon, type ClockDeviceAddon } from "../native/clock-device.js";
import { decodeTimex, type ClockReader, type Timespec } from "../native/clock.js";
import type { NativeAddon } from "../native/types.js";

/** The addon calls a ClockDevice uses (a fake in tests). */
export type ClockDeviceCalls = Pick<
  NativeAddon,
  | "clockGettime"
  | "clockBuffer"
  | "adjtimeRead"
  | "adjtimeWrite"
  | "CLOCK_REALTIME"
  | "CLOCK_MONOTONIC"
> &
  Pick<ClockDeviceAddon, "clockDeviceOpen" | "clockDeviceClose">;

/** The device cannot be used; the message names the path and says why. */
export class ClockDeviceError extends Error {}

/** Reads of realtime-device-realtime taken for one offset estimate; the tightest wins. */
const OFFSET_SAMPLES = 3;

export class ClockDevice {
  private closed = false;
  private readonly scratch: Timespec = { sec: 0, nsec: 0 };

  private constructor(
    readonly path: string,
    private readonly calls: ClockDeviceCalls,
    private readonly fd: number,
    /** FD_TO_CLOCKID(fd), negative. */
    readonly clockId: number,
  ) {}

  /**
   * Opens `path` (read-write when `writable`: steering needs it; the kernel checks the
   * file mode, not CAP_SYS_TIME). Throws a ClockDeviceError saying what is wrong.
   */
  static open(path: string, writable: boolean, calls?: ClockDeviceCalls): ClockDevice {
    let addon = calls;
    if (addon === undefined) {
      const found = clockDeviceAddon();
      if ("reason" in found) {
        throw new ClockDeviceError(`cannot use clock device ${path}: ${found.reason}`);
      }
      addon = found.addon;
    }
    try {
      const opened = addon.clockDeviceOpen(path, writable);
      return new ClockDevice(path, addon, opened.fd, opened.clockId);
    } catch (error) {
      throw new ClockDeviceError(`cannot use clock device ${path}: ${describeOpenError(error)}`);
    }
  }

  /** The device's time now. */
  read(out: Timespec = { sec: 0, nsec: 0 }): Timespec {
    return this.readClock(this.clockId, out);
  }

  /** A ClockReader whose "realtime" is this device (monotonic stays CLOCK_MONOTONIC). */
  reader(): ClockReader {
    return {
      kind: "addon",
      readRealtime: (out) => this.readClock(this.clockId, out),
      readMonotonic: (out) => this.readClock(this.calls.CLOCK_MONOTONIC, out),
      readTai: () => null,
      adjtimeRead: () => decodeTimex(this.calls.adjtimeRead(this.clockId)),
    };
  }

  /**
   * device − CLOCK_REALTIME now, as whole seconds and nanoseconds in [0, 1e9): the
   * device read between two realtime reads, against their midpoint; of
   * OFFSET_SAMPLES tries, the one with the shortest window.
   */
  offsetFromRealtime(): Timespec {
    const { CLOCK_REALTIME } = this.calls;
    const r1: Timespec = { sec: 0, nsec: 0 };
    const d: Timespec = { sec: 0, nsec: 0 };
    const r2: Timespec = { sec: 0, nsec: 0 };
    let best: Timespec | null = null;
    let bestWindow = Infinity;
    for (let i = 0; i < OFFSET_SAMPLES; i++) {
      this.readClock(CLOCK_REALTIME, r1);
      this.readClock(this.clockId, d);
      this.readClock(CLOCK_REALTIME, r2);
      const windowNs = (r2.sec - r1.sec) * 1e9 + (r2.nsec - r1.nsec);
      if (windowNs < 0 || windowNs >= bestWindow) continue;
      bestWindow = windowNs;
      // d − (r1 + window / 2), kept in integer seconds and nanoseconds.
      best = normalize(d.sec - r1.sec, d.nsec - r1.nsec - Math.round(windowNs / 2));
    }
    if (best === null) throw new Error(`CLOCK_REALTIME ran backwards while reading ${this.path}`);
    return best;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.calls.clockDeviceClose(this.fd);
  }

  /** The addon's adjtime calls on this device (for DeviceClock). */
  get adjtime(): Pick<NativeAddon, "adjtimeRead" | "adjtimeWrite"> {
    return this.calls;
  }

  private readClock(id: number, out: Timespec = this.scratch): Timespec {
    this.calls.clockGettime(id);
    out.sec = this.calls.clockBuffer[0]!;
    out.nsec = this.calls.clockBuffer[1]!;
    return out;
  }
}

/** `t + offset` (both whole seconds and nanoseconds), normalized. */
export function addTimespec(
  t: Timespec,
  offset: Timespec,
  out: Timespec = { sec: 0, nsec: 0 },
): Timespec {
  const r = normalize(t.sec + offset.sec, t.nsec + offset.nsec);
  out.sec = r.sec;
  out.nsec = r.nsec;
  return out;
}

function normalize(sec: number, nsec: number): Timespec {
  const carry = Math.floor(nsec / 1e9);
  return { sec: sec + carry, nsec: nsec - carry * 1e9 };
}

function describeOpenError(error: unknown): string {
  const e = error as { code?: string; message?: string };
  switch (e.code) {
    case "ENOENT":
      return "no such file";
    case "EACCES":
    case "EPERM":
      return "permission denied (steering needs read-write access to the device)";
    case "ERR_NOT_CLOCK_DEVICE":
      return "not a clock device (expected a PTP hardware clock such as /dev/ptp0)";
    default:
      return e.message ?? String(error);
  }
}
