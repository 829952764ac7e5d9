// ExtensionFieldReader (the one place of the RFC 7822 framing rules) on any
// bytes, with and without a legacy MAC allowed: fields are contiguous, inside
// the buffer, 4-aligned, at most maxFields; each re-encodes to its own bytes.

import {
  encodeExtensionField,
  ExtensionFieldReader,
} from "../../src/proto/packet/extension-fields.js";
import { check, sameBytes, type FuzzTarget } from "../engine/target.js";
import { seedsWhere } from "../seeds.js";
import { EF_TYPES } from "./layouts.js";

const reader = new ExtensionFieldReader();
const scratch = new Uint8Array(70000);
const MAX_FIELDS = 16;

function walk(input: Uint8Array, start: number, legacyMacAllowed: boolean): void {
  reader.reset(input, start, input.length, legacyMacAllowed, MAX_FIELDS);
  let expected = start;
  let count = 0;
  while (reader.next()) {
    count++;
    check(count <= MAX_FIELDS, "more fields than maxFields");
    check(reader.fieldOffset === expected, "fields are not contiguous");
    check(
      reader.fieldLength >= 4 && reader.fieldLength % 4 === 0,
      `field length ${reader.fieldLength}`,
    );
    check(reader.fieldOffset + reader.fieldLength <= input.length, "field runs past the end");
    check(reader.valueLength === reader.fieldLength - 4, "value length");
    const value = input.subarray(reader.valueOffset, reader.valueOffset + reader.valueLength);
    const n = encodeExtensionField(reader.type, value, 0, scratch, 0);
    check(
      sameBytes(
        scratch.subarray(0, n),
        input.subarray(reader.fieldOffset, reader.fieldOffset + reader.fieldLength),
      ),
      "field does not re-encode to its bytes",
    );
    expected += reader.fieldLength;
  }
  if (reader.error === null) {
    check(reader.trailingOffset === expected, "trailing offset is not after the last field");
    const rest = input.length - reader.trailingOffset;
    check(
      legacyMacAllowed ? rest === 0 || (rest >= 4 && rest <= 24) : rest === 0,
      `${rest} octets left without error`,
    );
  }
}

export const extensionFields: FuzzTarget = {
  name: "extension-fields",
  description:
    "ExtensionFieldReader: contiguous in-bounds 4-aligned fields, bounded count, each re-encodes to its bytes",
  kind: "bytes",
  maxLength: 2048,
  layout: { start: 0, headerLength: 4, lengthIncludesHeader: true, align: 4, types: EF_TYPES },
  seeds: () => seedsWhere(/./, (b) => b.length >= 48).map((b) => b.subarray(48)),
  run(input) {
    walk(input, 0, true);
    walk(input, 0, false);
  },
};
