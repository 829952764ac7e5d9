// The seam where a request is protected and a response authenticated. Plain
// NTP uses the no-op `PLAIN_NTP` below; NTS (RFC 8915) plugs in an
// implementation that appends the Unique Identifier, cookie, cookie
// placeholder and authenticator extension fields and verifies the reply's
// AEAD and UID (and stores the new cookies it carries).

import type { NtpPacket } from "../packet/types.js";

/** What the protector concluded about a response whose origin already matched. */
export type ResponseVerdict =
  | {
      ok: true;
      /**
       * True when the response is cryptographically bound to our request (NTS).
       * Only an authenticated DENY/RSTR kiss demobilizes the source at once.
       */
      authenticated: boolean;
    }
  | { ok: false; reason: string };

export interface RequestProtector {
  /**
   * Completes a request: given the 48-octet header (random transmit timestamp
   * or NTPv5 client cookie in place; the protector must not change it),
   * possibly followed by NTPv5 fields of the request, returns the datagram to
   * send: the header, the protector's fields, then those NTPv5 fields. Returns null when no request
   * can be built (NTS: no cookie left); the source then asks to be reset.
   */
  finishRequest(header: Uint8Array): Uint8Array | null;

  /**
   * The NTP version a key exchange agreed on (NTS-KE next protocol 0 → 4,
   * 0x8001 → 5): the source speaks it, whatever its `ntp-version` says.
   * Undefined: the source's own setting applies.
   */
  readonly ntpVersion?: 4 | 5;

  /**
   * Checks a parsed response (mode, version and origin already verified).
   * `bytes[0..length)` is the datagram, for AEAD verification. Never throws on
   * bad input: returns `{ ok: false }`. Under NTS an unauthenticated response
   * must be refused here, except the kisses the protector chooses to pass
   * unauthenticated (NTSN).
   */
  checkResponse(packet: NtpPacket, bytes: Uint8Array, length: number): ResponseVerdict;
}

/** Plain, unauthenticated NTP: the request is the bare header, every response passes. */
export const PLAIN_NTP: RequestProtector = Object.freeze({
  finishRequest(header: Uint8Array): Uint8Array {
    return header;
  },
  checkResponse(): ResponseVerdict {
    return { ok: true, authenticated: false };
  },
});
