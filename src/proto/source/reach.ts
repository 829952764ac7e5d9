// The 8-bit reachability register of one source (RFC 5905 §13, ntpd-rs
// `Reach`). Shifted left on every poll; the lowest bit is set when a valid
// reply arrives. The source is reachable while any bit is set, so it becomes
// unreachable after 8 consecutive unanswered polls.

export class Reach {
  #bits = 0;

  /** The register as an unsigned byte (0..255), most recent poll in bit 0. */
  get bits(): number {
    return this.#bits;
  }

  isReachable(): boolean {
    return this.#bits !== 0;
  }

  /** A request went out: older answers count for less. */
  poll(): void {
    this.#bits = (this.#bits << 1) & 0xff;
  }

  /** A valid reply to the latest request arrived. */
  receivedPacket(): void {
    this.#bits |= 1;
  }

  /**
   * Polls since the last answered one, as ntpd-rs reports it: the trailing
   * zero bits of the register, so 8 when no bit is set.
   */
  unansweredPolls(): number {
    if (this.#bits === 0) return 8;
    let n = 0;
    while (((this.#bits >> n) & 1) === 0) n++;
    return n;
  }
}
