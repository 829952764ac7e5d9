// CSPTP (proto/csptp) over any datagram: parseCsptp gives a message or a known
// drop reason, never a throw; the server's answer to it is never larger than it
// and is itself a valid response to the same sequence id; a client with an
// exchange open takes it without throwing, and a measurement it gives is finite.

import { CSPTP_REQUEST_BUFFER, CsptpClient } from "../../src/proto/csptp/client.js";
import { handleCsptpRequest, type CsptpServerState } from "../../src/proto/csptp/server.js";
import {
  encodeFollowUp,
  encodeRequest,
  encodeResponse,
  parseCsptp,
  PTP_TLV_OFFSET,
  STATUS_RESPONSE_LENGTH,
  TLV_CSPTP_REQUEST,
  TLV_CSPTP_RESPONSE,
  TLV_CSPTP_STATUS,
  TLV_PAD,
} from "../../src/proto/csptp/wire.js";
import { NtpTimestamp } from "../../src/proto/time.js";
import { check, type FuzzTarget } from "../engine/target.js";

const REASONS = new Set([
  "length",
  "version",
  "sdo-id",
  "message-type",
  "timestamp",
  "tlv",
  "csptp-tlv",
]);

const STATE: CsptpServerState = {
  leap: 0,
  unsynchronized: false,
  ptpTimescale: true,
  timeTraceable: false,
  frequencyTraceable: false,
  status: {
    priority1: 128,
    clockQuality: { clockClass: 248, clockAccuracy: 0xfe, offsetScaledLogVariance: 0x6900 },
    priority2: 128,
    stepsRemoved: 0,
    currentUtcOffset: 0,
    grandmasterIdentity: new Uint8Array(8),
  },
};
const INGRESS = { seconds: 1_800_000_037, nanoseconds: 123 };
const reply = new Uint8Array(STATUS_RESPONSE_LENGTH);

function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const take = (f: (b: Uint8Array) => number) => {
    const b = new Uint8Array(128);
    out.push(b.slice(0, f(b)));
  };
  take((b) => encodeRequest(b, { domain: 128, sequenceId: 0, wantsStatus: true }));
  take((b) => encodeRequest(b, { domain: 200, sequenceId: 1, wantsStatus: true, padTo: 88 }));
  take((b) => encodeRequest(b, { domain: 128, sequenceId: 0, wantsStatus: false, padTo: 66 }));
  const response = {
    domain: 128,
    sequenceId: 0,
    flags: {},
    originTimestamp: INGRESS,
    requestIngress: INGRESS,
    requestCorrection: 5n,
  };
  take((b) => encodeResponse(b, { ...response, status: STATE.status }));
  take((b) => encodeResponse(b, { ...response, flags: { twoStep: true }, status: null }));
  take((b) => encodeFollowUp(b, { domain: 128, sequenceId: 0, preciseOriginTimestamp: INGRESS }));
  return out;
}

export const csptp: FuzzTarget = {
  name: "csptp",
  description:
    "parseCsptp: message or known drop reason; server answers ≤ request and valid; client never throws",
  kind: "bytes",
  maxLength: 512,
  layout: {
    start: PTP_TLV_OFFSET,
    headerLength: 4,
    lengthIncludesHeader: false,
    align: 2,
    types: [TLV_CSPTP_REQUEST, TLV_CSPTP_RESPONSE, TLV_CSPTP_STATUS, TLV_PAD],
  },
  seeds,
  run(input) {
    const parsed = parseCsptp(input);
    if (!parsed.ok) {
      check(REASONS.has(parsed.reason), `unknown drop reason ${parsed.reason}`);
    } else {
      check(input.length >= PTP_TLV_OFFSET, `accepted ${input.length} octets`);
    }
    const answer = handleCsptpRequest(input, input.length, INGRESS, STATE, reply);
    if (answer.kind === "response") {
      check(parsed.ok && parsed.message.kind === "request", "answered a non-request");
      check(answer.length <= input.length, `answer ${answer.length} > request ${input.length}`);
      const back = parseCsptp(reply, answer.length);
      check(back.ok && back.message.kind === "response", "the answer is not a response");
      if (parsed.ok && back.ok) {
        check(back.message.header.sequenceId === parsed.message.header.sequenceId, "sequence id");
      }
    }
    if (!parsed.ok) return;
    const client = new CsptpClient({ domain: parsed.message.header.domain, responseInterval: 5 });
    for (let i = 0; i < parsed.message.header.sequenceId % 4; i++) {
      client.request(new Uint8Array(CSPTP_REQUEST_BUFFER));
    }
    client.request(new Uint8Array(CSPTP_REQUEST_BUFFER));
    client.sent(NtpTimestamp.fromUnix(1_800_000_000, 0), 0);
    for (let i = 0; i < 2; i++) {
      const event = client.receive(parsed.message, NtpTimestamp.fromUnix(1_800_000_000, 5000));
      if (event.kind === "measurement") {
        const m = event.measurement;
        check(Number.isFinite(m.offset) && Number.isFinite(m.delay), "non-finite measurement");
        check(m.delay > 0, "delay not positive");
      }
    }
  },
};
