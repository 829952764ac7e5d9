// Measurements for the clock-discipline tests (source filter, system core):
// one exchange with a server, its four time stamps consistent with the offset
// and delay it carries.
import type { Measurement } from "../../src/proto/source/types.js";
import { offsetAndDelay, type NtpTimestamp } from "../../src/proto/time.js";

/** What a stratum-1 server's reply says about itself, unless a test says otherwise. */
export const SERVER_REPLY = {
  version: 4,
  leap: 0,
  stratum: 1,
  referenceId: 1,
  rootDelay: 0,
  rootDispersion: 1e-5,
  poll: 4,
  precision: -20,
} as const;

type ReplyFields = Partial<Omit<Measurement, "offset" | "delay" | "t1" | "t2" | "t3" | "t4">>;

export interface Exchange {
  /** Local time the request left, seconds after the base. */
  at: number;
  /** The server's clock minus ours, s. */
  offset: number;
  /** Time on the way out and back, s. */
  out: number;
  back: number;
  /** Between the request's arrival (T2) and the reply's departure (T3), s. Default 0. */
  turnaround?: number;
}

/**
 * The exchange at `e.at` seconds after `base`: offset and delay as a client
 * computes them from the time stamps (offset + (out − back)/2, out + back),
 * given exactly rather than through the time stamps' 2^-32 s rounding.
 */
export function exchange(base: NtpTimestamp, e: Exchange, reply: ReplyFields = {}): Measurement {
  const turnaround = e.turnaround ?? 0;
  const t1 = base.addSeconds(e.at);
  const t2 = base.addSeconds(e.at + e.out + e.offset);
  return {
    ...SERVER_REPLY,
    ...reply,
    offset: e.offset + (e.out - e.back) / 2,
    delay: e.out + e.back,
    t1,
    t2,
    t3: t2.addSeconds(turnaround),
    t4: base.addSeconds(e.at + e.out + turnaround + e.back),
  };
}

/** A measurement from four time stamps, offset and delay computed from them. */
export function fromTimestamps(
  t1: NtpTimestamp,
  t2: NtpTimestamp,
  t3: NtpTimestamp,
  t4: NtpTimestamp,
  reply: ReplyFields = {},
): Measurement {
  return { ...SERVER_REPLY, ...reply, ...offsetAndDelay(t1, t2, t3, t4), t1, t2, t3, t4 };
}
