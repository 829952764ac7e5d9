// A 48-octet NTPv4 client request (mode 3) with every field zero but those
// given: for tests and benches that build requests by hand (interleaved-form
// requests, for one, which a real NtpSource only sends after a reply).
import { encodeHeader } from "../../src/proto/packet/header.js";
import type { NtpHeader } from "../../src/proto/packet/types.js";
import { NtpTimestamp } from "../../src/proto/time.js";

export function clientRequest(fields: Partial<NtpHeader> = {}): Uint8Array {
  const out = new Uint8Array(48);
  encodeHeader(
    {
      leap: 0,
      version: 4,
      mode: 3,
      stratum: 0,
      poll: 0,
      precision: 0,
      rootDelay: 0,
      rootDispersion: 0,
      referenceId: 0,
      referenceTimestamp: NtpTimestamp.ZERO,
      originTimestamp: NtpTimestamp.ZERO,
      receiveTimestamp: NtpTimestamp.ZERO,
      transmitTimestamp: NtpTimestamp.ZERO,
      ...fields,
    },
    out,
  );
  return out;
}
