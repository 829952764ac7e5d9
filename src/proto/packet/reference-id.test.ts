// Reference ids against protocol/vectors/ntp_reference_ids.json (values copied).
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  REFERENCE_ID_NONE,
  referenceIdBytes,
  referenceIdFromAddress,
  referenceIdFromAscii,
  referenceIdFromIPv4,
  referenceIdFromIPv6,
  referenceIdToAscii,
  referenceIdToString,
} from "./reference-id.js";

const hex = (n: number | null): string | null =>
  n === null ? null : (n >>> 0).toString(16).padStart(8, "0");

test("IPv4 example: 192.0.2.1 → c0000201", () => {
  assert.equal(hex(referenceIdFromIPv4("192.0.2.1")), "c0000201");
  assert.equal(hex(referenceIdFromAddress("192.0.2.1")), "c0000201");
  assert.equal(hex(referenceIdFromIPv4("255.255.255.255")), "ffffffff");
  assert.equal(referenceIdFromIPv4("2001:db8::1"), null);
  assert.equal(referenceIdFromIPv4("192.0.2"), null);
  assert.equal(referenceIdFromIPv4("192.0.2.256"), null);
});

test("IPv6 examples: first 4 octets of MD5(address)", () => {
  assert.equal(hex(referenceIdFromIPv6("2001:db8::1")), "39ab9b37");
  assert.equal(hex(referenceIdFromIPv6("2001:0db8:0000:0000:0000:0000:0000:0001")), "39ab9b37");
  assert.equal(hex(referenceIdFromIPv6("::1")), "cf404dc8");
  assert.equal(hex(referenceIdFromAddress("2001:db8::1")), "39ab9b37");
  assert.equal(hex(referenceIdFromAddress("::1")), "cf404dc8");
  assert.equal(referenceIdFromIPv6("192.0.2.1"), null);
  assert.equal(referenceIdFromIPv6("not an address"), null);
});

test("an IPv4-mapped upstream counts as its IPv4 address", () => {
  assert.equal(hex(referenceIdFromAddress("::ffff:192.0.2.1")), "c0000201");
  assert.equal(hex(referenceIdFromAddress("::ffff:c000:201")), "c0000201");
  assert.equal(referenceIdFromAddress("bogus"), null);
});

test("ASCII codes (zero-padded)", () => {
  const codes: [string, string][] = [
    ["RATE", "52415445"],
    ["DENY", "44454e59"],
    ["RSTR", "52535452"],
    ["NTSN", "4e54534e"],
    ["GPS", "47505300"],
    ["PPS", "50505300"],
    ["XNON", "584e4f4e"],
  ];
  for (const [code, h] of codes) {
    assert.equal(hex(referenceIdFromAscii(code)), h);
    assert.equal(referenceIdToAscii(parseInt(h, 16)), code);
    assert.equal(referenceIdToString(parseInt(h, 16), 0), code);
  }
  assert.equal(REFERENCE_ID_NONE, referenceIdFromAscii("XNON"));
});

test("space padding for a configured reference-id (ntpd-rs)", () => {
  assert.equal(hex(referenceIdFromAscii("GPS", "space")), "47505320");
  assert.equal(hex(referenceIdFromAscii("", "space")), "20202020");
  assert.equal(referenceIdToAscii(0x47505320), "GPS");
  assert.throws(() => referenceIdFromAscii("TOOLONG"), RangeError);
  assert.throws(() => referenceIdFromAscii("é"), RangeError);
});

test("display strings", () => {
  assert.equal(referenceIdToString(0xc0000201, 2), "192.0.2.1");
  assert.equal(referenceIdToString(0x7f7f0101, 1), "127.127.1.1");
  assert.equal(referenceIdToString(0x47505300, 1), "GPS");
  assert.equal(referenceIdToString(0, 0), "0.0.0.0");
  assert.equal(referenceIdToAscii(0), null);
  assert.equal(referenceIdToAscii(0x00414243), null);
  assert.deepEqual([...referenceIdBytes(0xc0000201)], [0xc0, 0, 2, 1]);
});
