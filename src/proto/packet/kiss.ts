// Kiss-o'-Death codes (RFC 5905 §7.4, RFC 8915 §5.7; NTP.md §6). A reply
// with stratum 0 is a kiss; its reference id carries four ASCII characters.

import { referenceIdFromAscii, referenceIdToAscii } from "./reference-id.js";
import type { NtpHeader } from "./types.js";

/** The kiss codes an implementation acts on, as reference ids. */
export const kissCodes = {
  /** Access denied: stop sending to this server. */
  DENY: referenceIdFromAscii("DENY"),
  /** Access denied by local policy: stop sending. */
  RSTR: referenceIdFromAscii("RSTR"),
  /** Rate exceeded: poll less often. */
  RATE: referenceIdFromAscii("RATE"),
  /** NTS negative acknowledgement: the cookie could not be used. */
  NTSN: referenceIdFromAscii("NTSN"),
} as const;

/** Every code RFC 5905 Figure 13 lists, plus NTSN (RFC 8915). */
export const KNOWN_KISS_CODES: readonly string[] = [
  "ACST",
  "AUTH",
  "AUTO",
  "BCST",
  "CRYP",
  "DENY",
  "DROP",
  "RSTR",
  "INIT",
  "MCST",
  "NKEY",
  "NTSN",
  "RATE",
  "RMOT",
  "STEP",
];

/**
 * The kiss code of a packet: null unless stratum is 0. For stratum 0 the
 * reference id as ASCII (trailing NULs/spaces dropped); a reference id that is
 * not printable ASCII comes back as 8 hex digits, so a caller can still log it
 * and compare it against nothing it knows.
 */
export function kissCode(header: Pick<NtpHeader, "stratum" | "referenceId">): string | null {
  if (header.stratum !== 0) return null;
  const ascii = referenceIdToAscii(header.referenceId);
  if (ascii !== null) return ascii;
  return (header.referenceId >>> 0).toString(16).padStart(8, "0");
}

/** True for a stratum-0 packet carrying `code` (a key of kissCodes). */
export function isKiss(
  header: Pick<NtpHeader, "stratum" | "referenceId">,
  code: keyof typeof kissCodes,
): boolean {
  return header.stratum === 0 && header.referenceId >>> 0 === kissCodes[code];
}
