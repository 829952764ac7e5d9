// Whole-packet parse/serialize: the real packets of protocol/vectors (bytes
// copied here), framing and MAC rules, bounds, and fuzzing.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { encodeExtensionField, extensionFieldTypes } from "./extension-fields.js";
import {
  MAX_EXTENSION_FIELDS,
  MAX_NTP_PACKET_LENGTH,
  parsePacket,
  serializePacket,
} from "./parse.js";
import type { NtpPacket, PacketErrorCode } from "./types.js";

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

// ntp_packets.json and captures/plain-ntpdig_chrony-server.json
const plainPackets = {
  clientRequest:
    "230206e8000003ff0000037d5ec69f0fe5f662987b61b9afe5f663667b64995de5f6636681405590e5f663a8761dde48",
  v3Request:
    "1b0206e8000003ff0000037d5ec69f0fe5f662987b61b9afe5f663667b64995de5f6636681405590e5f663a8761dde48",
  serverResponse:
    "240206e900000236000003b7c035676ce5f661fd6f165f03e5f663a87619ef40e5f663a8798c6581e5f663a8798eae2b",
  ntpdigRequest:
    "e3000000000000000000000000000000000000000000000000000000000000000000000000000000eeb25bc95c462000",
  chronyResponse:
    "240100e600000000000000007f7f0101eeb25bb3dfe9c26feeb25bc95c462000eeb25bc95c49aae9eeb25bc95c4ff932",
};

// nts_ntp_packets.json: real NTS request/response (AEAD 17) and the synthetic AEAD 15 request.
const ntsRequest =
  "230004000000000000000000000000000000000000000000000000000000000000000000000000006287db473ff75f5801040024e4833a8d600e1342435cb29de550acc0f8d8fa16e5c5370a620b155f586adad6020400ac1cc40a94da3f94a4d12ac2d609f16f7211596a0acefc62d11f283ad108d801b591385d9bf507f90d2182e6812a58a735dc49c4d3e9b79c72b7f64464f8fc0ded25ea1f7c9b315cd86086fd677490f50e61e6680e290d49770ced44d42f2d9ba89f4d5dce4fdd574951495a1f38dbc7ec1b865ba58f231edd76ee1dafdd66b2b2641f03c6479b429c7ff6596b8244cf67b5a2cd209d39bbe6402bf62045df9550f0387706897912180404002800100010ce89ee973442bc0f43aace4999bdf58e8fee7b1a2d58af6de9a20e561f7ff06a";
const ntsResponse =
  "240104e80000000000000060544d4e4ce8494892f929579e6287db473ff75f58e84948b2b640d701e84948b2b644bff801040024e4833a8d600e1342435cb29de550acc0f8d8fa16e5c5370a620b155f586adad6040400d4001000bc6a1de3c26e13eb10c739d70b841fad1b86e230c63e9ea5f71b62a8a79881ce7c6b17cb3132490fdecf2110564e368892ddeef1f423f6555341c2c9176120a518dc1a7edc5ee3c83b05087b7303f7ab86d52cc7490ce829397223dcef2d94faf8d71d1280da032dd70469e9ac5f82ef5781d207fbacb4a8b6319114d5f56fb22a0cb6d7dcf77df02146f67e4601b53b217ca8ac1a4d97d59bceeb9833997f100ed469858bcd735201adec38cf8cb2c6d0541a9767ddb3ea091d63d98d03dd6e48153dc9b61fe5d91d74ae3548";
const synthetic15Request =
  "230006000000000000000000000000000000000000000000000000000000000000000000000000000123456789abcdef01040024abababababababababababababababababababababababababababababababab02040068030a11181f262d343b424950575e656c737a81888f969da4abb2b9c0c7ced5dce3eaf1f8ff060d141b222930373e454c535a61686f767d848b9299a0a7aeb5bcc3cad1d8dfe6edf4fb020910171e252c333a41484f565d646b727980878e959ca3aab1b80304006800000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000040400280010001011111111111111111111111111111111fb21adb38ca7d2f9864a57893ca0f6bd";

function mustParse(bytes: Uint8Array, length?: number): NtpPacket {
  const r = parsePacket(bytes, length);
  if (!r.ok) assert.fail(`${r.error.code}: ${r.error.message}`);
  return r.value;
}

function roundTrip(hex: string): NtpPacket {
  const bytes = fromHex(hex);
  const p = mustParse(bytes);
  const out = new Uint8Array(bytes.length + 16);
  const n = serializePacket(p, out);
  assert.equal(n, bytes.length);
  assert.equal(toHex(out.subarray(0, n)), hex);
  return p;
}

for (const [name, hex] of Object.entries(plainPackets)) {
  test(`parse and re-serialize byte-identically: ${name}`, () => {
    const p = roundTrip(hex);
    assert.equal(p.extensionFields.length, 0);
    assert.equal(p.mac, null);
  });
}

test("real NTS request: UID, cookie, authenticator at the captured offsets", () => {
  const p = roundTrip(ntsRequest);
  assert.deepEqual(
    p.extensionFields.map((f) => [f.offset, f.type, f.value.length + 4]),
    [
      [48, 0x0104, 36],
      [84, 0x0204, 172],
      [256, 0x0404, 40],
    ],
  );
  assert.equal(p.header.mode, 3);
  assert.equal(p.header.poll, 4);
  assert.equal(p.mac, null);
  assert.equal(
    toHex(p.extensionFields[2]!.value.subarray(4, 20)),
    "ce89ee973442bc0f43aace4999bdf58e",
  );
});

test("real NTS response: UID echo and authenticator", () => {
  const p = roundTrip(ntsResponse);
  assert.deepEqual(
    p.extensionFields.map((f) => [f.offset, f.type, f.value.length + 4]),
    [
      [48, 0x0104, 36],
      [84, 0x0404, 212],
    ],
  );
  const req = mustParse(fromHex(ntsRequest));
  assert.deepEqual(p.extensionFields[0]!.value, req.extensionFields[0]!.value);
  assert.ok(p.header.originTimestamp.equals(req.header.transmitTimestamp));
});

test("synthetic AEAD 15 request: UID, cookie, placeholder, authenticator", () => {
  const p = roundTrip(synthetic15Request);
  assert.deepEqual(
    p.extensionFields.map((f) => [f.type, f.value.length + 4]),
    [
      [extensionFieldTypes.UniqueIdentifier, 36],
      [extensionFieldTypes.NtsCookie, 104],
      [extensionFieldTypes.NtsCookiePlaceholder, 104],
      [extensionFieldTypes.NtsAuthenticator, 40],
    ],
  );
});

function withTrailer(trailerHex: string, base = plainPackets.clientRequest): Uint8Array {
  return fromHex(base + trailerHex);
}

test("a field of ≤ 24 octets at the end is read as a legacy MAC (ntpd-rs rule)", () => {
  // The 20-octet UID example of ntp_extension_fields.json after a header.
  const p = mustParse(withTrailer("01040014000102030405060708090a0b0c0d0e0f"));
  assert.equal(p.extensionFields.length, 0);
  assert.equal(p.mac?.keyId, 0x01040014);
  assert.equal(toHex(p.mac.digest), "000102030405060708090a0b0c0d0e0f");
});

test("legacy MAC sizes 4 (crypto-NAK), 20 and 24 octets; after fields too", () => {
  for (const size of [4, 20, 24]) {
    const p = mustParse(withTrailer("0000002a" + "ab".repeat(size - 4)));
    assert.equal(p.mac?.keyId, 42);
    assert.equal(p.mac.digest.length, size - 4);
  }
  const field = "002a001c000102030405060708090a0b0c0d0e0f1011121314000000";
  const p = mustParse(withTrailer(field + "00000007" + "cd".repeat(16)));
  assert.equal(p.extensionFields.length, 1);
  assert.equal(p.extensionFields[0]!.type, 42);
  assert.equal(p.mac?.keyId, 7);
  roundTrip(plainPackets.clientRequest + field + "00000007" + "cd".repeat(16));
});

test("unknown extension fields are kept (callers ignore them)", () => {
  const p = mustParse(withTrailer("002a001c000102030405060708090a0b0c0d0e0f1011121314000000"));
  assert.equal(p.extensionFields.length, 1);
  assert.equal(p.extensionFields[0]!.type, 42);
  assert.equal(p.extensionFields[0]!.value.length, 24);
});

test("NTPv3 packets carry no extension fields: trailing octets are a MAC or an error", () => {
  const field = "002a001c000102030405060708090a0b0c0d0e0f1011121314000000";
  const p = mustParse(withTrailer("00000001" + "00".repeat(16), plainPackets.v3Request));
  assert.equal(p.mac?.keyId, 1);
  const r = parsePacket(withTrailer(field, plainPackets.v3Request));
  assert.equal(r.ok, false);
  assert.equal(!r.ok && r.error.code, "bad-mac");
});

function expectError(bytes: Uint8Array, code: PacketErrorCode, length?: number): void {
  const r = parsePacket(bytes, length);
  assert.equal(r.ok, false, `expected ${code}`);
  if (!r.ok) {
    assert.equal(r.error.code, code);
    assert.ok(r.error.message.length > 0);
  }
}

test("length errors: short, not a multiple of 4, above the cap, beyond the buffer", () => {
  const full = fromHex(plainPackets.clientRequest);
  expectError(new Uint8Array(0), "too-short");
  expectError(full.subarray(0, 47), "too-short");
  expectError(full, "too-short", 44);
  expectError(withTrailer("000000"), "bad-length");
  expectError(full, "bad-length", 52);
  expectError(full, "bad-length", -4);
  expectError(full, "bad-length", 48.5);
  expectError(full, "bad-length", Number.NaN);
  const big = new Uint8Array(MAX_NTP_PACKET_LENGTH + 4);
  big.set(full);
  expectError(big, "bad-length");
  // The cap itself is accepted when the framing is valid.
  const atCap = new Uint8Array(MAX_NTP_PACKET_LENGTH);
  atCap.set(full);
  encodeExtensionField(0x2a, new Uint8Array(0), MAX_NTP_PACKET_LENGTH - 48, atCap, 48);
  assert.equal(mustParse(atCap).extensionFields.length, 1);
});

test("the length argument limits the parse to a prefix of the buffer", () => {
  const bytes = withTrailer("0000002a" + "ab".repeat(16));
  const p = mustParse(bytes, 48);
  assert.equal(p.mac, null);
});

test("RFC 7822: trailing octets that are neither a field nor a 4/20/24-octet MAC are malformed", () => {
  // A UID header claiming 64 octets with only 12 present (issue #9 a).
  expectError(withTrailer("01040040" + "00".repeat(8)), "bad-extension-field");
  // A lone 16-octet field: the last field of a MAC-less packet is ≥ 28 (issue #9 b).
  expectError(withTrailer("20050010" + "00".repeat(12)), "bad-extension-field");
  // 8, 12 and 16 octets are no legacy MAC size.
  for (const size of [8, 12, 16]) {
    expectError(withTrailer("0000002a" + "ab".repeat(size - 4)), "bad-extension-field");
  }
  // Every field of the outer packet is ≥ 16 octets (a 12-octet one before a 28-octet one).
  expectError(
    withTrailer("002a000c" + "00".repeat(8) + "002a001c" + "00".repeat(24)),
    "bad-extension-field",
  );
  // The smallest legal fields: 16 octets, then a last one of 28.
  const p = mustParse(withTrailer("002a0010" + "00".repeat(12) + "002a001c" + "00".repeat(24)));
  assert.deepEqual(
    p.extensionFields.map((f) => f.value.length + 4),
    [16, 28],
  );
});

test("framing errors and the field-count cap", () => {
  expectError(withTrailer("00010000" + "00".repeat(28)), "bad-extension-field");
  expectError(withTrailer("0001001e" + "00".repeat(28)), "bad-extension-field");
  expectError(withTrailer("00010040" + "00".repeat(28)), "bad-extension-field");
  const many = (n: number): Uint8Array =>
    withTrailer(("00010010" + "00".repeat(12)).repeat(n) + "0001001c" + "00".repeat(24));
  assert.equal(
    mustParse(many(MAX_EXTENSION_FIELDS - 1)).extensionFields.length,
    MAX_EXTENSION_FIELDS,
  );
  expectError(many(MAX_EXTENSION_FIELDS), "too-many-extension-fields");
});

test("values are views into the input (no copy)", () => {
  const bytes = fromHex(ntsRequest);
  const p = mustParse(bytes);
  bytes[52] = 0x99;
  assert.equal(p.extensionFields[0]!.value[0], 0x99);
});

test("property: random bytes never throw and give a typed result", () => {
  const codes = new Set([
    "too-short",
    "bad-length",
    "bad-extension-field",
    "too-many-extension-fields",
    "bad-mac",
  ]);
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 1200 }),
      fc.option(fc.integer({ min: -8, max: 1300 })),
      (bytes, len) => {
        const r = parsePacket(bytes, len ?? undefined);
        if (!r.ok) assert.ok(codes.has(r.error.code));
      },
    ),
    { numRuns: 3000 },
  );
});

/** A valid packet: header, some fields, sometimes a MAC. */
const validPacketArb = fc
  .record({
    header: fc.uint8Array({ minLength: 48, maxLength: 48 }),
    fields: fc.array(
      fc.record({
        type: fc.integer({ min: 0, max: 0xffff }),
        value: fc.uint8Array({ maxLength: 60 }),
      }),
      { maxLength: 5 },
    ),
    // The legacy MAC sizes RFC 7822 allows after fields: 4, 20, 24.
    mac: fc.option(
      fc.constantFrom(4, 20, 24).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
    ),
  })
  .map(({ header, fields, mac }) => {
    const out = new Uint8Array(1024);
    out.set(header);
    out[0] = (out[0]! & 0xc7) | (4 << 3); // NTPv4
    let off = 48;
    fields.forEach((f, i) => {
      off += encodeExtensionField(f.type, f.value, i === fields.length - 1 ? 28 : 16, out, off);
    });
    if (mac !== null) {
      out.set(mac, off);
      off += mac.length;
    }
    return out.slice(0, off);
  });

test("property: valid packets parse and re-serialize byte-identically", () => {
  fc.assert(
    fc.property(validPacketArb, (bytes) => {
      const p = mustParse(bytes);
      const out = new Uint8Array(bytes.length);
      assert.equal(serializePacket(p, out), bytes.length);
      assert.deepEqual(out, bytes);
    }),
    { numRuns: 1000 },
  );
});

test("property: mutated valid packets never throw", () => {
  fc.assert(
    fc.property(
      validPacketArb,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 6,
      }),
      fc.integer({ min: -8, max: 8 }),
      (bytes, flips, cut) => {
        const m = bytes.slice();
        for (const [pos, val] of flips) m[pos % m.length] = val;
        const len = Math.max(0, Math.min(m.length, m.length + cut));
        const r = parsePacket(m, len);
        if (r.ok) {
          for (const f of r.value.extensionFields) {
            assert.ok(f.offset + 4 + f.value.length <= len);
          }
        }
      },
    ),
    { numRuns: 3000 },
  );
});
