// Poll interval arithmetic (log2 seconds) and the random jitter applied to
// each interval. Pure functions; the randomness comes in as an argument.

/** Bounds on the poll exponent (log2 s), as `poll-interval-limits` in ntp.toml. */
export interface PollIntervalLimits {
  min: number;
  max: number;
}

/** `[source-defaults] poll-interval-limits` of a file that sets none (16 s … 1024 s). */
export { DEFAULT_POLL_INTERVAL_LIMITS as DEFAULT_POLL_LIMITS } from "../config/schema-system.js";

/** The poll field is a signed octet on the wire. */
const POLL_FIELD_MIN = -128;
const POLL_FIELD_MAX = 127;

/** Jitter factor bounds (ntpd-rs: `gen_range(1.01..=1.05)`). */
export const POLL_JITTER_MIN = 1.01;
export const POLL_JITTER_MAX = 1.05;

/** Throws a RangeError (a configuration bug, never network input) for unusable limits. */
export function validatePollLimits(limits: PollIntervalLimits): void {
  const { min, max } = limits;
  if (!Number.isInteger(min) || !Number.isInteger(max)) {
    throw new RangeError(`poll interval limits must be integers (got min ${min}, max ${max})`);
  }
  if (min < POLL_FIELD_MIN || max > POLL_FIELD_MAX) {
    throw new RangeError(`poll interval limits must lie in ${POLL_FIELD_MIN}..${POLL_FIELD_MAX}`);
  }
  if (min > max) {
    throw new RangeError(`poll interval limits: min ${min} is above max ${max}`);
  }
}

export function clampPoll(log2: number, limits: PollIntervalLimits): number {
  return Math.min(limits.max, Math.max(limits.min, Math.round(log2)));
}

/** One step up, never past the maximum (ntpd-rs `PollInterval::inc`). */
export function incrementPoll(log2: number, limits: PollIntervalLimits): number {
  return Math.min(log2 + 1, limits.max);
}

/** A uniform number in [0, 1) from 4 random octets. */
export function uniformUnit(random: (n: number) => Uint8Array): number {
  const b = random(4);
  const u = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
  return u / 4_294_967_296;
}

/** 2^log2 seconds times a jitter factor uniform in [1.01, 1.05). */
export function jitteredPollSeconds(log2: number, random: (n: number) => Uint8Array): number {
  const factor = POLL_JITTER_MIN + (POLL_JITTER_MAX - POLL_JITTER_MIN) * uniformUnit(random);
  return 2 ** log2 * factor;
}
