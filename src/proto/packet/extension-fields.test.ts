// Extension field framing against protocol/vectors/ntp_extension_fields.json
// (bytes copied here) and the reader's framing rules.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  encodeExtensionField,
  extensionFieldLength,
  extensionFieldTypes,
  ExtensionFieldReader,
} from "./extension-fields.js";

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");
const body16 = fromHex("000102030405060708090a0b0c0d0e0f");
const body21 = fromHex("000102030405060708090a0b0c0d0e0f1011121314");

const vectors: { name: string; type: number; body: Uint8Array; min: number; hex: string }[] = [
  {
    name: "Unique Identifier with 16-byte body, no minimum",
    type: extensionFieldTypes.UniqueIdentifier,
    body: body16,
    min: 0,
    hex: "01040014000102030405060708090a0b0c0d0e0f",
  },
  {
    name: "NTS Cookie with 16-byte body, no minimum",
    type: extensionFieldTypes.NtsCookie,
    body: body16,
    min: 0,
    hex: "02040014000102030405060708090a0b0c0d0e0f",
  },
  {
    name: "NTS Cookie Placeholder for a 16-byte cookie",
    type: extensionFieldTypes.NtsCookiePlaceholder,
    body: new Uint8Array(16),
    min: 0,
    hex: "0304001400000000000000000000000000000000",
  },
  {
    name: "Unknown type 42 with 16-byte body",
    type: 42,
    body: body16,
    min: 0,
    hex: "002a0014000102030405060708090a0b0c0d0e0f",
  },
  {
    name: "Unknown type 42 with 21-byte body, minimum 16, NTPv4 framing",
    type: 42,
    body: body21,
    min: 16,
    hex: "002a001c000102030405060708090a0b0c0d0e0f1011121314000000",
  },
];

for (const v of vectors) {
  test(`encode: ${v.name}`, () => {
    const out = new Uint8Array(64).fill(0xee);
    const n = encodeExtensionField(v.type, v.body, v.min, out, 4);
    assert.equal(n, v.hex.length / 2);
    assert.equal(toHex(out.subarray(4, 4 + n)), v.hex);
    assert.equal(out[3], 0xee);
    assert.equal(out[4 + n], 0xee);
  });

  test(`read back: ${v.name}`, () => {
    const bytes = fromHex(v.hex);
    const r = new ExtensionFieldReader();
    r.reset(bytes, 0, bytes.length, false, 8);
    assert.ok(r.next());
    assert.equal(r.type, v.type);
    assert.equal(r.fieldOffset, 0);
    assert.equal(r.fieldLength, bytes.length);
    assert.equal(r.valueOffset, 4);
    assert.deepEqual(bytes.subarray(4, 4 + v.body.length), v.body);
    assert.ok(!r.next());
    assert.equal(r.error, null);
    assert.equal(r.count, 1);
  });
}

test("NTPv5 framing of the 21-byte field differs only in the length octets", () => {
  // ntp_extension_fields.json "Same, NTPv5 framing": length 0x19 = 25 excludes padding.
  const v4 = fromHex("002a001c000102030405060708090a0b0c0d0e0f1011121314000000");
  const v5 = fromHex("002a0019000102030405060708090a0b0c0d0e0f1011121314000000");
  assert.deepEqual(v4.subarray(4), v5.subarray(4));
  // The v4 reader refuses a length that is no multiple of 4.
  const r = new ExtensionFieldReader();
  r.reset(v5, 0, v5.length, false, 8);
  assert.ok(!r.next());
  assert.equal(r.error, "bad-extension-field");
});

test("extensionFieldLength pads to 4 and to the minimum", () => {
  assert.equal(extensionFieldLength(0), 4);
  assert.equal(extensionFieldLength(1), 8);
  assert.equal(extensionFieldLength(16), 20);
  assert.equal(extensionFieldLength(16, 28), 28);
  assert.equal(extensionFieldLength(21, 16), 28);
  assert.equal(extensionFieldLength(0, 13), 16);
  assert.equal(extensionFieldLength(32, 16), 36);
});

test("encodeExtensionField refuses what does not fit or exceeds 65532", () => {
  assert.throws(
    () => encodeExtensionField(1, new Uint8Array(16), 0, new Uint8Array(19), 0),
    RangeError,
  );
  assert.throws(
    () => encodeExtensionField(1, new Uint8Array(16), 0, new Uint8Array(40), 24),
    RangeError,
  );
  assert.throws(
    () => encodeExtensionField(1, new Uint8Array(65529), 0, new Uint8Array(70000), 0),
    RangeError,
  );
  assert.equal(encodeExtensionField(1, new Uint8Array(65528), 0, new Uint8Array(70000), 0), 65532);
});

test("reader: framing errors", () => {
  const r = new ExtensionFieldReader();
  const check = (hex: string, legacyMac: boolean, expected: string | null, count = 0): void => {
    const b = fromHex(hex);
    r.reset(b, 0, b.length, legacyMac, 8);
    while (r.next());
    assert.equal(r.error, expected, hex);
    assert.equal(r.count, count, hex);
  };
  // Length 0 and 2 (< 4): would never advance.
  check("00010000" + "00".repeat(28), true, "bad-extension-field");
  check("00010002" + "00".repeat(28), true, "bad-extension-field");
  // Not a multiple of 4.
  check("0001001d" + "00".repeat(28), true, "bad-extension-field");
  // Past the end.
  check("00010024" + "00".repeat(28), true, "bad-extension-field");
  // A 4-octet field is fine on input (no producer minimum is enforced).
  check("00010004", false, null, 1);
  // Without a legacy MAC, a dangling 2 octets is an error.
  check("00010004abcd", false, "bad-extension-field", 1);
  // Too many fields.
  check("00010004".repeat(9), false, "too-many-extension-fields", 8);
  check("00010004".repeat(8), false, null, 8);
  // With a legacy MAC allowed, ≤ 24 trailing octets end the walk.
  check("00".repeat(24), true, null);
  check("0001001c" + "00".repeat(24), true, null, 1);
});

test("property: the reader terminates on any input with a bounded count", () => {
  const r = new ExtensionFieldReader();
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, mac) => {
      r.reset(bytes, 0, bytes.length, mac, 32);
      let steps = 0;
      while (r.next()) {
        steps++;
        assert.ok(r.valueOffset + r.valueLength <= bytes.length);
        assert.ok(r.fieldLength >= 4 && r.fieldLength % 4 === 0);
      }
      assert.ok(steps <= 32);
      if (r.error === null) {
        const rest = bytes.length - r.trailingOffset;
        assert.ok(mac ? rest <= 24 && (rest === 0 || rest >= 4) : rest === 0);
      }
    }),
    { numRuns: 3000 },
  );
});

test("property: encoded fields read back with their value and zero padding", () => {
  const r = new ExtensionFieldReader();
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          type: fc.integer({ min: 0, max: 0xffff }),
          value: fc.uint8Array({ maxLength: 70 }),
          min: fc.integer({ min: 0, max: 40 }),
        }),
        { maxLength: 6 },
      ),
      (fields) => {
        const out = new Uint8Array(1024);
        let off = 0;
        for (const f of fields) off += encodeExtensionField(f.type, f.value, f.min, out, off);
        r.reset(out, 0, off, false, 32);
        for (const f of fields) {
          assert.ok(r.next());
          assert.equal(r.type, f.type);
          assert.equal(r.fieldLength, extensionFieldLength(f.value.length, f.min));
          assert.deepEqual(out.subarray(r.valueOffset, r.valueOffset + f.value.length), f.value);
          const pad = out.subarray(r.valueOffset + f.value.length, r.fieldOffset + r.fieldLength);
          assert.ok(pad.every((b) => b === 0));
        }
        assert.ok(!r.next());
        assert.equal(r.error, null);
      },
    ),
  );
});
