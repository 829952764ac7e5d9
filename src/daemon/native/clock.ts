// Reading the system clocks. Times are (seconds, nanoseconds) pairs of plain numbers,
// as clock_gettime returns them (NtpTimestamp.fromUnix takes exactly this); seconds
// are whole, 0 <= nsec < 1e9.
//
// With the addon: clock_gettime(CLOCK_REALTIME / CLOCK_MONOTONIC / CLOCK_TAI) and a
// read-only clock_adjtime. Without it: CLOCK_MONOTONIC from process.hrtime.bigint(),
// and CLOCK_REALTIME as that monotonic clock anchored once to the wall clock (at the
// edge of a Date.now() millisecond, so the anchor is good to a few µs). The fallback
// realtime clock therefore does not follow steps of the system clock made after the
// anchor; without the addon the daemon does not steer the clock anyway. No TAI and no
// adjtime without the addon (both return null).
//
// Every read takes an optional `out` to fill and return, so a hot path can reuse one
// object and allocate nothing.
//
// Nothing here changes the clock. Steering goes through the addon's adjtimeWrite, used
// only by src/daemon/clock/kernel-clock.ts; the STA_* and ADJ_* constants are here.

import { getAddon } from "./addon.js";
import type { NativeAddon, NativeTimex } from "./types.js";

export interface Timespec {
  sec: number;
  nsec: number;
}

/** clock_adjtime(CLOCK_REALTIME, {modes: 0}): raw timex fields plus decoded values. */
export interface AdjtimeReading extends NativeTimex {
  /** Frequency offset in ppm (freq / 65536). */
  freqPpm: number;
  /** `offset` in seconds (µs or ns depending on STA_NANO). */
  offsetSeconds: number;
  /** STA_UNSYNC is set: the kernel considers the clock unsynchronized. */
  unsynchronized: boolean;
}

export interface ClockReader {
  /** "addon": clock_gettime via the addon; "fallback": process.hrtime anchored to Date. */
  readonly kind: "addon" | "fallback";
  readRealtime(out?: Timespec): Timespec;
  readMonotonic(out?: Timespec): Timespec;
  /** CLOCK_TAI, or null without the addon. */
  readTai(out?: Timespec): Timespec | null;
  /** Read-only clock_adjtime, or null without the addon. */
  adjtimeRead(): AdjtimeReading | null;
}

// struct timex status bits (<linux/timex.h>).
/** The kernel PLL is on (kernel phase/frequency discipline via ADJ_OFFSET). */
export const STA_PLL = 0x0001;
export const STA_PPSFREQ = 0x0002;
export const STA_PPSTIME = 0x0004;
/** The kernel FLL mode is on. */
export const STA_FLL = 0x0008;
/** Insert a leap second at the end of the UTC day. */
export const STA_INS = 0x0010;
/** Delete a leap second at the end of the UTC day. */
export const STA_DEL = 0x0020;
export const STA_UNSYNC = 0x0040;
export const STA_NANO = 0x2000;

// struct timex modes (<linux/timex.h>), as adjtimeWrite sets them.
export const ADJ_FREQUENCY = 0x0002;
export const ADJ_MAXERROR = 0x0004;
export const ADJ_ESTERROR = 0x0008;
export const ADJ_STATUS = 0x0010;
export const ADJ_SETOFFSET = 0x0100;
export const ADJ_NANO = 0x2000;

/** The kernel's frequency unit: `freq` is in 2^-16 ppm. */
export const KERNEL_FREQ_PER_PPM = 65_536;
/** The largest |freq| adjtimeWrite passes (one unit inside the kernel's 500 ppm). */
export const KERNEL_MAX_FREQ = 32_768_000 - 1;

const NS_PER_S = 1_000_000_000;
const NS_PER_S_BIG = 1_000_000_000n;

/** A reader backed by the addon's clock_gettime. */
export function createNativeClockReader(addon: NativeAddon): ClockReader {
  const { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_TAI, clockBuffer } = addon;
  const read = (id: number, out: Timespec | undefined): Timespec => {
    addon.clockGettime(id);
    const t = out ?? { sec: 0, nsec: 0 };
    t.sec = clockBuffer[0]!;
    t.nsec = clockBuffer[1]!;
    return t;
  };
  return {
    kind: "addon",
    readRealtime: (out) => read(CLOCK_REALTIME, out),
    readMonotonic: (out) => read(CLOCK_MONOTONIC, out),
    readTai: (out) => read(CLOCK_TAI, out),
    adjtimeRead: () => decodeTimex(addon.adjtimeRead()),
  };
}

/**
 * A pure-JS reader: monotonic = process.hrtime.bigint(); realtime = monotonic plus an
 * offset measured once, here, at a Date.now() millisecond edge (spins at most ~2 ms).
 */
export function createFallbackClockReader(): ClockReader {
  const start = Date.now();
  let edgeMs = start;
  let edgeHr = process.hrtime.bigint();
  const deadline = edgeHr + 3_000_000n;
  for (;;) {
    const hr = process.hrtime.bigint();
    const ms = Date.now();
    if (ms !== start) {
      edgeMs = ms;
      edgeHr = hr;
      break;
    }
    if (hr > deadline) break; // Date.now() is stuck; anchor without the edge
  }
  // realtime ns = hrtime ns + offset
  const offsetNs = BigInt(edgeMs) * 1_000_000n - edgeHr;
  const split = (ns: bigint, out: Timespec | undefined): Timespec => {
    const t = out ?? { sec: 0, nsec: 0 };
    t.sec = Number(ns / NS_PER_S_BIG);
    t.nsec = Number(ns % NS_PER_S_BIG);
    return t;
  };
  return {
    kind: "fallback",
    readRealtime: (out) => split(process.hrtime.bigint() + offsetNs, out),
    readMonotonic: (out) => split(process.hrtime.bigint(), out),
    readTai: () => null,
    adjtimeRead: () => null,
  };
}

/** The raw timex with its decoded values (ppm, seconds, unsynchronized). */
export function decodeTimex(tx: NativeTimex): AdjtimeReading {
  const nano = (tx.status & STA_NANO) !== 0;
  return {
    ...tx,
    freqPpm: tx.freq / 65536,
    offsetSeconds: nano ? tx.offset / NS_PER_S : tx.offset / 1_000_000,
    unsynchronized: (tx.status & STA_UNSYNC) !== 0,
  };
}

let defaultReader: ClockReader | undefined;

/** The process-wide reader: the addon's when it is loaded, else the fallback. */
export function clockReader(): ClockReader {
  if (defaultReader === undefined) {
    const addon = getAddon();
    defaultReader = addon ? createNativeClockReader(addon) : createFallbackClockReader();
  }
  return defaultReader;
}

/** CLOCK_REALTIME now. */
export function readRealtime(out?: Timespec): Timespec {
  return clockReader().readRealtime(out);
}

/** CLOCK_MONOTONIC now. */
export function readMonotonic(out?: Timespec): Timespec {
  return clockReader().readMonotonic(out);
}

/** CLOCK_TAI now, or null without the addon. */
export function readTai(out?: Timespec): Timespec | null {
  return clockReader().readTai(out);
}

/** clock_adjtime(CLOCK_REALTIME, {modes: 0}), or null without the addon. Never changes the clock. */
export function adjtimeRead(): AdjtimeReading | null {
  return clockReader().adjtimeRead();
}

/** The time as a bigint of nanoseconds (off the hot path: allocates). */
export function timespecToNs(t: Timespec): bigint {
  return BigInt(t.sec) * NS_PER_S_BIG + BigInt(t.nsec);
}

/** a - b in seconds, as a double. */
export function timespecDiffSeconds(a: Timespec, b: Timespec): number {
  return a.sec - b.sec + (a.nsec - b.nsec) / NS_PER_S;
}
