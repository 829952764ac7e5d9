// Per-server packet counters, as ntpd-rs `ServerStats` (ntpd/src/daemon/server.rs)
// plus a breakdown of why packets were dropped. Plain numbers: the server
// increments them on the packet path; the daemon reads them for observation.

/** Why a request got no reply. */
export type DropReason =
  /** The client address given by the daemon is no IP address (a daemon bug). */
  | "invalid-address"
  /** Denylisted, with action "ignore". */
  | "denylist"
  /** Not allowlisted, with action "ignore". */
  | "allowlist"
  /** Same client again within `rate-limiting-cutoff-ms`. */
  | "rate-limited"
  /** Not mode 3 (client): modes 0-2 and 4-7, including control (6) and private (7). */
  | "wrong-mode"
  /** Bad length, RFC 7822 framing, too many extension fields, or a bad MAC. */
  | "malformed"
  /** Version not in `accept-ntp-versions`. */
  | "version-not-accepted"
  /** `require-nts = "ignore"` and the request is not NTS. */
  | "nts-required"
  /** The reply would be larger than the request or the output buffer. */
  | "response-too-large";

export const DROP_REASONS: readonly DropReason[] = [
  "invalid-address",
  "denylist",
  "allowlist",
  "rate-limited",
  "wrong-mode",
  "malformed",
  "version-not-accepted",
  "nts-required",
  "response-too-large",
];

export class ServerStats {
  /** Every datagram handed to the server: accepted + denied + ignored + NTS NAKs. */
  receivedPackets = 0;
  /** Answered with time. */
  acceptedPackets = 0;
  /** Answered with a DENY kiss. */
  deniedPackets = 0;
  /** Dropped without a reply (includes rate-limited, as in ntpd-rs). */
  ignoredPackets = 0;
  /** Dropped by the rate limiter. */
  rateLimitedPackets = 0;
  /** Replies the daemon failed to send (countSendError). */
  responseSendErrors = 0;
  // NTS counters (ntpd-rs): NTS requests answered with time, an NTS DENY or
  // an NTS NAK; NAKs are not in accepted/denied/ignored. Rate limiting
  // happens before parsing, so ntsRateLimitedPackets stays 0 (as in ntpd-rs).
  ntsReceivedPackets = 0;
  ntsAcceptedPackets = 0;
  ntsDeniedPackets = 0;
  ntsRateLimitedPackets = 0;
  ntsNakPackets = 0;
  /**
   * New cookies left out of NTS replies because one would have been longer
   * than the cookie or placeholder it answers, or the reply longer than the
   * request. Not an ntpd-rs counter (not in the observation).
   */
  ntsCookiesWithheld = 0;
  /**
   * Time replies in interleaved mode (T3 of the client's previous reply, from the
   * wire: interleave.ts). Part of acceptedPackets. Not an ntpd-rs counter.
   */
  interleavedPackets = 0;
  /** ignoredPackets split by reason; the values sum to ignoredPackets. */
  readonly ignoredByReason: Record<DropReason, number> = {
    "invalid-address": 0,
    denylist: 0,
    allowlist: 0,
    "rate-limited": 0,
    "wrong-mode": 0,
    malformed: 0,
    "version-not-accepted": 0,
    "nts-required": 0,
    "response-too-large": 0,
  };
}

/** The ntpd-rs observation JSON shape of a server's stats (snake_case). */
export interface ServerStatsObservation {
  received_packets: number;
  accepted_packets: number;
  denied_packets: number;
  ignored_packets: number;
  rate_limited_packets: number;
  response_send_errors: number;
  nts_received_packets: number;
  nts_accepted_packets: number;
  nts_denied_packets: number;
  nts_rate_limited_packets: number;
  nts_nak_packets: number;
  /** ntpd-ts: time replies in interleaved mode (absent from an ntpd-rs observation). */
  interleaved_packets?: number;
}

export function serverStatsObservation(s: ServerStats): ServerStatsObservation {
  return {
    received_packets: s.receivedPackets,
    accepted_packets: s.acceptedPackets,
    denied_packets: s.deniedPackets,
    ignored_packets: s.ignoredPackets,
    rate_limited_packets: s.rateLimitedPackets,
    response_send_errors: s.responseSendErrors,
    nts_received_packets: s.ntsReceivedPackets,
    nts_accepted_packets: s.ntsAcceptedPackets,
    nts_denied_packets: s.ntsDeniedPackets,
    nts_rate_limited_packets: s.ntsRateLimitedPackets,
    nts_nak_packets: s.ntsNakPackets,
    interleaved_packets: s.interleavedPackets,
  };
}
