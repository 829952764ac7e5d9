// The decoded shape of an NTP packet (RFC 5905 §7.3, RFC 7822). This file is
// the contract between the codec and its users (client source, server).

import type { NtpTimestamp } from "../time.js";

export const NTP_HEADER_LENGTH = 48;

/** 0 no warning, 1 last minute has 61 s, 2 last minute has 59 s, 3 unsynchronized. */
export type LeapIndicator = 0 | 1 | 2 | 3;

/** Association modes (RFC 5905 §3). Only Client and Server are used here. */
export const NtpMode = {
  Reserved: 0,
  SymmetricActive: 1,
  SymmetricPassive: 2,
  Client: 3,
  Server: 4,
  Broadcast: 5,
  Control: 6,
  Private: 7,
} as const;

export interface NtpHeader {
  leap: LeapIndicator;
  /** 0..7 as on the wire; the codec does not judge it (callers do). */
  version: number;
  /** 0..7, see NtpMode. */
  mode: number;
  stratum: number;
  /** Signed log2 seconds. */
  poll: number;
  /** Signed log2 seconds. */
  precision: number;
  /** Seconds, from the 16.16 short format. */
  rootDelay: number;
  /** Seconds, from the 16.16 short format. */
  rootDispersion: number;
  /** The 32-bit reference id as an unsigned number. */
  referenceId: number;
  referenceTimestamp: NtpTimestamp;
  originTimestamp: NtpTimestamp;
  receiveTimestamp: NtpTimestamp;
  transmitTimestamp: NtpTimestamp;
}

/** One extension field: its type and its value (padding included, as on the wire). */
export interface ExtensionField {
  type: number;
  /** The bytes after the 4-byte field header, up to the field's length. */
  value: Uint8Array;
  /** Offset of the field header within the packet (NTS needs it for the AAD). */
  offset: number;
}

/** A legacy symmetric-key MAC (key id + digest): tolerated, never verified. */
export interface LegacyMac {
  keyId: number;
  digest: Uint8Array;
}

export interface NtpPacket {
  header: NtpHeader;
  extensionFields: ExtensionField[];
  mac: LegacyMac | null;
}

export type PacketErrorCode =
  | "too-short" // fewer than 48 octets
  | "bad-length" // not a multiple of 4, or above the size limit
  | "bad-extension-field" // a field length that breaks RFC 7822 framing
  | "too-many-extension-fields"
  | "bad-mac"; // trailing bytes that are no valid legacy MAC

export interface PacketError {
  code: PacketErrorCode;
  message: string;
}

export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: PacketError };
