// The streaming NTS-KE record decoder on any byte stream, delivered in
// input-dependent chunks: the outcome equals the one-shot decode of the same
// bytes, errors carry a known code, memory stays under the message cap, and
// a decoded message re-encodes to records that decode to the same message.

import { isDeepStrictEqual } from "node:util";
import {
  decodeKeMessage,
  encodeRecord,
  encodeRecords,
  KeMessageDecoder,
  type KeDecodeProgress,
  type KeRecord,
} from "../../src/proto/nts/ke/records.js";
import { check, sameBytes, type FuzzTarget } from "../engine/target.js";
import { seedsWhere } from "../seeds.js";
import { chunks } from "./common.js";
import { KE_TYPES } from "./layouts.js";

const MAX = 1024; // a smaller cap than the default 4096, so the cap is reachable

/** The streamed outcome and the octets pushed until it was decided. */
function stream(input: Uint8Array): { progress: KeDecodeProgress; pushed: number } {
  const decoder = new KeMessageDecoder({ maxMessageLength: MAX });
  let last: KeDecodeProgress = { status: "incomplete" };
  let pushed = 0;
  for (const chunk of chunks(input)) {
    pushed += chunk.length;
    last = decoder.push(chunk);
    if (last.status !== "incomplete") break;
  }
  return { progress: last.status === "incomplete" ? decoder.end() : last, pushed };
}

function canonical(record: KeRecord): KeRecord {
  return record.kind === "unknown" ? record : { ...record, critical: false };
}

/** Records whose body the decoder ignores on purpose (the pool draft, chrony). */
const BODY_IGNORED = new Set(["keep-alive", "compliant-128gcmsiv-context"]);

/** Each record re-encodes to the body it was decoded from (no value silently altered). */
function checkBodies(input: Uint8Array, records: readonly KeRecord[]): void {
  let off = 0;
  for (const record of records) {
    const length = (input[off + 2]! << 8) | input[off + 3]!;
    const body = input.subarray(off + 4, off + 4 + length);
    if (!BODY_IGNORED.has(record.kind)) {
      const encoded = encodeRecord(record).subarray(4);
      check(sameBytes(encoded, body), `record ${record.kind}: body not preserved`);
    }
    off += 4 + length;
  }
}

export const ntsKeRecords: FuzzTarget = {
  name: "nts-ke-records",
  description:
    "KeMessageDecoder (streaming, random chunking) = one-shot decode; typed errors; cap holds; encode∘decode stable",
  kind: "bytes",
  maxLength: 1400,
  layout: { start: 0, headerLength: 4, lengthIncludesHeader: false, align: 1, types: KE_TYPES },
  seeds: () => seedsWhere(/records|messages|response|request|nts_ke|sessions|hex/),
  run(input) {
    const { progress: streamed, pushed } = stream(input);
    const whole = decodeKeMessage(input, { maxMessageLength: MAX });
    check(streamed.status !== "incomplete", "end() left the decoder incomplete");
    if (streamed.status === "error") {
      check(!whole.ok, "streaming failed where one-shot succeeded");
      check(!whole.ok && whole.error.code === streamed.error.code, "different error codes");
      return;
    }
    check(streamed.length <= MAX, "message over the cap accepted");
    check(
      streamed.length + streamed.trailing.length === pushed,
      "length + trailing ≠ octets pushed",
    );
    if (streamed.length < input.length) {
      check(!whole.ok && whole.error.code === "trailing-data", "trailing bytes not reported");
      return;
    }
    check(
      whole.ok && isDeepStrictEqual(whole.value, streamed.records),
      "streamed ≠ one-shot records",
    );
    // The encoder writes each known record's canonical critical bit (RFC 8915
    // §4), whatever the peer sent: compare the records without it.
    const again = decodeKeMessage(encodeRecords(streamed.records), { maxMessageLength: 1 << 20 });
    check(again.ok, `re-encoded message does not decode: ${again.ok ? "" : again.error.message}`);
    check(
      again.ok && isDeepStrictEqual(again.value.map(canonical), streamed.records.map(canonical)),
      "decode∘encode changed the records",
    );
    checkBodies(input, streamed.records);
  },
};
