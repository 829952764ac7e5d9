// CSPTP (client-server PTP) messages: the subset of the PTPv2.1 wire format
// (IEEE 1588-2019) that ntpd-rs's experimental CSPTP speaks, learnt from its
// statime-csptp / statime-wire crates (the CSPTP text itself, IEEE P1588.1, is
// not public; docs/csptp.md lists what follows ntpd-rs and what is ours).
//
// Every message is a PTP header (34 octets) and a 10-octet timestamp body,
// followed by TLVs up to messageLength:
//
//   0  majorSdoId(4 bits) | messageType(4)   0x30 | type (sdoId 0x300)
//   1  minorVersion(4) | versionPTP(4)       0x12 (PTP 2.1)
//   2  messageLength u16                     header + body + TLVs; octets after it are ignored
//   4  domainNumber u8                       128..239 for CSPTP
//   5  minorSdoId u8                         0x00
//   6  flags: 0x01 alternateMaster, 0x02 twoStep, 0x04 unicast, 0x20/0x40 profile specific
//   7  flags: 0x01 leap61, 0x02 leap59, 0x04 currentUtcOffsetValid, 0x08 ptpTimescale,
//            0x10 timeTraceable, 0x20 frequencyTraceable, 0x40 synchronizationUncertain
//   8  correctionField i64                   ns × 2^16 (transparent clocks' residence times)
//   16 messageTypeSpecific (4 octets, zero)
//   20 sourcePortIdentity (8-octet clock identity, u16 port; zero in CSPTP)
//   30 sequenceId u16
//   32 controlField u8 (0)
//   33 logMessageInterval i8                 0x7f
//   34 originTimestamp: seconds u48, nanoseconds u32 (PTP timescale: TAI since 1970)
//   44 TLVs: type u16, length u16 (even), value
//
// Message kinds:
//   request    Sync (type 0) with one CSPTP_REQUEST TLV (0xff00; value ≥ 1 octet,
//              flags 0x01 "send the status TLV", 0x02 alternate timescale; ntpd-rs sends 4)
//   response   Sync with one CSPTP_RESPONSE TLV (0xff01; value ≥ 18 octets: the
//              request's ingress timestamp, 10, and its correctionField, 8) and
//              optionally CSPTP_STATUS (0xf002; value ≥ 18 octets: priority1,
//              clockQuality 4, priority2, stepsRemoved u16, currentUtcOffset i16,
//              grandmasterIdentity 8). twoStep set: the origin timestamp comes in a
//   follow-up  FollowUp (type 8), sent to the general port, same sequenceId.
// A Sync with no or more than one request/response TLV, or a malformed one, is
// invalid (as in ntpd-rs). Other TLVs (e.g. PAD, 0x8008) are skipped.
//
// parseCsptp never throws: any input gives a message or a drop reason.

export const PTP_HEADER_LENGTH = 34;
const BODY_LENGTH = 10;
/** Header and timestamp body: where the TLVs start. */
export const PTP_TLV_OFFSET = PTP_HEADER_LENGTH + BODY_LENGTH;
const TLV_HEADER_LENGTH = 4;

export const MESSAGE_TYPE_SYNC = 0x0;
export const MESSAGE_TYPE_FOLLOW_UP = 0x8;
/** sdoId 0x300: majorSdoId 3 in the high nibble of octet 0, minorSdoId 0 in octet 5. */
const MAJOR_SDO_ID = 0x3;
const MINOR_SDO_ID = 0x00;
/** versionPTP 2, minorVersionPTP 1. */
const VERSION_OCTET = 0x12;
const LOG_MESSAGE_INTERVAL = 0x7f;

export const TLV_CSPTP_REQUEST = 0xff00;
export const TLV_CSPTP_RESPONSE = 0xff01;
export const TLV_CSPTP_STATUS = 0xf002;
/** IEEE 1588-2019 PAD TLV: our requests carry it so the response fits in their size. */
export const TLV_PAD = 0x8008;

const REQUEST_TLV_VALUE = 4;
const RESPONSE_TLV_VALUE = 18;
const STATUS_TLV_VALUE = 18;

/** Request flag: send a CSPTP_STATUS TLV with the response. */
export const REQUEST_FLAG_STATUS = 0x01;
export const REQUEST_FLAG_ALT_TIMESCALE = 0x02;

/** A request with just the request TLV: ntpd-rs's (and ours, before padding). */
export const BARE_REQUEST_LENGTH = PTP_TLV_OFFSET + TLV_HEADER_LENGTH + REQUEST_TLV_VALUE; // 52
/** A one-step response without / with the status TLV. */
export const RESPONSE_LENGTH = PTP_TLV_OFFSET + TLV_HEADER_LENGTH + RESPONSE_TLV_VALUE; // 66
export const STATUS_RESPONSE_LENGTH = RESPONSE_LENGTH + TLV_HEADER_LENGTH + STATUS_TLV_VALUE; // 88
/** A follow-up has no TLVs. */
export const FOLLOW_UP_LENGTH = PTP_TLV_OFFSET; // 44

/**
 * TAI − UTC used to put system (UTC) times on the PTP timescale and back: a fixed
 * 37 s, as ntpd-rs does. Both ends use it, so it cancels out of every offset.
 */
export const PTP_UTC_OFFSET_SECONDS = 37;

/** A PTP timestamp: seconds (48 bits) and nanoseconds (< 1e9). */
export interface PtpTimestamp {
  seconds: number;
  nanoseconds: number;
}

export interface PtpFlags {
  twoStep: boolean;
  unicast: boolean;
  leap61: boolean;
  leap59: boolean;
  currentUtcOffsetValid: boolean;
  ptpTimescale: boolean;
  timeTraceable: boolean;
  frequencyTraceable: boolean;
  synchronizationUncertain: boolean;
}

export interface PtpHeader {
  messageType: number;
  domain: number;
  flags: PtpFlags;
  /** correctionField in ns × 2^16. */
  correction: bigint;
  sequenceId: number;
}

export interface ClockQuality {
  clockClass: number;
  clockAccuracy: number;
  offsetScaledLogVariance: number;
}

export interface CsptpStatus {
  priority1: number;
  clockQuality: ClockQuality;
  priority2: number;
  stepsRemoved: number;
  currentUtcOffset: number;
  /** 8 octets. */
  grandmasterIdentity: Uint8Array;
}

export type CsptpMessage =
  | { kind: "request"; header: PtpHeader; wantsStatus: boolean; altTimescale: boolean }
  | {
      kind: "response";
      header: PtpHeader;
      /** T3 of a one-step response; zero in a two-step one. */
      originTimestamp: PtpTimestamp;
      /** T2: when the server received the request. */
      requestIngress: PtpTimestamp;
      /** The request's correctionField, echoed. */
      requestCorrection: bigint;
      status: CsptpStatus | null;
    }
  | { kind: "follow-up"; header: PtpHeader; preciseOriginTimestamp: PtpTimestamp };

/** Why a datagram is not a CSPTP message. */
export type CsptpDropReason =
  | "length" // shorter than a header, or messageLength beyond the datagram or below 44
  | "version" // versionPTP is not 2
  | "sdo-id" // not sdoId 0x300
  | "message-type" // neither Sync nor FollowUp
  | "timestamp" // nanoseconds ≥ 1e9
  | "tlv" // TLVs do not add up to messageLength, or an odd TLV length
  | "csptp-tlv"; // a Sync without exactly one valid request or response TLV

export type CsptpParse =
  { ok: true; message: CsptpMessage } | { ok: false; reason: CsptpDropReason };

function drop(reason: CsptpDropReason): CsptpParse {
  return { ok: false, reason };
}

function readTimestamp(view: DataView, at: number): PtpTimestamp | null {
  const seconds = view.getUint16(at) * 2 ** 32 + view.getUint32(at + 2);
  const nanoseconds = view.getUint32(at + 6);
  if (nanoseconds >= 1_000_000_000) return null;
  return { seconds, nanoseconds };
}

function readFlags(b6: number, b7: number): PtpFlags {
  return {
    twoStep: (b6 & 0x02) !== 0,
    unicast: (b6 & 0x04) !== 0,
    leap61: (b7 & 0x01) !== 0,
    leap59: (b7 & 0x02) !== 0,
    currentUtcOffsetValid: (b7 & 0x04) !== 0,
    ptpTimescale: (b7 & 0x08) !== 0,
    timeTraceable: (b7 & 0x10) !== 0,
    frequencyTraceable: (b7 & 0x20) !== 0,
    synchronizationUncertain: (b7 & 0x40) !== 0,
  };
}

function readStatus(bytes: Uint8Array, view: DataView, at: number): CsptpStatus {
  return {
    priority1: bytes[at]!,
    clockQuality: {
      clockClass: bytes[at + 1]!,
      clockAccuracy: bytes[at + 2]!,
      offsetScaledLogVariance: view.getUint16(at + 3),
    },
    priority2: bytes[at + 5]!,
    stepsRemoved: view.getUint16(at + 6),
    currentUtcOffset: view.getInt16(at + 8),
    grandmasterIdentity: bytes.slice(at + 10, at + 18),
  };
}

/**
 * Parses a datagram; `length` is its real length (`bytes` may be a larger
 * receive buffer). Bounded: one pass over at most `length` octets.
 */
export function parseCsptp(bytes: Uint8Array, length = bytes.length): CsptpParse {
  const size = Math.min(length, bytes.length);
  if (size < PTP_HEADER_LENGTH) return drop("length");
  const view = new DataView(bytes.buffer, bytes.byteOffset, size);
  if ((bytes[1]! & 0x0f) !== 2) return drop("version");
  if (bytes[0]! >> 4 !== MAJOR_SDO_ID || bytes[5] !== MINOR_SDO_ID) return drop("sdo-id");
  const messageType = bytes[0]! & 0x0f;
  if (messageType !== MESSAGE_TYPE_SYNC && messageType !== MESSAGE_TYPE_FOLLOW_UP) {
    return drop("message-type");
  }
  const messageLength = view.getUint16(2);
  if (messageLength < PTP_TLV_OFFSET || messageLength > size) return drop("length");
  const header: PtpHeader = {
    messageType,
    domain: bytes[4]!,
    flags: readFlags(bytes[6]!, bytes[7]!),
    correction: view.getBigInt64(8),
    sequenceId: view.getUint16(30),
  };
  const origin = readTimestamp(view, PTP_HEADER_LENGTH);
  if (origin === null) return drop("timestamp");

  // TLVs: walk them once, remembering the CSPTP ones.
  let requests = 0;
  let responses = 0;
  let requestFlags = -1;
  let responseAt = -1;
  let statusAt = -1;
  let at = PTP_TLV_OFFSET;
  while (messageLength - at >= TLV_HEADER_LENGTH) {
    const type = view.getUint16(at);
    const valueLength = view.getUint16(at + 2);
    const value = at + TLV_HEADER_LENGTH;
    if (valueLength % 2 !== 0 || value + valueLength > messageLength) return drop("tlv");
    if (type === TLV_CSPTP_REQUEST) {
      requests++;
      if (valueLength >= 1) requestFlags = bytes[value]!;
    } else if (type === TLV_CSPTP_RESPONSE) {
      responses++;
      if (valueLength >= RESPONSE_TLV_VALUE) responseAt = value;
    } else if (type === TLV_CSPTP_STATUS) {
      if (statusAt < 0 && valueLength >= STATUS_TLV_VALUE) statusAt = value;
    }
    at = value + valueLength;
  }
  if (at !== messageLength) return drop("tlv");

  if (messageType === MESSAGE_TYPE_FOLLOW_UP) {
    return { ok: true, message: { kind: "follow-up", header, preciseOriginTimestamp: origin } };
  }
  if (requests + responses !== 1) return drop("csptp-tlv");
  if (requests === 1) {
    if (requestFlags < 0) return drop("csptp-tlv");
    return {
      ok: true,
      message: {
        kind: "request",
        header,
        wantsStatus: (requestFlags & REQUEST_FLAG_STATUS) !== 0,
        altTimescale: (requestFlags & REQUEST_FLAG_ALT_TIMESCALE) !== 0,
      },
    };
  }
  if (responseAt < 0) return drop("csptp-tlv");
  const requestIngress = readTimestamp(view, responseAt);
  if (requestIngress === null) return drop("timestamp");
  return {
    ok: true,
    message: {
      kind: "response",
      header,
      originTimestamp: origin,
      requestIngress,
      requestCorrection: view.getBigInt64(responseAt + 10),
      status: statusAt < 0 ? null : readStatus(bytes, view, statusAt),
    },
  };
}

// ---- encoding -------------------------------------------------------------

export interface HeaderFields {
  messageType: number;
  domain: number;
  sequenceId: number;
  /** Flags other than unicast (always set); absent ones are clear. */
  flags?: Partial<PtpFlags>;
}

function writeHeader(view: DataView, messageLength: number, h: HeaderFields): void {
  const f = h.flags ?? {};
  view.setUint8(0, (MAJOR_SDO_ID << 4) | h.messageType);
  view.setUint8(1, VERSION_OCTET);
  view.setUint16(2, messageLength);
  view.setUint8(4, h.domain);
  view.setUint8(5, MINOR_SDO_ID);
  view.setUint8(6, (f.twoStep === true ? 0x02 : 0) | 0x04);
  view.setUint8(
    7,
    (f.leap61 === true ? 0x01 : 0) |
      (f.leap59 === true ? 0x02 : 0) |
      (f.currentUtcOffsetValid === true ? 0x04 : 0) |
      (f.ptpTimescale === true ? 0x08 : 0) |
      (f.timeTraceable === true ? 0x10 : 0) |
      (f.frequencyTraceable === true ? 0x20 : 0) |
      (f.synchronizationUncertain === true ? 0x40 : 0),
  );
  // correctionField, messageTypeSpecific and sourcePortIdentity: zero.
  for (let i = 8; i < 30; i++) view.setUint8(i, 0);
  view.setUint16(30, h.sequenceId);
  view.setUint8(32, 0);
  view.setUint8(33, LOG_MESSAGE_INTERVAL);
}

function writeTimestamp(view: DataView, at: number, t: PtpTimestamp): void {
  view.setUint16(at, Math.floor(t.seconds / 2 ** 32) & 0xffff);
  view.setUint32(at + 2, t.seconds % 2 ** 32);
  view.setUint32(at + 6, t.nanoseconds);
}

function viewOf(buffer: Uint8Array, length: number): DataView {
  if (buffer.length < length) throw new RangeError(`CSPTP buffer needs ${length} octets`);
  return new DataView(buffer.buffer, buffer.byteOffset, length);
}

const ZERO_TIME: PtpTimestamp = { seconds: 0, nanoseconds: 0 };

export interface RequestFields {
  domain: number;
  sequenceId: number;
  wantsStatus: boolean;
  /** Total length to pad to with a PAD TLV (≥ 52 + 4, even); none below that. */
  padTo?: number;
}

/** Writes a request into `buffer`; returns its length. */
export function encodeRequest(buffer: Uint8Array, r: RequestFields): number {
  const pad = r.padTo !== undefined && r.padTo >= BARE_REQUEST_LENGTH + TLV_HEADER_LENGTH;
  const length = pad ? r.padTo! : BARE_REQUEST_LENGTH;
  if (length % 2 !== 0) throw new RangeError("a CSPTP request has an even length");
  const view = viewOf(buffer, length);
  writeHeader(view, length, {
    messageType: MESSAGE_TYPE_SYNC,
    domain: r.domain,
    sequenceId: r.sequenceId,
  });
  writeTimestamp(view, PTP_HEADER_LENGTH, ZERO_TIME);
  let at = PTP_TLV_OFFSET;
  view.setUint16(at, TLV_CSPTP_REQUEST);
  view.setUint16(at + 2, REQUEST_TLV_VALUE);
  view.setUint32(at + 4, r.wantsStatus ? REQUEST_FLAG_STATUS << 24 : 0);
  at += TLV_HEADER_LENGTH + REQUEST_TLV_VALUE;
  if (pad) {
    view.setUint16(at, TLV_PAD);
    view.setUint16(at + 2, length - at - TLV_HEADER_LENGTH);
    for (let i = at + TLV_HEADER_LENGTH; i < length; i++) view.setUint8(i, 0);
  }
  return length;
}

export interface ResponseFields {
  domain: number;
  sequenceId: number;
  flags: Partial<PtpFlags>;
  /** T3 (one-step), or zero with flags.twoStep. */
  originTimestamp: PtpTimestamp;
  requestIngress: PtpTimestamp;
  requestCorrection: bigint;
  status: CsptpStatus | null;
}

/** Writes a Sync response into `buffer`; returns its length (66, or 88 with status). */
export function encodeResponse(buffer: Uint8Array, r: ResponseFields): number {
  const length = r.status === null ? RESPONSE_LENGTH : STATUS_RESPONSE_LENGTH;
  const view = viewOf(buffer, length);
  writeHeader(view, length, {
    messageType: MESSAGE_TYPE_SYNC,
    domain: r.domain,
    sequenceId: r.sequenceId,
    flags: r.flags,
  });
  writeTimestamp(view, PTP_HEADER_LENGTH, r.originTimestamp);
  let at = PTP_TLV_OFFSET;
  view.setUint16(at, TLV_CSPTP_RESPONSE);
  view.setUint16(at + 2, RESPONSE_TLV_VALUE);
  writeTimestamp(view, at + 4, r.requestIngress);
  view.setBigInt64(at + 14, r.requestCorrection);
  at += TLV_HEADER_LENGTH + RESPONSE_TLV_VALUE;
  if (r.status !== null) {
    const s = r.status;
    view.setUint16(at, TLV_CSPTP_STATUS);
    view.setUint16(at + 2, STATUS_TLV_VALUE);
    view.setUint8(at + 4, s.priority1);
    view.setUint8(at + 5, s.clockQuality.clockClass);
    view.setUint8(at + 6, s.clockQuality.clockAccuracy);
    view.setUint16(at + 7, s.clockQuality.offsetScaledLogVariance);
    view.setUint8(at + 9, s.priority2);
    view.setUint16(at + 10, s.stepsRemoved);
    view.setInt16(at + 12, s.currentUtcOffset);
    for (let i = 0; i < 8; i++) view.setUint8(at + 14 + i, s.grandmasterIdentity[i] ?? 0);
  }
  return length;
}

/** Rewrites the origin timestamp (T3) of an encoded one-step response, right before the send. */
export function writeOriginTimestamp(buffer: Uint8Array, t: PtpTimestamp): void {
  writeTimestamp(viewOf(buffer, PTP_TLV_OFFSET), PTP_HEADER_LENGTH, t);
}

/** Writes a follow-up (for tests and a two-step sender); returns its length (44). */
export function encodeFollowUp(
  buffer: Uint8Array,
  f: { domain: number; sequenceId: number; preciseOriginTimestamp: PtpTimestamp },
): number {
  const view = viewOf(buffer, FOLLOW_UP_LENGTH);
  writeHeader(view, FOLLOW_UP_LENGTH, {
    messageType: MESSAGE_TYPE_FOLLOW_UP,
    domain: f.domain,
    sequenceId: f.sequenceId,
    flags: { twoStep: true },
  });
  writeTimestamp(view, PTP_HEADER_LENGTH, f.preciseOriginTimestamp);
  return FOLLOW_UP_LENGTH;
}

// ---- times ----------------------------------------------------------------

/** A system (UTC, Unix) time as a PTP timestamp. */
export function ptpFromUnix(unixSeconds: number, nanoseconds: number): PtpTimestamp {
  return { seconds: unixSeconds + PTP_UTC_OFFSET_SECONDS, nanoseconds };
}

/** A PTP timestamp plus a correctionField (ns × 2^16), as Unix seconds and nanoseconds. */
export function unixFromPtp(t: PtpTimestamp, correction = 0n): { sec: number; nsec: number } {
  // Whole nanoseconds of the correction (its sub-nanosecond part is below anything we measure).
  const corr = correction >> 16n;
  const total = BigInt(t.nanoseconds) + corr;
  const carry = total >= 0n ? total / 1_000_000_000n : -((-total + 999_999_999n) / 1_000_000_000n);
  const nsec = Number(total - carry * 1_000_000_000n);
  return { sec: t.seconds - PTP_UTC_OFFSET_SECONDS + Number(carry), nsec };
}
