// parseV5Packet over any datagram: a packet or a typed error, never a throw;
// an accepted packet is within the bounds (≤ 2048 octets, ≤ 32 fields), has a
// valid v5 header, carries our draft identification, and its fields tile the
// octets after the header exactly (each field's wire length is its length
// field rounded up to 4).

import { MAX_EXTENSION_FIELDS } from "../../src/proto/packet/parse.js";
import {
  DRAFT_ID,
  MAX_V5_PACKET_LENGTH,
  parseV5Packet,
  V5FieldType,
} from "../../src/proto/packet/v5.js";
import { check, type FuzzTarget } from "../engine/target.js";
import { V5_SEEDS } from "./v5-seeds.js";

const ERROR_CODES = new Set([
  "too-short",
  "bad-length",
  "bad-extension-field",
  "too-many-extension-fields",
  "bad-header",
  "draft-mismatch",
]);

export const ntpV5Packet: FuzzTarget = {
  name: "ntp-v5-packet",
  description:
    "parseV5Packet: packet or typed error; accepted packets are bounded, carry our draft, and their fields tile the packet",
  kind: "bytes",
  maxLength: MAX_V5_PACKET_LENGTH + 64,
  layout: {
    start: 48,
    headerLength: 4,
    lengthIncludesHeader: true,
    align: 4,
    types: [0xf5ff, 0xf501, 0xf503, 0xf504, 0x0104, 0x0204, 0x0304, 0x0404, 0x7777],
  },
  seeds: () => V5_SEEDS(),
  run(input) {
    const result = parseV5Packet(input, input.length);
    if (!result.ok) {
      check(ERROR_CODES.has(result.code), `unknown error code ${result.code}`);
      check(result.message.length > 0, "empty message");
      return;
    }
    const { header, fields } = result.value;
    check(input.length <= MAX_V5_PACKET_LENGTH, `accepted ${input.length} octets`);
    check(fields.length <= MAX_EXTENSION_FIELDS, "too many fields accepted");
    check(header.mode === 3 || header.mode === 4, `mode ${header.mode}`);
    check(header.timescale <= 3 && (header.flags & 0xf8) === 0, "reserved header bits accepted");
    let off = 48;
    for (const f of fields) {
      check(f.offset === off, `field at ${f.offset}, expected ${off}`);
      check(
        f.wireLength === ((4 + f.value.length + 3) & ~3),
        "wire length is not the rounded length",
      );
      off += f.wireLength;
    }
    check(off === input.length, "fields do not end at the packet's end");
    check(
      fields.some(
        (f) =>
          f.type === V5FieldType.DraftIdentification &&
          Buffer.from(f.value).toString("latin1") === DRAFT_ID,
      ),
      "accepted without our draft identification",
    );
  },
};
