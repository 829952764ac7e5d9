// One allocation-free pass over the extension fields of an NTPv4 request,
// noting what the server needs (RFC 8915 §5.7, ntpd-rs.md §4.8):
//
//   * every Unique Identifier outside the encrypted part (plain replies and NTS
//     NAKs echo them all; an NTS reply only those before the authenticator,
//     which always come first in the list);
//   * the Cookie fields before the first authenticator (exactly one makes an
//     NTS request) and the cookie/placeholder "slots" there, each of which may
//     be answered with a new cookie no longer than it;
//   * the first authenticator and how many there are.
//
// Fields after the first authenticator are untrusted: only their UIDs are
// noted (for the unauthenticated echo of a NAK or plain reply). The framing
// rules are those of ExtensionFieldReader (the one place they live).

import { ExtensionFieldReader } from "../../packet/extension-fields.js";
import type { PacketErrorCode } from "../../packet/types.js";
import { NtsFieldType, UNIQUE_IDENTIFIER_MIN_LENGTH } from "./fields.js";

export class NtsFieldScanner {
  private readonly reader = new ExtensionFieldReader();

  /** Unique Identifier fields (outside the encrypted part), in packet order. */
  uidCount = 0;
  /** Offset of each UID field's header. */
  readonly uidOffsets: Int32Array;
  /** Whole length of each UID field. */
  readonly uidLengths: Int32Array;
  /** Octets of all UID fields together. */
  uidBytes = 0;
  /** How many of the first UIDs precede the first authenticator (are authenticated). */
  authenticatedUidCount = 0;
  /** Octets of those. */
  authenticatedUidBytes = 0;

  /** Cookie fields before the first authenticator. */
  cookieCount = 0;
  /** Value offset and length (padding included) of the first of them. */
  cookieValueOffset = 0;
  cookieValueLength = 0;

  /** Cookie and placeholder fields before the first authenticator, in order. */
  slotCount = 0;
  /** Value length (padding included) of each slot: the longest new cookie it pays for. */
  readonly slotLengths: Int32Array;

  /** Authenticator fields anywhere in the packet. */
  authenticatorCount = 0;
  /** Field offset and value length of the first authenticator. */
  authenticatorOffset = -1;
  authenticatorValueLength = 0;

  /** Set when scan() returned false: the framing is broken. */
  error: PacketErrorCode | null = null;

  /** `maxFields`: most fields read (one more is an error), also the size of the arrays. */
  constructor(readonly maxFields: number) {
    this.uidOffsets = new Int32Array(maxFields);
    this.uidLengths = new Int32Array(maxFields);
    this.slotLengths = new Int32Array(maxFields);
  }

  /** Forgets the last scan (a packet without extension fields). */
  clear(): void {
    this.uidCount = 0;
    this.uidBytes = 0;
    this.authenticatedUidCount = 0;
    this.authenticatedUidBytes = 0;
    this.cookieCount = 0;
    this.cookieValueOffset = 0;
    this.cookieValueLength = 0;
    this.slotCount = 0;
    this.authenticatorCount = 0;
    this.authenticatorOffset = -1;
    this.authenticatorValueLength = 0;
    this.error = null;
  }

  /**
   * Scans the fields in `bytes[start..end)`. `legacyMacAllowed`: a whole NTPv4
   * packet, whose last 4..24 octets may be a legacy MAC (ExtensionFieldReader).
   * `v5`: NTPv5 framing (ExtensionFieldReader). Returns false when the
   * framing is broken (see `error`). Never throws.
   */
  scan(
    bytes: Uint8Array,
    start: number,
    end: number,
    legacyMacAllowed = true,
    v5 = false,
  ): boolean {
    this.clear();
    const reader = this.reader;
    reader.reset(bytes, start, end, legacyMacAllowed, this.maxFields, v5);
    let before = true;
    while (reader.next()) {
      switch (reader.type) {
        case NtsFieldType.UniqueIdentifier:
          // One shorter than RFC 8915 allows is not echoed: echoed as the last
          // field of a reply, it would break RFC 7822's 28-octet minimum for
          // a last field (found by the server-handle fuzz target).
          if (reader.valueLength < UNIQUE_IDENTIFIER_MIN_LENGTH) break;
          this.uidOffsets[this.uidCount] = reader.fieldOffset;
          this.uidLengths[this.uidCount] = reader.fieldLength;
          this.uidCount++;
          this.uidBytes += reader.fieldLength;
          if (before) {
            this.authenticatedUidCount = this.uidCount;
            this.authenticatedUidBytes = this.uidBytes;
          }
          break;
        case NtsFieldType.Cookie:
          if (!before) break;
          if (this.cookieCount === 0) {
            this.cookieValueOffset = reader.valueOffset;
            this.cookieValueLength = reader.valueLength;
          }
          this.cookieCount++;
          this.slotLengths[this.slotCount++] = reader.valueLength;
          break;
        case NtsFieldType.CookiePlaceholder:
          if (before) this.slotLengths[this.slotCount++] = reader.valueLength;
          break;
        case NtsFieldType.Authenticator:
          if (before) {
            this.authenticatorOffset = reader.fieldOffset;
            this.authenticatorValueLength = reader.valueLength;
            before = false;
          }
          this.authenticatorCount++;
          break;
        default:
          break;
      }
    }
    this.error = reader.error;
    return reader.error === null;
  }
}
