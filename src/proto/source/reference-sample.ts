// Samples of the reference clocks (sock, pps) and the Measurement they become.
//
// chrony's SOCK sample, as gpsd writes it (chrony refclock_sock.c; 40 bytes,
// the writer's native layout, little-endian on every platform gpsd and we run
// on that matters here):
//   0   tv_sec   i64   system time of the measurement (struct timeval)
//   8   tv_usec  i64
//   16  offset   f64   true time − system time at tv, s
//   24  pulse    i32   non-zero: a PPS-only sample, offset from the nearest second
//   28  leap     i32   0 normal, 1 insert, 2 delete a leap second
//   32  padding  i32
//   36  magic    i32   0x534f434b ("SOCK")
// A datagram of another length, another magic, a pulse sample (it needs a
// second source for the seconds; ntpd-rs refuses them too), an unknown leap
// value or a time that is not a time is dropped and counted by its reason.
//
// A PPS pulse (RFC 2783 assert event) marks the start of a second (or of a
// `period`): its kernel timestamp t says the clock read t when true time was a
// whole period, so the offset is −(t mod period), wrapped into ±period/2 by
// the filter (reference-filter.ts).

import type { LeapIndicator } from "../packet/types.js";
import { NtpTimestamp } from "../time.js";
import type { Measurement } from "./types.js";

export const SOCK_SAMPLE_SIZE = 40;
export const SOCK_MAGIC = 0x534f434b;

export type SockDropReason = "length" | "magic" | "pulse" | "leap" | "time";

export interface SockSample {
  /** System time of the measurement, Unix seconds and microseconds. */
  sec: number;
  usec: number;
  /** True time − system time, s. */
  offset: number;
  leap: 0 | 1 | 2;
}

export type SockParse = { ok: true; sample: SockSample } | { ok: false; reason: SockDropReason };

/** Parses one datagram; `length` is its real length (`bytes` may hold only a prefix). */
export function parseSockSample(bytes: Uint8Array, length = bytes.length): SockParse {
  if (length !== SOCK_SAMPLE_SIZE || bytes.length < SOCK_SAMPLE_SIZE) {
    return { ok: false, reason: "length" };
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, SOCK_SAMPLE_SIZE);
  if (view.getUint32(36, true) !== SOCK_MAGIC) return { ok: false, reason: "magic" };
  if (view.getInt32(24, true) !== 0) return { ok: false, reason: "pulse" };
  const leap = view.getInt32(28, true);
  if (leap !== 0 && leap !== 1 && leap !== 2) return { ok: false, reason: "leap" };
  const sec = Number(view.getBigInt64(0, true));
  const usec = Number(view.getBigInt64(8, true));
  const offset = view.getFloat64(16, true);
  if (!(sec > 0) || !(usec >= 0 && usec < 1_000_000) || !Number.isFinite(offset)) {
    return { ok: false, reason: "time" };
  }
  return { ok: true, sample: { sec, usec, offset, leap } };
}

/** A SOCK sample as the datagram gpsd sends (for tests and tools). */
export function encodeSockSample(fields: {
  sec: number;
  usec: number;
  offset: number;
  pulse?: number;
  leap?: number;
  magic?: number;
}): Buffer {
  const b = Buffer.alloc(SOCK_SAMPLE_SIZE);
  b.writeBigInt64LE(BigInt(fields.sec), 0);
  b.writeBigInt64LE(BigInt(fields.usec), 8);
  b.writeDoubleLE(fields.offset, 16);
  b.writeInt32LE(fields.pulse ?? 0, 24);
  b.writeInt32LE(fields.leap ?? 0, 28);
  b.writeUInt32LE(fields.magic ?? SOCK_MAGIC, 36);
  return b;
}

/**
 * The measurement of a reference clock whose reading at local time `local` was
 * `offset` ahead: nothing travels both ways, so t1 = t4 = local, t2 = t3 =
 * local + offset, delay 0; stratum 0 (the host serves at stratum 1 with it).
 */
export function referenceMeasurement(
  local: NtpTimestamp,
  offset: number,
  leap: LeapIndicator,
): Measurement {
  const remote = local.addSeconds(offset);
  return {
    offset,
    delay: 0,
    t1: local,
    t2: remote,
    t3: remote,
    t4: local,
    version: 4,
    leap,
    stratum: 0,
    referenceId: 0,
    rootDelay: 0,
    rootDispersion: 0,
    poll: 0,
    precision: -30,
  };
}

export function sockMeasurement(sample: SockSample): Measurement {
  const local = NtpTimestamp.fromUnix(sample.sec, sample.usec * 1000);
  return referenceMeasurement(local, sample.offset, sample.leap);
}

/** A pulse at local time sec.nsec marks a whole `period`: its offset, not yet wrapped. */
export function ppsMeasurement(sec: number, nsec: number, period: number): Measurement {
  const local = NtpTimestamp.fromUnix(sec, nsec);
  // The fraction of the period the clock had run past the pulse (sec mod period
  // matters only for periods above 1 s; for shorter ones whole seconds drop out).
  const past = ((sec % period) + nsec * 1e-9) % period;
  return referenceMeasurement(local, -past, 0);
}
