// The server's NTPv5 replies (packet/v5.ts; ntpd-rs 1.9.0 `timestamp_response`,
// `nts_timestamp_response`, `deny_response`, `nts_nak_response` for v5; NTP
// draft revision DRAFT_ID). Only reached for version-5 requests when 5 is in
// `accept-ntp-versions`: the v4 path in server.ts is untouched by it.
//
// A v5 request must carry our Draft Identification (else it is malformed, as
// ntpd-rs drops it). The reply:
//   header: LI, stratum, precision, root delay/dispersion of the system; the
//     request's poll; timescale UTC, era 0; flags "synchronized" below stratum
//     16; a random server cookie; the request's client cookie; T2; T3 by the
//     finish (same offset as v4);
//   fields: the request's Unique Identifiers (plain: all, unauthenticated;
//     NTS: those before the authenticator, authenticated), a Reference ID
//     response per Reference ID request (the asked octets of our Bloom
//     filter; none when the range is outside it), our Draft Identification;
//     NTS: then the authenticator with new cookies (nts.ts); time replies are
//     padded with a Padding field to the request's length (ntpd-rs). The reply
//     is never longer than the request: each answered field is as long as the
//     field that asked for it, and the request carries a draft field too.
//   DENY: stratum 0, poll 127 ("never"), flags 0, UIDs and draft field;
//   NTS NAK: stratum 0, the NAK flag, UIDs (unauthenticated) and draft field.
//
// The request is copied into scratch first, so `out` may be the request
// buffer. Interleaved mode is v4 only (a v5 reply is always basic).

import { EXTENSION_FIELD_HEADER_LENGTH, ExtensionFieldReader } from "../packet/extension-fields.js";
import { readU32, writeU32 } from "../packet/header.js";
import { MAX_EXTENSION_FIELDS, MAX_NTP_PACKET_LENGTH } from "../packet/parse.js";
import { NTP_HEADER_LENGTH } from "../packet/types.js";
import {
  BLOOM_FILTER_LENGTH,
  DRAFT_ID_BYTES,
  UPGRADE_FRACTION,
  UPGRADE_SECONDS,
  V5_POLL_NEVER,
  V5FieldType,
  V5Flags,
  V5Mode,
  encodeTime32,
  isOurDraft,
  writeDraftField,
  writePaddingField,
} from "../packet/v5.js";
import type { RandomFill } from "../nts/keyset/keyset.js";
import { mergeBloomFilter } from "../packet/v5-bloom.js";
import type { NtsFieldScanner } from "../nts/packet/scan.js";
import { rootDispersionAt, type SystemState } from "../system/system-state.js";
import type { NtpTimestamp } from "../time.js";
import { FinishStep, type ReplyFinish } from "./finish.js";
import type { NtsRequestHandler } from "./nts.js";

/** Most Reference ID requests answered per request. */
const MAX_REFID_REQUESTS = 4;

export type V5Outcome =
  "malformed" | "too-large" | "time" | "deny" | "nak" | "nts-time" | "nts-deny" | "not-nts";

export class V5Responder {
  /** The request, copied: `out` may be the request's buffer. */
  private readonly copy = new Uint8Array(MAX_NTP_PACKET_LENGTH);
  private readonly reader = new ExtensionFieldReader();
  /** Value offset and length of each Reference ID request, before/after the authenticator. */
  private readonly refidOffsets = new Int32Array(MAX_REFID_REQUESTS);
  private readonly refidLengths = new Int32Array(MAX_REFID_REQUESTS);
  private readonly refidAuthenticated = new Uint8Array(MAX_REFID_REQUESTS);
  private refidCount = 0;
  /** Length of the reply laid out by the last respond(). */
  length = 0;

  /** What the Reference ID responses publish: our own filter, with the upstream filters once known. */
  private filter: Uint8Array;
  /** The upstream union `filter` was last built from (SystemState's, compared by identity). */
  private upstream: Uint8Array | null = null;

  /**
   * `ownFilter`: the filter of our own server ID (shared, never written here);
   * each reply adds the state's upstreamReferenceIds to it.
   */
  constructor(
    private readonly ownFilter: Uint8Array,
    private readonly randomFill: RandomFill,
  ) {
    this.filter = ownFilter;
  }

  /**
   * Reads the v5 request `request[0..length)` (its mode and length already
   * checked) into scratch, scans it with `scan` (v5 framing) and notes its
   * Reference ID requests. Returns false when it is malformed or lacks our
   * draft identification.
   */
  read(request: Uint8Array, length: number, scan: NtsFieldScanner): boolean {
    const copy = this.copy;
    copy.set(request.subarray(0, length));
    if (!scan.scan(copy, NTP_HEADER_LENGTH, length, false, true)) return false;
    let draft = false;
    this.refidCount = 0;
    const reader = this.reader;
    reader.reset(copy, NTP_HEADER_LENGTH, length, false, MAX_EXTENSION_FIELDS, true);
    const authenticator = scan.authenticatorOffset;
    while (reader.next()) {
      if (reader.type === V5FieldType.DraftIdentification) {
        draft ||= isOurDraft(copy, reader.valueOffset, reader.valueLength);
      } else if (reader.type === V5FieldType.ReferenceIdRequest) {
        // ntpd-rs: a request too short to hold its offset breaks the packet.
        if (reader.valueLength < 2) return false;
        if (this.refidCount < MAX_REFID_REQUESTS) {
          const i = this.refidCount++;
          this.refidOffsets[i] = reader.valueOffset;
          this.refidLengths[i] = reader.valueLength;
          this.refidAuthenticated[i] =
            authenticator < 0 || reader.fieldOffset < authenticator ? 1 : 0;
        }
      }
    }
    return reader.error === null && draft;
  }

  /** The request as read (read() must have returned true). */
  get request(): Uint8Array {
    return this.copy;
  }

  /**
   * Lays out a plain reply (time, or DENY when `deny`) in `out`; `length` is
   * the request's. Returns "time", "deny" or "too-large".
   */
  plain(
    out: Uint8Array,
    length: number,
    scan: NtsFieldScanner,
    state: SystemState,
    rx: NtpTimestamp,
    finish: ReplyFinish,
    deny: boolean,
  ): V5Outcome {
    const limit = Math.min(length, out.length);
    if (deny) this.writeKiss(out, 0, true);
    else this.writeTimeHeader(out, state, rx, finish);
    let off = this.echoUids(out, scan, scan.uidCount, limit);
    if (off < 0) return "too-large";
    if (!deny) off = this.answerRefids(out, off, limit, false, state);
    off = this.appendDraft(out, off, limit, 0);
    if (off < 0) return "too-large";
    if (!deny) off = pad(out, off, limit);
    this.length = off;
    return deny ? "deny" : "time";
  }

  /**
   * An NTS request (authenticator found, the server has keys): checked with
   * `nts`; laid out as an NTS time reply, an NTS DENY (`deny`), or a NAK.
   */
  nts(
    out: Uint8Array,
    length: number,
    scan: NtsFieldScanner,
    nts: NtsRequestHandler,
    keySet: Parameters<NtsRequestHandler["check"]>[2],
    state: SystemState,
    rx: NtpTimestamp,
    finish: ReplyFinish,
    deny: boolean,
  ): V5Outcome {
    const limit = Math.min(length, out.length);
    const check = nts.check(this.copy, scan, keySet);
    if (check === "malformed") return "malformed";
    if (check === "nak") {
      if (deny) this.writeKiss(out, 0, true);
      else this.writeKiss(out, V5Flags.AuthNak, false);
      let off = this.echoUids(out, scan, scan.uidCount, limit);
      if (off >= 0) off = this.appendDraft(out, off, limit, 0);
      if (off < 0) return "too-large";
      this.length = off;
      return deny ? "deny" : "nak";
    }
    if (deny) this.writeKiss(out, 0, true);
    else this.writeTimeHeader(out, state, rx, finish);
    let off = this.echoUids(out, scan, scan.authenticatedUidCount, limit);
    if (off >= 0 && !deny) off = this.answerRefids(out, off, limit, true, state);
    // Authenticated fields are at least 16 octets (RFC 7822, as ntpd-rs writes them).
    if (off >= 0) off = this.appendDraft(out, off, limit, 16);
    if (off < 0) {
      nts.release();
      return "too-large";
    }
    let end = nts.layoutAuthenticator(out, off, limit, !deny, finish);
    if (end < 0) return "too-large";
    if (!deny) end = pad(out, end, limit);
    this.length = end;
    return deny ? "nts-deny" : "nts-time";
  }

  private writeTimeHeader(
    out: Uint8Array,
    state: SystemState,
    rx: NtpTimestamp,
    finish: ReplyFinish,
  ): void {
    const request = this.copy;
    const synchronized = state.stratum < 16;
    out[0] = ((state.leap & 3) << 6) | (5 << 3) | V5Mode.Response;
    out[1] = state.stratum & 0xff;
    out[2] = request[2] ?? 0;
    out[3] = state.precisionLog2 & 0xff;
    writeU32(out, 4, encodeTime32(state.rootDelay));
    writeU32(out, 8, encodeTime32(rootDispersionAt(state, rx)));
    out[12] = 0; // UTC
    out[13] = 0; // era 0 (until 2036)
    out[14] = 0;
    out[15] = synchronized ? V5Flags.Synchronized : 0;
    this.randomFill(out, 16, 8);
    out.set(request.subarray(24, 32), 24);
    writeU32(out, 32, rx.seconds >>> 0);
    writeU32(out, 36, rx.fraction >>> 0);
    writeU32(out, 40, 0);
    writeU32(out, 44, 0);
    finish.kind |= FinishStep.Stamp;
  }

  /** A v5 kiss: stratum 0, everything zero but the cookies, `flags` and poll. */
  private writeKiss(out: Uint8Array, flags: number, deny: boolean): void {
    out.fill(0, 0, NTP_HEADER_LENGTH);
    out[0] = (5 << 3) | V5Mode.Response;
    out[2] = deny ? V5_POLL_NEVER : 0;
    out[15] = flags;
    this.randomFill(out, 16, 8);
    out.set(this.copy.subarray(24, 32), 24);
  }

  private echoUids(out: Uint8Array, scan: NtsFieldScanner, count: number, limit: number): number {
    let off = NTP_HEADER_LENGTH;
    for (let i = 0; i < count; i++) {
      const from = scan.uidOffsets[i] ?? 0;
      const n = scan.uidLengths[i] ?? 0;
      if (off + n > limit) return -1;
      out.set(this.copy.subarray(from, from + n), off);
      off += n;
    }
    return off;
  }

  /** Reference ID responses for the requests (only the authenticated ones when `authenticatedOnly`). */
  private answerRefids(
    out: Uint8Array,
    off: number,
    limit: number,
    authenticatedOnly: boolean,
    state: SystemState,
  ): number {
    const filter = this.publishedFilter(state.upstreamReferenceIds ?? null);
    const copy = this.copy;
    for (let i = 0; i < this.refidCount; i++) {
      if (authenticatedOnly && this.refidAuthenticated[i] !== 1) continue;
      const valueOffset = this.refidOffsets[i]!;
      const n = this.refidLengths[i]!;
      const from = ((copy[valueOffset] ?? 0) << 8) | (copy[valueOffset + 1] ?? 0);
      if (from + n > BLOOM_FILTER_LENGTH) continue; // ntpd-rs: no answer for a range outside it
      const wire = (EXTENSION_FIELD_HEADER_LENGTH + n + 3) & ~3;
      if (off + wire > limit) return off;
      const fieldLength = EXTENSION_FIELD_HEADER_LENGTH + n;
      out[off] = V5FieldType.ReferenceIdResponse >>> 8;
      out[off + 1] = V5FieldType.ReferenceIdResponse & 0xff;
      out[off + 2] = fieldLength >>> 8;
      out[off + 3] = fieldLength & 0xff;
      out.set(filter.subarray(from, from + n), off + EXTENSION_FIELD_HEADER_LENGTH);
      out.fill(0, off + fieldLength, off + wire);
      off += wire;
    }
    return off;
  }

  /** Our own filter joined with `upstream`, rebuilt only when the state brings a new union. */
  private publishedFilter(upstream: Uint8Array | null): Uint8Array {
    if (upstream === this.upstream) return this.filter;
    this.upstream = upstream;
    if (upstream === null) {
      this.filter = this.ownFilter;
    } else {
      const filter = this.filter === this.ownFilter ? new Uint8Array(this.ownFilter) : this.filter;
      filter.set(this.ownFilter);
      mergeBloomFilter(filter, upstream);
      this.filter = filter;
    }
    return this.filter;
  }

  private appendDraft(out: Uint8Array, off: number, limit: number, minLength: number): number {
    if (off < 0) return -1;
    const wire =
      (Math.max(EXTENSION_FIELD_HEADER_LENGTH + DRAFT_ID_BYTES.length, minLength) + 3) & ~3;
    if (off + wire > limit) return -1;
    return off + writeDraftField(out, off, minLength);
  }
}

/** A Padding field up to `limit` when at least its 4-octet header fits (ntpd-rs). */
function pad(out: Uint8Array, off: number, limit: number): number {
  const gap = limit - off;
  return gap >= EXTENSION_FIELD_HEADER_LENGTH ? off + writePaddingField(out, off, gap) : off;
}

/** Whether a v4 request's reference timestamp asks for the upgrade ("NTP5DRFT"). */
export function asksForUpgrade(request: Uint8Array): boolean {
  return readU32(request, 16) === UPGRADE_SECONDS && readU32(request, 20) === UPGRADE_FRACTION;
}
