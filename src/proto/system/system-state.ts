// What the server tells clients about this host's clock: the system state of
// RFC 5905 §11.2 as ntpd-rs keeps it (SystemSnapshot + TimeSnapshot). The
// daemon replaces it whenever the synchronization algorithm updates the clock;
// the server reads it for every reply.
//
// Root dispersion grows with time since the last update. ntpd-rs models the
// root *variance* as a cubic in the elapsed time t and serves its square root:
//   rootDispersion(t) = sqrt(base + linear·t + quadratic·t² + cubic·t³)
// (the same four numbers its observation socket publishes). The classic
// RFC 5905 linear growth d(t) = d0 + PHI·t is the special case built by
// linearRootDispersion().

import { NtpTimestamp } from "../time.js";
import { REFERENCE_ID_NONE, referenceIdFromAscii } from "../packet/reference-id.js";
import type { LeapIndicator } from "../packet/types.js";
import type { LeapEvent } from "../leap/leap-decision.js";

/** RFC 5905 frequency tolerance PHI, s/s. */
export const PHI = 15e-6;
/** ntpd-rs `local-stratum` default: the stratum served while unsynchronized. */
export const DEFAULT_LOCAL_STRATUM = 16;
/** ntpd-rs default system precision, 2^-18 s. */
export const DEFAULT_PRECISION_LOG2 = -18;

export interface SystemState {
  /** 3 while unsynchronized (ntpd-rs sends "unknown" and "unsynchronized" as 3). */
  leap: LeapIndicator;
  /** Upstream stratum + 1; 1 as a primary; `local-stratum` (16) while unsynchronized. */
  stratum: number;
  /** Reference id of the system peer (u32), or the primary's ASCII id, or XNON. */
  referenceId: number;
  /** log2 seconds of the clock's precision (i8 on the wire). */
  precisionLog2: number;
  /** Seconds. */
  rootDelay: number;
  /** When the root variance below was last computed (the last clock update). */
  rootVarianceBaseTime: NtpTimestamp;
  /** s². */
  rootVarianceBase: number;
  /** s²/s. */
  rootVarianceLinear: number;
  /** s²/s². */
  rootVarianceQuadratic: number;
  /** s²/s³. */
  rootVarianceCubic: number;
  /**
   * The leap second `leap` announces, or the one just done (for half a day after
   * it, for the smear): leap-decision.ts. Absent: none known.
   */
  leapEvent?: LeapEvent | null;
  /**
   * The union of the NTPv5 reference-ID Bloom filters of the sources in use
   * (packet/v5-bloom.ts), without our own server ID: what a v5 server of ours
   * publishes besides its own ID, so that a loop through other servers is found
   * (ntpd-rs's system snapshot does the same). Absent or null: no v5 source in use
   * has a complete filter yet. A new array whenever it changes, never mutated.
   */
  upstreamReferenceIds?: Uint8Array | null;
}

/** Where the server gets the current state: read once per request. */
export interface SystemStateProvider {
  current(): SystemState;
}

/** A SystemStateProvider the daemon sets whenever the state changes. */
export class SystemStateCell implements SystemStateProvider {
  private readonly listeners: ((state: SystemState) => void)[] = [];
  constructor(private state: SystemState) {}
  current(): SystemState {
    return this.state;
  }
  set(state: SystemState): void {
    this.state = state;
    for (const listener of this.listeners) listener(state);
  }
  /** Calls `listener` after every set() (serving threads get their copy this way). */
  onChange(listener: (state: SystemState) => void): void {
    this.listeners.push(listener);
  }
}

/**
 * Root dispersion in seconds at `now`. Elapsed time is clamped at 0 (a clock
 * stepped back does not shrink it) and a negative variance at 0.
 */
export function rootDispersionAt(state: SystemState, now: NtpTimestamp): number {
  let t = now.diffSeconds(state.rootVarianceBaseTime);
  if (!(t > 0)) t = 0;
  const variance =
    state.rootVarianceBase +
    t *
      (state.rootVarianceLinear + t * (state.rootVarianceQuadratic + t * state.rootVarianceCubic));
  return variance > 0 ? Math.sqrt(variance) : 0;
}

/**
 * The LI bits of a reply received at `rxSeconds` (NTP seconds): the system's
 * leap indicator, but 0 once the announced leap is past (the next clock update
 * would clear it; a client must not carry it to the next midnight), and 0 from
 * a smearing server, whose clients never see the leap itself.
 */
export function leapIndicatorAt(
  state: SystemState,
  rxSeconds: number,
  smearing: boolean,
): LeapIndicator {
  const leap = state.leap;
  if (leap === 0 || leap === 3) return leap;
  if (smearing) return 0;
  const event = state.leapEvent;
  if (event != null && rxSeconds >= event.at) return 0;
  return leap;
}

/**
 * Variance coefficients for the RFC 5905 model: dispersion `dispersion` at
 * `time`, growing by `rate` (default PHI) seconds per second. (d0 + r·t)² =
 * d0² + 2·d0·r·t + r²·t².
 */
export function linearRootDispersion(
  dispersion: number,
  time: NtpTimestamp,
  rate: number = PHI,
): Pick<
  SystemState,
  | "rootVarianceBaseTime"
  | "rootVarianceBase"
  | "rootVarianceLinear"
  | "rootVarianceQuadratic"
  | "rootVarianceCubic"
> {
  return {
    rootVarianceBaseTime: time,
    rootVarianceBase: dispersion * dispersion,
    rootVarianceLinear: 2 * dispersion * rate,
    rootVarianceQuadratic: rate * rate,
    rootVarianceCubic: 0,
  };
}

export interface LocalClockConfig {
  /** ntpd-rs `[synchronization] local-stratum`, default 16. */
  localStratum?: number;
  /** ntpd-rs `[synchronization] reference-id` (≤ 4 ASCII chars), default "XNON". */
  referenceId?: string;
  /** Default -18 (2^-18 s ≈ 3.8 µs). */
  precisionLog2?: number;
}

/**
 * The state before any synchronization, as ntpd-rs starts:
 *   * `local-stratum = 1` serves as a primary: LI 0, stratum 1, reference id
 *     from `reference-id` padded with spaces (ntpd-rs code; its doc comment
 *     says zero-padded, the code pads with spaces), zero root delay/dispersion;
 *   * otherwise unsynchronized: LI 3, stratum `local-stratum` (default 16),
 *     reference id XNON.
 * Throws a RangeError for a stratum outside 1..16 or a bad reference id
 * (configuration errors).
 */
export function initialSystemState(config: LocalClockConfig = {}): SystemState {
  const localStratum = config.localStratum ?? DEFAULT_LOCAL_STRATUM;
  if (!Number.isInteger(localStratum) || localStratum < 1 || localStratum > 16) {
    throw new RangeError(`local-stratum must be an integer in 1..16, got ${localStratum}`);
  }
  const primary = localStratum === 1;
  return {
    leap: primary ? 0 : 3,
    stratum: localStratum,
    referenceId: primary
      ? referenceIdFromAscii(config.referenceId ?? "XNON", "space")
      : REFERENCE_ID_NONE,
    precisionLog2: config.precisionLog2 ?? DEFAULT_PRECISION_LOG2,
    rootDelay: 0,
    rootVarianceBaseTime: NtpTimestamp.ZERO,
    rootVarianceBase: 0,
    rootVarianceLinear: 0,
    rootVarianceQuadratic: 0,
    rootVarianceCubic: 0,
  };
}
