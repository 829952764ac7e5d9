// A CSPTP server's answer to one datagram (sans-IO): a one-step Sync response, or
// a reason to stay silent. The daemon (daemon/csptp-server.ts) receives, writes
// T3 last (writeOriginTimestamp) and sends.
//
// One-step, unlike ntpd-rs's server (always two-step: a Sync, then a FollowUp on
// the general port with the kernel's transmit time): one datagram per request,
// T3 read right before the send, as our NTP server does. ntpd-rs's client takes
// either.
//
// Never more than was received: the response is 66 octets, 88 with the status
// TLV, and a bare request (ntpd-rs's) is 52. The status TLV is sent only when
// asked for and the request is at least 88 octets long; a request shorter than
// 66 octets gets no answer (counted as "too-short"). Our client pads its requests
// with a PAD TLV to 88 octets. This keeps CSPTP from being an amplifier, at the
// price of not answering ntpd-rs's unpadded requests (docs/csptp.md).

import type { LeapIndicator } from "../packet/types.js";
import {
  encodeResponse,
  parseCsptp,
  RESPONSE_LENGTH,
  STATUS_RESPONSE_LENGTH,
  type CsptpDropReason,
  type CsptpStatus,
  type PtpTimestamp,
} from "./wire.js";

/** What the server publishes about its time (from `[csptp]` and the system state). */
export interface CsptpServerState {
  leap: LeapIndicator;
  /** The daemon is not synchronized (local stratum 16, or leap indicator 3). */
  unsynchronized: boolean;
  ptpTimescale: boolean;
  timeTraceable: boolean;
  frequencyTraceable: boolean;
  status: CsptpStatus;
}

export type CsptpServerDrop =
  | CsptpDropReason
  | "not-request" // a response or follow-up sent to the server
  | "too-short"; // answering would send more than was received

export type CsptpServerResult =
  { kind: "response"; length: number } | { kind: "drop"; reason: CsptpServerDrop };

/** Counters of one server, as the observation shows them. */
export interface CsptpServerStats {
  received: number;
  responded: number;
  dropped: Map<CsptpServerDrop, number>;
  sendErrors: number;
}

export function newCsptpServerStats(): CsptpServerStats {
  return { received: 0, responded: 0, dropped: new Map(), sendErrors: 0 };
}

/**
 * Answers the datagram `request[0, length)` received at `ingress` by writing a
 * response into `reply` (≥ 88 octets). Its origin timestamp is left zero: the
 * caller writes T3 right before sending.
 */
export function handleCsptpRequest(
  request: Uint8Array,
  length: number,
  ingress: PtpTimestamp,
  state: CsptpServerState,
  reply: Uint8Array,
): CsptpServerResult {
  const parsed = parseCsptp(request, length);
  if (!parsed.ok) return { kind: "drop", reason: parsed.reason };
  const message = parsed.message;
  if (message.kind !== "request") return { kind: "drop", reason: "not-request" };
  if (length < RESPONSE_LENGTH) return { kind: "drop", reason: "too-short" };
  const withStatus = message.wantsStatus && length >= STATUS_RESPONSE_LENGTH;
  const n = encodeResponse(reply, {
    domain: message.header.domain,
    sequenceId: message.header.sequenceId,
    flags: {
      leap61: state.leap === 1,
      leap59: state.leap === 2,
      ptpTimescale: state.ptpTimescale,
      timeTraceable: state.timeTraceable,
      frequencyTraceable: state.frequencyTraceable,
      synchronizationUncertain: state.unsynchronized,
    },
    originTimestamp: { seconds: 0, nanoseconds: 0 },
    requestIngress: ingress,
    requestCorrection: message.header.correction,
    status: withStatus ? state.status : null,
  });
  return { kind: "response", length: n };
}

/** Counts one result into `stats`. */
export function countCsptpResult(stats: CsptpServerStats, result: CsptpServerResult): void {
  stats.received++;
  if (result.kind === "response") stats.responded++;
  else stats.dropped.set(result.reason, (stats.dropped.get(result.reason) ?? 0) + 1);
}
