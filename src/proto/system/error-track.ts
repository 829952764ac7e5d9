// The steered clock's error between two updates of the controller.
//
// An update estimates the error (true time − clock) at one instant and how fast
// it grows; the controller then corrects it and says nothing until the next
// sample, a poll interval later. A reader asking in between (the observation,
// `ntp-ctl status`, the metrics) wants the error at the moment it asks, as
// chrony's tracking reports it: the estimate carried forward with its rate, less
// every correction made since (steps, and frequency changes from the instant
// they were made). Between corrections the error is linear in time, so a base
// point and a rate describe it; each correction moves the base.
//
// Times are CLOCK_MONOTONIC seconds; rates s/s per monotonic second (the
// difference from true seconds is a rate times a rate: below 1e-7 of the rate).
// Pure: every time is an argument.

export interface ErrorAt {
  /** true time − clock, s (positive: the clock is behind). */
  offset: number;
  /** d(offset)/dt now, s/s, a slew in progress included. */
  rate: number;
  /** The part of `rate` that is a slew in progress (−slewed offset / duration), s/s; 0 without one. */
  slewRate: number;
}

export class ErrorTrack {
  /** The error at monotonic time #mono, s. */
  #offset = 0;
  #mono = 0;
  #rate = 0;
  #slewRate = 0;
  #updated = false;

  /**
   * A new estimate: the error is `offset` at monotonic time `mono` and grows at
   * `rate` s/s with the clock as it runs now.
   */
  update(offset: number, rate: number, mono: number): void {
    this.#offset = offset;
    this.#rate = rate;
    this.#mono = mono;
    this.#updated = true;
  }

  /** The clock was stepped forward by `seconds`: the error is that much smaller. */
  stepped(seconds: number): void {
    this.#offset -= seconds;
  }

  /**
   * The clock's frequency correction changed by `change` s/s (relative: the clock
   * now runs 1 + change times as fast) at monotonic time `mono`; the error then
   * grows that much more slowly. `slewRate`: the error rate of the slew that starts
   * with this change, 0 when one ends, undefined when a running one goes on.
   */
  frequencyChanged(change: number, mono: number, slewRate?: number): void {
    this.#moveTo(mono);
    this.#rate -= change;
    if (slewRate !== undefined) this.#slewRate = slewRate;
  }

  /** The error at monotonic time `mono`, or null before the first update. */
  at(mono: number): ErrorAt | null {
    if (!this.#updated) return null;
    return {
      offset: this.#offset + this.#rate * (mono - this.#mono),
      rate: this.#rate,
      slewRate: this.#slewRate,
    };
  }

  #moveTo(mono: number): void {
    this.#offset += this.#rate * (mono - this.#mono);
    this.#mono = mono;
  }
}
