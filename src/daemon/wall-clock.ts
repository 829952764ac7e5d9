// The system clock as NTP timestamps: the one place the daemon turns
// CLOCK_REALTIME readings into what src/proto works with.

import { NtpTimestamp } from "../proto/time.js";
import { readRealtime, type Timespec } from "./native/clock.js";

export interface WallClock {
  now(): NtpTimestamp;
}

const scratch: Timespec = { sec: 0, nsec: 0 };

/** CLOCK_REALTIME through the addon when loaded, else the anchored fallback. */
export const systemWallClock: WallClock = {
  now(): NtpTimestamp {
    const t = readRealtime(scratch);
    return NtpTimestamp.fromUnix(t.sec, t.nsec);
  },
};

export function timestampFromUnix(seconds: number, nanoseconds: number): NtpTimestamp {
  return NtpTimestamp.fromUnix(seconds, nanoseconds);
}

/** Unix seconds of the wall clock now, as a float (era pivot, logs). */
export function unixNowSeconds(): number {
  const t = readRealtime(scratch);
  return t.sec + t.nsec / 1e9;
}
