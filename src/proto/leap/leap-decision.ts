// Which leap second, if any, ends the current UTC day: what the kernel is told
// (STA_INS / STA_DEL through SystemClock.setLeap) and what our server announces
// (the LI bits of its replies). docs/leap-seconds.md has the reasoning.
//
//   1. A valid, unexpired leap-seconds file wins: it names the exact day, and the
//      sources' indicators are only reported when they disagree with it.
//   2. Otherwise the majority of the selected sources (combine.ts voteLeap; LI 3
//      casts no vote). NTP servers may announce a leap up to a month or more
//      ahead, but a kernel flag acts at the end of the day it is set on (and so
//      does every client that passes LI straight to its kernel): a source's
//      announcement is believed only on the last day of a month, the only days
//      IERS schedules leap seconds (ITU-R TF.460-6).
//   3. Either way, an announcement holds only for the UTC day that ends with the
//      leap: the kernel flag is set, and our replies carry LI 1 or 2, from
//      00:00:00 UTC of that day until the leap; after it, LI is 0 again.
//
// LI 3 (not synchronized) is never replaced: an unsynchronized server says so.
//
// Pure: the time is an argument.

import type { LeapIndicator } from "../packet/types.js";
import { isExpired, leapEndingDay, type LeapSecondsList } from "./leap-seconds-list.js";

const SECONDS_PER_DAY = 86_400;
const NTP_UNIX_OFFSET = 2_208_988_800;

/** A leap second at a known instant. */
export interface LeapEvent {
  /** NTP seconds (era 0) of the UTC midnight at which the leap ends. */
  at: number;
  /** true: a second is inserted (23:59:60); false: 23:59:59 is deleted. */
  insert: boolean;
}

export interface LeapDecision {
  /** What to set and publish now. */
  leap: LeapIndicator;
  /** The leap ending the current day, when there is one. */
  event: LeapEvent | null;
  /** Where the answer came from. */
  from: "file" | "sources" | "unsynchronized";
  /** The file's verdict differs from the sources' vote (worth a log line). */
  sourcesDisagree: boolean;
}

/**
 * The leap indicator for now (`nowNtpSeconds`, NTP seconds of the clock), given
 * the sources' majority `sourcesLeap` and the leap-seconds `file` (null: none, or
 * not valid).
 */
export function decideLeap(
  sourcesLeap: LeapIndicator,
  file: LeapSecondsList | null,
  nowNtpSeconds: number,
): LeapDecision {
  if (sourcesLeap === 3) {
    return { leap: 3, event: null, from: "unsynchronized", sourcesDisagree: false };
  }
  if (file !== null && !isExpired(file, nowNtpSeconds)) {
    const today = leapEndingDay(file, nowNtpSeconds);
    return {
      leap: today.leap,
      event: today.leap === 0 ? null : { at: today.at, insert: today.leap === 1 },
      from: "file",
      sourcesDisagree: sourcesLeap !== today.leap,
    };
  }
  if (sourcesLeap === 0 || !isLastDayOfMonth(nowNtpSeconds)) {
    return { leap: 0, event: null, from: "sources", sourcesDisagree: false };
  }
  const at = (Math.floor(nowNtpSeconds / SECONDS_PER_DAY) + 1) * SECONDS_PER_DAY;
  return {
    leap: sourcesLeap,
    event: { at, insert: sourcesLeap === 1 },
    from: "sources",
    sourcesDisagree: false,
  };
}

/** Whether the UTC day containing `ntpSeconds` is the last day of its month. */
export function isLastDayOfMonth(ntpSeconds: number): boolean {
  const tomorrow = new Date((ntpSeconds - NTP_UNIX_OFFSET + SECONDS_PER_DAY) * 1000);
  return tomorrow.getUTCDate() === 1;
}
