// `[synchronization] no-certificate-time-check = N` (chrony's nocerttimecheck):
// for machines that boot without a real-time clock, whose clock is too wrong
// for certificate dates to mean anything until NTP has set it. Until the
// clock has been updated N times, NTS-KE accepts a chain that is out of its
// validity dates by this clock (every other check still applies); each
// source that got in that way is registered here with its chain's validity
// window. At the N-th clock update the dates are checked against the
// corrected clock: a source whose chain is not valid now is dropped (its
// spawner does a new key exchange, which checks the dates from then on).
// chrony does the same with a count of clock updates; NTPsec's equivalent
// waits for the first step or slew into sync.

import { isoSeconds } from "./certificate-dates.js";
import { withinValidity, type ChainValidity } from "./certificate-chain.js";
import type { Logger } from "./log.js";

export interface UncheckedSource {
  /** The source as logs name it. */
  readonly name: string;
  readonly validity: ChainValidity;
  /** Its chain is out of its dates by the corrected clock: end it. */
  drop(reason: string): void;
}

/** A source registered for a later check of its dates, and how to unregister it. */
export interface UncheckedRegistration {
  source: UncheckedSource;
  release: () => void;
}

/**
 * Registers a source whose key exchange accepted a chain out of its dates
 * (`validity` set); null when the dates were checked (or there is no policy).
 */
export function checkDatesLater(
  policy: CertificateTimePolicy | undefined,
  name: string,
  validity: ChainValidity | undefined,
  drop: () => void,
): UncheckedRegistration | null {
  if (validity === undefined || policy === undefined) return null;
  const source: UncheckedSource = { name, validity, drop };
  return { source, release: policy.register(source) };
}

export class CertificateTimePolicy {
  private updates = 0;
  private readonly unchecked = new Set<UncheckedSource>();

  constructor(
    /** Clock updates before dates are checked; 0: always checked. */
    private readonly limit: number,
    /** Unix milliseconds by the daemon's clock. */
    private readonly nowMs: () => number,
    private readonly log: Logger,
  ) {}

  /** Whether key exchanges may accept chains out of their dates now. */
  get datesIgnored(): boolean {
    return this.updates < this.limit;
  }

  /** Clock updates counted so far (up to the limit). */
  get clockUpdates(): number {
    return this.updates;
  }

  /** Whether `source` is still waiting for its dates to be checked. */
  isUnchecked(source: UncheckedSource): boolean {
    return this.unchecked.has(source);
  }

  /** A source accepted out of its dates; returns its unregistration (when it ends). */
  register(source: UncheckedSource): () => void {
    this.unchecked.add(source);
    this.log.warn(
      "NTS certificate accepted although this clock puts it outside its validity dates " +
        "(no-certificate-time-check); its dates are checked again once the clock has been updated",
      {
        source: source.name,
        valid_from: isoSeconds(source.validity.notBefore),
        valid_until: isoSeconds(source.validity.notAfter),
        clock_updates: this.updates,
        clock_updates_needed: this.limit,
      },
    );
    return () => this.unchecked.delete(source);
  }

  /** The clock was stepped or steered by the discipline. */
  clockUpdated(): void {
    if (this.updates >= this.limit) return;
    this.updates++;
    if (this.updates < this.limit) return;
    const now = this.nowMs();
    this.log.info("clock updated: NTS certificate dates are checked from now on", {
      clock_updates: this.updates,
      unchecked_sources: this.unchecked.size,
    });
    for (const source of [...this.unchecked]) {
      this.unchecked.delete(source);
      if (withinValidity(source.validity, now)) {
        this.log.info("NTS certificate is within its validity dates by the updated clock", {
          source: source.name,
        });
        continue;
      }
      const reason =
        now < source.validity.notBefore
          ? `is not valid before ${isoSeconds(source.validity.notBefore)}`
          : `expired on ${isoSeconds(source.validity.notAfter)}`;
      this.log.error(
        "NTS certificate is outside its validity dates by the updated clock: source dropped",
        { source: source.name, certificate: reason, now: isoSeconds(now) },
      );
      source.drop(`its NTS certificate chain ${reason}`);
    }
  }
}
