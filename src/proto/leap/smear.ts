// A leap smear for servers whose clients must never see a leap second
// (`[[server]] leap-smear = true`): instead of repeating (or skipping) a second,
// the time served runs slow (fast) by 1/86400 for the 24 hours centred on the leap,
// from noon UTC before it to noon UTC after it, as Google's public NTP servers do.
// In the middle of the leap second the served time is half a second behind (ahead
// of) UTC; at both ends it agrees with UTC again. Our own clock is never smeared:
// only the receive and transmit times of a smearing server's replies are.
//
// Smeared time is not UTC: a client that mixes smeared and unsmeared servers sees
// them disagree by up to half a second and may reject either (docs/leap-seconds.md).
//
// The correction is a function of the unsmeared UTC reading u. For an insertion the
// reading repeats 23:59:59 (the kernel's 23:59:60): during that second u alone
// cannot tell which pass it is, so LeapSmear keeps the reading and the monotonic
// time of an earlier call and compares: a reading a second behind where the
// monotonic clock says the clock should be is the second pass.
//
// Pure: the readings are arguments.

import type { LeapEvent } from "./leap-decision.js";

/** Half the smear: it starts this long before the leap and ends this long after, s. */
export const SMEAR_HALF_WINDOW = 43_200;
const DAY = 86_400;

/**
 * Smeared − unsmeared time (s) at the unsmeared UTC reading `u` (NTP seconds with
 * fraction) for `event`. `afterLeap` says, for an insertion, whether the reading is
 * in the second pass of the repeated second; outside that second it is implied.
 */
export function smearCorrection(event: LeapEvent, u: number, afterLeap = false): number {
  const start = event.at - SMEAR_HALF_WINDOW;
  if (u <= start || u >= event.at + SMEAR_HALF_WINDOW) return 0;
  const after = u >= event.at || (event.insert && u >= event.at - 1 && afterLeap);
  // Real seconds since the smear began, and the length of the smear in real seconds.
  const shift = event.insert ? 1 : -1;
  const elapsed = u - start + (after ? shift : 0);
  const window = DAY + shift;
  if (elapsed <= 0 || elapsed >= window) return 0;
  return start + (elapsed * DAY) / window - u;
}

/** The smear of one serving thread, telling the two passes of an inserted second apart. */
export class LeapSmear {
  #anchor: { reading: number; mono: number; at: number } | null = null;

  /**
   * Smeared − unsmeared time (s) for a reply read at `u` (NTP seconds) when the
   * monotonic clock read `mono` (s), for the leap `event` (null: none, 0).
   */
  correction(event: LeapEvent | null | undefined, u: number, mono: number): number {
    if (event == null) return 0;
    const ambiguous = event.insert && u >= event.at - 1 && u < event.at;
    let afterLeap = false;
    if (!ambiguous) {
      if (u < event.at - 1) this.#anchor = { reading: u, mono, at: event.at };
    } else if (this.#anchor !== null && this.#anchor.at === event.at) {
      // Where the clock would read had it not gone back a second.
      const expected = this.#anchor.reading + (mono - this.#anchor.mono);
      afterLeap = expected - u > 0.5;
    }
    return smearCorrection(event, u, afterLeap);
  }
}
