// NTP time types (RFC 5905 §6).
//
// A 64-bit NTP timestamp does not fit in a JS number, so it is kept as two
// unsigned 32-bit halves. The era is not on the wire: differences between two
// timestamps are taken with wrapping arithmetic, which is right whenever the
// two instants are within 68 years of each other, across the 2036 rollover too.
// Durations and offsets are plain float seconds: a double keeps sub-nanosecond
// resolution for any offset a time daemon acts on.

/** Seconds from the NTP prime epoch (1900) to the Unix epoch (1970). */
export const NTP_UNIX_OFFSET_SECONDS = 2_208_988_800;

const TWO_POW_32 = 4_294_967_296;
const NANOS_PER_SECOND = 1_000_000_000;

export class NtpTimestamp {
  /** Seconds within the era (u32) and fraction in units of 2^-32 s (u32). */
  constructor(
    readonly seconds: number,
    readonly fraction: number,
  ) {}

  static readonly ZERO = new NtpTimestamp(0, 0);

  /** From the raw 64-bit wire value. */
  static fromBits(bits: bigint): NtpTimestamp {
    const b = BigInt.asUintN(64, bits);
    return new NtpTimestamp(Number(b >> 32n), Number(b & 0xffff_ffffn));
  }

  /**
   * From a Unix time given as whole seconds and nanoseconds (what
   * clock_gettime returns). Fraction = floor(ns * 2^32 / 1e9), as ntpd-rs.
   */
  static fromUnix(unixSeconds: number, nanoseconds: number): NtpTimestamp {
    const seconds = (unixSeconds + NTP_UNIX_OFFSET_SECONDS) >>> 0;
    // ns * 2^32 can exceed 2^53; split to keep the floor exact.
    const fraction = fractionFromNanos(nanoseconds);
    return new NtpTimestamp(seconds, fraction);
  }

  /** From a Unix time in nanoseconds (bigint). */
  static fromUnixNanos(unixNanos: bigint): NtpTimestamp {
    const s = unixNanos / 1_000_000_000n;
    let ns = unixNanos % 1_000_000_000n;
    let sec = s;
    if (ns < 0n) {
      ns += 1_000_000_000n;
      sec -= 1n;
    }
    return NtpTimestamp.fromUnix(Number(sec), Number(ns));
  }

  /** The raw 64-bit wire value. */
  toBits(): bigint {
    return (BigInt(this.seconds) << 32n) | BigInt(this.fraction);
  }

  isZero(): boolean {
    return this.seconds === 0 && this.fraction === 0;
  }

  equals(other: NtpTimestamp): boolean {
    return this.seconds === other.seconds && this.fraction === other.fraction;
  }

  /**
   * This minus `other` in seconds, with wrapping 64-bit arithmetic: correct
   * whenever both lie within 68 years of each other, whatever their eras.
   */
  diffSeconds(other: NtpTimestamp): number {
    const secondsDiff = (this.seconds - other.seconds) | 0; // signed 32-bit wrap
    return secondsDiff + (this.fraction - other.fraction) / TWO_POW_32;
  }

  /** This timestamp moved by `seconds` (may be negative), wrapping at the era. */
  addSeconds(seconds: number): NtpTimestamp {
    const whole = Math.floor(seconds);
    let fraction = this.fraction + Math.floor((seconds - whole) * TWO_POW_32);
    let carry = 0;
    if (fraction >= TWO_POW_32) {
      fraction -= TWO_POW_32;
      carry = 1;
    }
    const secs = (this.seconds + whole + carry) % TWO_POW_32;
    return new NtpTimestamp(secs < 0 ? secs + TWO_POW_32 : secs, fraction);
  }

  /**
   * Unix nanoseconds, placing the timestamp in the era that puts it within
   * ±2^31 s of `pivotUnixSeconds` (normally the local clock).
   */
  toUnixNanos(pivotUnixSeconds: number): bigint {
    const pivot = pivotUnixSeconds + NTP_UNIX_OFFSET_SECONDS;
    const era = Math.floor(pivot / TWO_POW_32);
    let ntpSeconds = era * TWO_POW_32 + this.seconds;
    if (ntpSeconds - pivot > 2 ** 31) ntpSeconds -= TWO_POW_32;
    else if (pivot - ntpSeconds > 2 ** 31) ntpSeconds += TWO_POW_32;
    const unixSeconds = BigInt(ntpSeconds - NTP_UNIX_OFFSET_SECONDS);
    const nanos = (BigInt(this.fraction) * 1_000_000_000n) >> 32n;
    return unixSeconds * 1_000_000_000n + nanos;
  }

  /** Unix time as float seconds near `pivotUnixSeconds` (display, logs). */
  toUnixSeconds(pivotUnixSeconds: number): number {
    return Number(this.toUnixNanos(pivotUnixSeconds)) / NANOS_PER_SECOND;
  }

  /**
   * The reference timestamp ntpd-rs puts in replies: this time with the
   * fraction and the low `bits` bits of the seconds cleared, so a reply does
   * not reveal exactly when the server's clock was last set.
   */
  truncatedSeconds(bits: number): NtpTimestamp {
    const mask = ~((1 << bits) - 1) >>> 0;
    return new NtpTimestamp((this.seconds & mask) >>> 0, 0);
  }

  toString(): string {
    return `${this.seconds}.${this.fraction.toString(16).padStart(8, "0")}`;
  }
}

/** floor(nanoseconds * 2^32 / 1e9) without losing precision above 2^53. */
export function fractionFromNanos(nanoseconds: number): number {
  // nanoseconds < 1e9 < 2^30; split 2^32 = 2^16 * 2^16.
  const high = nanoseconds * 65_536; // < 2^46, exact
  const q1 = Math.floor(high / NANOS_PER_SECOND);
  const r1 = high - q1 * NANOS_PER_SECOND;
  const q2 = Math.floor((r1 * 65_536) / NANOS_PER_SECOND); // r1*65536 < 2^46
  return (q1 * 65_536 + q2) >>> 0;
}

/** NTP short format (16.16 unsigned seconds): root delay and dispersion. */
export function encodeShortFormat(seconds: number): number {
  if (!(seconds > 0)) return 0; // negatives and NaN encode as zero
  const units = Math.floor(seconds * 65_536);
  return units >= 0xffff_ffff ? 0xffff_ffff : units;
}

export function decodeShortFormat(value: number): number {
  return (value >>> 0) / 65_536;
}

/** Measured offset and round-trip delay from the four timestamps (RFC 5905 §8). */
export interface OffsetDelay {
  /** Server clock minus client clock, seconds (θ). */
  offset: number;
  /** Round trip minus server processing time, seconds (δ). */
  delay: number;
}

/**
 * θ = ((T2 − T1) + (T3 − T4)) / 2 and δ = (T4 − T1) − (T3 − T2). Each
 * first-order difference is taken as a float, so the result is right for any
 * pair within 68 years. The delay is not clamped here; callers clamp it to
 * their precision.
 */
export function offsetAndDelay(
  t1: NtpTimestamp,
  t2: NtpTimestamp,
  t3: NtpTimestamp,
  t4: NtpTimestamp,
): OffsetDelay {
  const forward = t2.diffSeconds(t1);
  const backward = t3.diffSeconds(t4);
  return {
    offset: (forward + backward) / 2,
    delay: t4.diffSeconds(t1) - t3.diffSeconds(t2),
  };
}

/** 2^exponent seconds, for poll and precision fields (signed log2). */
export function log2ToSeconds(exponent: number): number {
  return 2 ** exponent;
}
