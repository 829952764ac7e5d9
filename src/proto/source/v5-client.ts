// The client's side of NTPv5 (packet/v5.ts; ntpd-rs 1.9.0 `source.rs`,
// ntpd-rs.md §6.5): which version a source speaks, the v5 request, and a v5
// reply seen as the NtpPacket the rest of the source (and the NTS protector)
// reads.
//
// `ntp-version`:
//   4      v4 requests; v3 and v4 replies.
//   5      v5 requests only; v5 replies only.
//   "auto" v4 requests with "NTP5DRFT" as reference timestamp ("upgrading");
//          v4 replies only. A reply echoing it switches to v5 ("upgraded");
//          UPGRADE_TRIES replies without it and the source stays on v4 for
//          good. Upgraded, the first v5 reply makes the switch final ("v5");
//          AFTER_UPGRADE_UNANSWERED unanswered polls before that and it falls
//          back to v4 for good (a server that echoed but does not answer v5).
// NTS sources do not upgrade: NTS-KE already chose the version (next
// protocol 0 → 4, 0x8001 → 5), and the source is made with it.

import { readU32, writeU32 } from "../packet/header.js";
import {
  NtpMode,
  type ExtensionField,
  type NtpHeader,
  type NtpPacket,
  type ParseResult,
} from "../packet/types.js";
import {
  DRAFT_FIELD_LENGTH,
  V5_POLL_NEVER,
  V5FieldType,
  V5Flags,
  V5Mode,
  encodeV5Header,
  parseV5Packet,
  writeDraftField,
  writeReferenceIdRequest,
} from "../packet/v5.js";
import { BLOOM_CHUNK_LENGTH } from "../packet/v5-bloom.js";
import { NtpTimestamp } from "../time.js";

/** The `ntp-version` of a source. */
export type NtpVersionSetting = 4 | 5 | "auto";

/** Where a source stands: what `ntp-ctl status` and the observation show. */
export type ProtocolState = "v4" | "v4-upgrading" | "v5-upgraded" | "v5";

/** NTS-KE next protocol ids (records.ts NextProtocolId). */
const NTPV4_PROTOCOL = 0;
const DRAFT_NTPV5_PROTOCOL = 0x8001;

/**
 * The next protocols an NTS source offers in NTS-KE, in order of preference
 * (ntpd-rs.md §2.2): 4 → [0], 5 → [0x8001], "auto" → [0x8001, 0].
 */
export function ntsNextProtocols(setting: NtpVersionSetting): number[] {
  if (setting === 5) return [DRAFT_NTPV5_PROTOCOL];
  if (setting === "auto") return [DRAFT_NTPV5_PROTOCOL, NTPV4_PROTOCOL];
  return [NTPV4_PROTOCOL];
}

/** The NTP version a negotiated next protocol means (the KE client accepts only what it offered). */
export function versionOfNextProtocol(protocol: number): 4 | 5 {
  return protocol === DRAFT_NTPV5_PROTOCOL ? 5 : 4;
}

/** Replies without the upgrade echo before "auto" gives up (ntpd-rs: 8). */
export const UPGRADE_TRIES = 8;
/** Unanswered polls after the switch that send an "auto" source back to v4 (ntpd-rs: 2). */
export const AFTER_UPGRADE_UNANSWERED = 2;

export const UPGRADE_TIMESTAMP = new NtpTimestamp(0x4e545035, 0x44524654);

export class VersionNegotiation {
  #state: ProtocolState;
  #triesLeft = UPGRADE_TRIES;

  constructor(setting: NtpVersionSetting) {
    this.#state = setting === 5 ? "v5" : setting === "auto" ? "v4-upgrading" : "v4";
  }

  get state(): ProtocolState {
    return this.#state;
  }

  /** The version of the next request. */
  get requestVersion(): 4 | 5 {
    return this.#state === "v5" || this.#state === "v5-upgraded" ? 5 : 4;
  }

  /** The next (v4) request carries the upgrade timestamp. */
  get asksUpgrade(): boolean {
    return this.#state === "v4-upgrading";
  }

  /** Whether a reply of `version` is one this state expects. */
  accepts(version: number): boolean {
    switch (this.#state) {
      case "v4":
        return version === 4 || version === 3;
      case "v4-upgrading":
        return version === 4;
      default:
        return version === 5;
    }
  }

  /** Before each poll: an upgraded source whose v5 requests go unanswered falls back. */
  beforePoll(unansweredPolls: number): void {
    if (this.#state === "v5-upgraded" && unansweredPolls >= AFTER_UPGRADE_UNANSWERED) {
      this.#state = "v4";
    }
  }

  /** A reply that passed the origin (and NTS) checks; `echo`: it carried "NTP5DRFT". */
  validReply(echo: boolean): void {
    if (this.#state === "v4-upgrading") {
      this.#triesLeft--;
      if (echo) this.#state = "v5-upgraded";
      else if (this.#triesLeft <= 0) this.#state = "v4";
    } else if (this.#state === "v5-upgraded") {
      this.#state = "v5";
    }
  }
}

/** Octets of our v5 request before any NTS fields: header, draft field, Bloom chunk request. */
export const V5_REQUEST_LENGTH = 48 + DRAFT_FIELD_LENGTH + 4 + BLOOM_CHUNK_LENGTH;

/**
 * A v5 request (ntpd-rs `poll_message_v5` order): header with `clientCookie`
 * and `poll`, our Draft Identification, a Reference ID request for the Bloom
 * chunk at `bloomOffset`. An NTS protector then puts its fields between the
 * header and these (client-protector.ts), so they end up authenticated.
 */
export function buildV5Request(
  poll: number,
  clientCookie: NtpTimestamp,
  bloomOffset: number,
): Uint8Array {
  const out = new Uint8Array(V5_REQUEST_LENGTH);
  const cookie = new Uint8Array(8);
  writeU32(cookie, 0, clientCookie.seconds >>> 0);
  writeU32(cookie, 4, clientCookie.fraction >>> 0);
  encodeV5Header(
    {
      leap: 0,
      mode: V5Mode.Request,
      stratum: 0,
      poll,
      precision: 0,
      rootDelay: 0,
      rootDispersion: 0,
      timescale: 0,
      era: 0,
      flags: 0,
      serverCookie: new Uint8Array(8),
      clientCookie: cookie,
      receiveSeconds: 0,
      receiveFraction: 0,
      transmitSeconds: 0,
      transmitFraction: 0,
    },
    out,
  );
  let off = 48;
  off += writeDraftField(out, off, 16);
  writeReferenceIdRequest(out, off, bloomOffset, BLOOM_CHUNK_LENGTH);
  return out;
}

const ASCII = (s: string): number =>
  ((s.charCodeAt(0) << 24) | (s.charCodeAt(1) << 16) | (s.charCodeAt(2) << 8) | s.charCodeAt(3)) >>>
  0;
const DENY = ASCII("DENY");
const RATE = ASCII("RATE");
const NTSN = ASCII("NTSN");

/** A v5 reply, parsed, and its Reference ID responses (value offset into the datagram). */
export interface V5Reply {
  packet: NtpPacket;
  /** The Bloom chunks the reply carries, with the offset of their field. */
  bloomChunks: { fieldOffset: number; bytes: Uint8Array }[];
}

/**
 * Parses a v5 reply as the NtpPacket the source and the protector read: the
 * client cookie as origin timestamp; no reference id or timestamp (v5 has
 * none) except that a kiss (stratum 0) gets the NTPv4 code it means (ntpd-rs
 * `is_kiss_*`): NTSN with the NAK flag, DENY with poll 127, RATE with a poll
 * above `lastPoll`. Never throws.
 */
export function parseV5Reply(
  bytes: Uint8Array,
  length: number,
  lastPoll: number,
): ParseResult<V5Reply> {
  const parsed = parseV5Packet(bytes, length);
  if (!parsed.ok)
    return { ok: false, error: { code: "bad-extension-field", message: parsed.message } };
  const v = parsed.value.header;
  let referenceId = 0;
  if (v.stratum === 0) {
    if ((v.flags & V5Flags.AuthNak) !== 0) referenceId = NTSN;
    else if (v.poll === V5_POLL_NEVER) referenceId = DENY;
    else if (v.poll > lastPoll) referenceId = RATE;
  }
  const header: NtpHeader = {
    leap: v.leap,
    version: 5,
    mode: v.mode === V5Mode.Response ? NtpMode.Server : NtpMode.Client,
    stratum: v.stratum,
    poll: v.poll,
    precision: v.precision,
    rootDelay: v.rootDelay,
    rootDispersion: v.rootDispersion,
    referenceId,
    referenceTimestamp: NtpTimestamp.ZERO,
    originTimestamp: new NtpTimestamp(readU32(v.clientCookie, 0), readU32(v.clientCookie, 4)),
    receiveTimestamp: new NtpTimestamp(v.receiveSeconds, v.receiveFraction),
    transmitTimestamp: new NtpTimestamp(v.transmitSeconds, v.transmitFraction),
  };
  const extensionFields: ExtensionField[] = [];
  const bloomChunks: V5Reply["bloomChunks"] = [];
  for (const f of parsed.value.fields) {
    extensionFields.push({ type: f.type, value: f.value, offset: f.offset });
    if (f.type === V5FieldType.ReferenceIdResponse) {
      bloomChunks.push({ fieldOffset: f.offset, bytes: f.value });
    }
  }
  return {
    ok: true,
    value: { packet: { header, extensionFields, mac: null }, bloomChunks },
  };
}

/** Whether a v4 reply echoes the upgrade timestamp (the server speaks our v5). */
export function echoesUpgrade(header: NtpHeader): boolean {
  return header.referenceTimestamp.equals(UPGRADE_TIMESTAMP);
}
