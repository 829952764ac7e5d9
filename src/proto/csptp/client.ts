// One CSPTP source's exchanges (sans-IO): builds each request, matches what comes
// back to it and turns a complete exchange into a Measurement for the per-source
// filter, like an NTP reply. The daemon (daemon/csptp-source.ts) owns the socket,
// the clock and the timers.
//
// One exchange at a time, as in ntpd-rs: a request, then its response (a Sync
// with the CSPTP_RESPONSE TLV) and, when that says twoStep, its follow-up, in
// either order, until `responseInterval` has passed. Four times:
//   t1 = our send time + the request's correctionField (echoed by the server)
//   t2 = the request's ingress time at the server (response TLV)
//   t3 = the response's origin time (or the follow-up's) + their correctionFields
//   t4 = our receive time of the response
// offset = ((t2 − t1) + (t3 − t4)) / 2, delay = (t4 − t1) − (t3 − t2), as NTP.
//
// Our requests are padded (PAD TLV) to the size of the response they ask for, so
// a server that never answers with more than it received (ours) can answer them.

import type { LeapIndicator } from "../packet/types.js";
import type { Measurement } from "../source/types.js";
import { NtpTimestamp, offsetAndDelay } from "../time.js";
import {
  encodeRequest,
  STATUS_RESPONSE_LENGTH,
  unixFromPtp,
  type CsptpMessage,
  type CsptpStatus,
  type PtpHeader,
} from "./wire.js";

/** Smallest delay reported (as the NTP source's floor, 2^-18 s). */
const MIN_DELAY = 2 ** -18;
/** Buffer size that holds any request we send. */
export const CSPTP_REQUEST_BUFFER = STATUS_RESPONSE_LENGTH;

export interface CsptpClientOptions {
  domain: number;
  /** Seconds an exchange waits for its response (and follow-up). */
  responseInterval: number;
}

/** What a received message did. */
export type CsptpClientEvent =
  | { kind: "measurement"; measurement: Measurement; status: CsptpStatus | null }
  /** A valid response from a server that says it is not synchronized. */
  | { kind: "unsynchronized" }
  /** Half of a two-step exchange; waiting for the other half. */
  | { kind: "partial" }
  | { kind: "ignored"; reason: CsptpIgnoreReason };

export type CsptpIgnoreReason =
  | "request" // a request, not a response
  | "no-exchange" // nothing outstanding (late or duplicate)
  | "sequence" // another sequence id or domain
  | "duplicate"; // the same half of a two-step exchange twice

interface Half {
  /** t3 before corrections (follow-up's precise origin or one-step origin). */
  origin?: { sec: number; nsec: number; correction: bigint };
  response?: {
    header: PtpHeader;
    t2: NtpTimestamp;
    t4: NtpTimestamp;
    requestCorrection: bigint;
    status: CsptpStatus | null;
  };
}

interface Exchange {
  sequenceId: number;
  t1: NtpTimestamp;
  sentAt: number;
  half: Half;
}

function ntpFromUnix(t: { sec: number; nsec: number }): NtpTimestamp {
  return NtpTimestamp.fromUnix(t.sec, t.nsec);
}

export class CsptpClient {
  readonly #options: CsptpClientOptions;
  #sequence = 0;
  #exchange: Exchange | null = null;
  /** Requests sent, exchanges measured, exchanges that timed out. */
  requests = 0;
  measurements = 0;
  timeouts = 0;

  constructor(options: CsptpClientOptions) {
    this.#options = options;
  }

  /**
   * Writes the next request into `buffer` and returns its length; the caller
   * sends it and reports the send time with sent(). An exchange still open is
   * abandoned.
   */
  request(buffer: Uint8Array): number {
    const sequenceId = this.#sequence;
    this.#sequence = (this.#sequence + 1) & 0xffff;
    this.#exchange = {
      sequenceId,
      t1: NtpTimestamp.ZERO,
      sentAt: Number.NaN,
      half: {},
    };
    this.requests++;
    return encodeRequest(buffer, {
      domain: this.#options.domain,
      sequenceId,
      wantsStatus: true,
      padTo: STATUS_RESPONSE_LENGTH,
    });
  }

  /** The request left at `t1`; `monotonic` (s) times the response interval. */
  sent(t1: NtpTimestamp, monotonic: number): void {
    if (this.#exchange === null) return;
    this.#exchange.t1 = t1;
    this.#exchange.sentAt = monotonic;
  }

  /** Whether an exchange is open (sent and neither complete nor timed out). */
  waiting(monotonic: number): boolean {
    const e = this.#exchange;
    if (e === null) return false;
    if (Number.isNaN(e.sentAt)) {
      // Built but never sent (the send failed): nothing to wait for.
      this.#exchange = null;
      return false;
    }
    if (monotonic - e.sentAt >= this.#options.responseInterval) {
      this.#exchange = null;
      this.timeouts++;
      return false;
    }
    return true;
  }

  /**
   * A parsed message from the server; `rx` is its receive time (meaningful for
   * a response, which carries t4).
   */
  receive(message: CsptpMessage, rx: NtpTimestamp): CsptpClientEvent {
    if (message.kind === "request") return { kind: "ignored", reason: "request" };
    const e = this.#exchange;
    if (e === null || Number.isNaN(e.sentAt)) return { kind: "ignored", reason: "no-exchange" };
    if (
      message.header.sequenceId !== e.sequenceId ||
      message.header.domain !== this.#options.domain
    ) {
      return { kind: "ignored", reason: "sequence" };
    }
    if (message.kind === "follow-up") {
      if (e.half.origin !== undefined) return { kind: "ignored", reason: "duplicate" };
      const t = message.preciseOriginTimestamp;
      e.half.origin = {
        sec: t.seconds,
        nsec: t.nanoseconds,
        correction: message.header.correction,
      };
      // A follow-up for a one-step response already taken cannot happen: that exchange closed.
      return this.#complete(e);
    }
    if (e.half.response !== undefined) return { kind: "ignored", reason: "duplicate" };
    const ingress = unixFromPtp(message.requestIngress);
    e.half.response = {
      header: message.header,
      t2: ntpFromUnix(ingress),
      t4: rx,
      requestCorrection: message.requestCorrection,
      status: message.status,
    };
    if (!message.header.flags.twoStep) {
      const t = message.originTimestamp;
      // A follow-up seen first belongs to a two-step response: this one says one-step.
      e.half.origin = { sec: t.seconds, nsec: t.nanoseconds, correction: 0n };
    }
    return this.#complete(e);
  }

  #complete(e: Exchange): CsptpClientEvent {
    const response = e.half.response;
    const origin = e.half.origin;
    if (response === undefined || origin === undefined) return { kind: "partial" };
    this.#exchange = null;
    if (response.header.flags.synchronizationUncertain) return { kind: "unsynchronized" };
    const t1 = e.t1.addSeconds(correctionSeconds(response.requestCorrection));
    const t3 = ntpFromUnix(
      unixFromPtp(
        { seconds: origin.sec, nanoseconds: origin.nsec },
        origin.correction + response.header.correction,
      ),
    );
    const { t2, t4 } = response;
    const { offset, delay } = offsetAndDelay(t1, t2, t3, t4);
    this.measurements++;
    const steps = response.status?.stepsRemoved ?? 0;
    return {
      kind: "measurement",
      status: response.status,
      measurement: {
        offset,
        delay: Math.max(delay, MIN_DELAY),
        t1,
        t2,
        t3,
        t4,
        version: 4,
        leap: leapOf(response.header),
        // No stratum in CSPTP: a server that is `stepsRemoved` from its grandmaster is
        // treated as that many strata below a primary.
        stratum: Math.min(1 + steps, 15),
        referenceId: 0,
        rootDelay: 0,
        rootDispersion: 0,
        poll: 0,
        precision: -20,
      },
    };
  }
}

/** correctionField (ns × 2^16) in seconds. */
export function correctionSeconds(correction: bigint): number {
  return Number(correction) / 65_536 / 1e9;
}

function leapOf(h: PtpHeader): LeapIndicator {
  if (h.flags.leap59) return 2;
  if (h.flags.leap61) return 1;
  return 0;
}
