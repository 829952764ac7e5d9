// What one NTP source reports to the daemon: the result of a poll, the result
// of handling a response, and its observable state.

import type { LeapIndicator } from "../packet/types.js";
import type { NtpTimestamp } from "../time.js";

/** One offset/delay sample from a valid server response. */
export interface Measurement {
  /** Server clock minus local clock, seconds (θ). */
  offset: number;
  /** Round-trip delay minus server processing, seconds (δ), at least 2^-18 s. */
  delay: number;
  /** Local send time (as reported through `sent`, else the `poll` time). */
  t1: NtpTimestamp;
  /** Server receive time. */
  t2: NtpTimestamp;
  /** Server transmit time. */
  t3: NtpTimestamp;
  /** Local receive time. */
  t4: NtpTimestamp;
  /**
   * Interleaved mode: T3 is the time the server's reply to the previous request
   * left it, and t1..t4 are that earlier exchange's (taken a poll interval ago).
   */
  interleaved?: boolean;
  /** Version of the reply (3, 4 or 5). */
  version: number;
  leap: LeapIndicator;
  stratum: number;
  /** The server's reference id (unsigned 32-bit). */
  referenceId: number;
  /** Seconds. */
  rootDelay: number;
  /** Seconds. */
  rootDispersion: number;
  /** The reply's poll field (log2 s). */
  poll: number;
  /** The server's precision (log2 s). */
  precision: number;
}

/** Why a datagram was dropped without effect on the source. */
export type IgnoreReason =
  | "parse-error" // not a well-formed NTP packet
  | "mode" // not mode 4 (server)
  | "version" // not a version the source expects now (v5-client.ts)
  | "bogus" // origin timestamp is not the transmit value of our outstanding request
  | "duplicate" // a second reply to a request already answered (or timed out)
  | "late" // arrived more than POLL_WINDOW after the request was sent
  | "unauthenticated" // the protector refused it (NTS: bad UID or AEAD)
  | "duplicate-kiss" // a second kiss-o'-death for the same request
  | "excessive-stratum" // stratum above 16
  | "zero-timestamp"; // zero receive or transmit timestamp

/** What the source did about a kiss-o'-death. */
export type KissAction =
  | "reduce-rate" // RATE: the server-imposed minimum poll was raised
  | "deny-remembered" // unauthenticated DENY/RSTR: demobilize if the server stays unreachable
  | "demobilize" // authenticated DENY/RSTR: stop talking to this server now
  | "none"; // NTSN (forgeable), unknown and informational codes

/** Why an accepted response may not be used to synchronize. */
export type UnusableReason =
  | "unsynchronized" // LI = 3
  | "stratum" // stratum >= our local stratum (16 by default)
  | "loop"; // NTPv5: the source's reference-ID Bloom filter holds our own server ID

export type SourceEvent =
  /**
   * A usable sample: feed it to the clock filter. `usableAgain`: the replies
   * before it were unusable (a state change worth one log line).
   */
  | { kind: "measurement"; measurement: Measurement; usableAgain: boolean }
  /**
   * A valid response (the server is reachable; its stratum and reference id
   * were recorded) that must not be used to synchronize. `first`: the first
   * of a run of them, or the first for a new reason (a state change worth one
   * log line; the rest are not).
   * While they last the source backs off (NtpSource.effectivePollInterval).
   */
  | { kind: "unusable"; reason: UnusableReason; measurement: Measurement; first: boolean }
  /**
   * A kiss-o'-death that passed the origin check. `code` is the ASCII code
   * ("RATE"), or 8 hex digits when the reference id is not printable.
   * `minPoll` is the server-imposed minimum poll exponent after the kiss.
   */
  | { kind: "kiss"; code: string; action: KissAction; minPoll: number }
  /**
   * Interleaved mode: a valid reply (the server is reachable) that gives no sample:
   * "measured", the exchange it describes was measured in basic mode already (the
   * first interleaved reply after a basic one); "implausible", its T3 is before that
   * exchange's T2 or more than 4 s after it; "clock-stepped", the clock was stepped
   * since that exchange.
   */
  | { kind: "no-sample"; reason: "measured" | "implausible" | "clock-stepped" }
  /** Dropped; nothing changed. */
  | { kind: "ignored"; reason: IgnoreReason; detail?: string };

export type PollResult =
  /** Send `request` now, then report the send time through `sent(t1)`. */
  | { kind: "request"; request: Uint8Array; poll: number }
  /**
   * The source is unreachable (3 unanswered polls at start-up, or 8 in a row
   * later): re-resolve the address (server) or replace it (pool), then start a
   * fresh source. Nothing was sent.
   */
  | { kind: "unreachable"; unansweredPolls: number }
  /** Stop talking to this server for good (DENY/RSTR). Nothing was sent. */
  | { kind: "demobilize"; code: string }
  /** The protector could not build a request (NTS: out of cookies): start afresh. */
  | { kind: "reset"; reason: "protector" };

/** The state a source exposes for `ntp-ctl` and metrics. */
export interface SourceSnapshot {
  /** The 8-bit reachability register. */
  reach: number;
  reachable: boolean;
  /** Polls since the last answered one (capped by the number of polls sent). */
  unansweredPolls: number;
  /** Polls sent so far. */
  polls: number;
  /** Poll exponent of the last request (before the first: the one it will use). */
  pollInterval: number;
  desiredPollInterval: number;
  /** Server-imposed minimum poll exponent (raised by RATE kisses). */
  remoteMinPollInterval: number;
  /** Last seen server stratum (16 until the first reply). */
  stratum: number;
  /** Where the NTPv4/NTPv5 negotiation stands (v5-client.ts). */
  protocolState?: "v4" | "v4-upgrading" | "v5-upgraded" | "v5";
  /** Last seen server reference id (0 until the first reply). */
  referenceId: number;
  rootDelay: number;
  rootDispersion: number;
  lastMeasurement: Measurement | null;
  lastKissCode: string | null;
  /** An unauthenticated DENY/RSTR since the last valid reply. */
  denied: boolean;
  demobilized: boolean;
}
