// parsePacket over any datagram: a packet or a typed PacketError, never a
// throw; an accepted packet serializes back to exactly the input bytes and
// respects the bounds (≤ 2048 octets, ≤ 32 extension fields, MAC 4..24).

import {
  MAX_EXTENSION_FIELDS,
  MAX_NTP_PACKET_LENGTH,
  parsePacket,
  serializePacket,
} from "../../src/proto/packet/parse.js";
import { check, sameBytes, type FuzzTarget } from "../engine/target.js";
import { seedsWhere } from "../seeds.js";
import { EF_TYPES } from "./layouts.js";

const ERROR_CODES = new Set([
  "too-short",
  "bad-length",
  "bad-extension-field",
  "bad-mac",
  "too-many-extension-fields",
]);
const out = new Uint8Array(4096);

export const ntpPacket: FuzzTarget = {
  name: "ntp-packet",
  description:
    "parsePacket: packet or typed error; accepted packets re-serialize to the same bytes; bounds hold",
  kind: "bytes",
  maxLength: MAX_NTP_PACKET_LENGTH + 64,
  layout: { start: 48, headerLength: 4, lengthIncludesHeader: true, align: 4, types: EF_TYPES },
  seeds: () => seedsWhere(/./, (b) => b.length >= 48),
  run(input) {
    const result = parsePacket(input);
    if (!result.ok) {
      check(ERROR_CODES.has(result.error.code), `unknown error code ${result.error.code}`);
      check(
        typeof result.error.message === "string" && result.error.message.length > 0,
        "empty message",
      );
      return;
    }
    const packet = result.value;
    check(input.length <= MAX_NTP_PACKET_LENGTH, `accepted ${input.length} octets`);
    check(packet.extensionFields.length <= MAX_EXTENSION_FIELDS, "too many fields accepted");
    if (packet.mac !== null) {
      check(packet.mac.digest.length <= 20, "MAC digest over 20 octets");
    }
    const n = serializePacket(packet, out);
    check(sameBytes(out.subarray(0, n), input), "serialize(parse(x)) differs from x");
  },
};
