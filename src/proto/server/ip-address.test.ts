import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIpAddress, parseIpAddress, parseIpInto } from "./ip-address.js";

const words = (text: string, mapped = true): number[] | null => {
  const a = parseIpAddress(text, mapped);
  return a === null ? null : [a.family, ...a.words];
};

test("IPv4 dotted quads", () => {
  assert.deepEqual(words("192.0.2.1"), [4, 0, 0, 0xffff, 0xc0000201]);
  assert.deepEqual(words("0.0.0.0"), [4, 0, 0, 0xffff, 0]);
  assert.deepEqual(words("255.255.255.255"), [4, 0, 0, 0xffff, 0xffffffff]);
  for (const bad of [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "256.0.0.1",
    "01.2.3.4",
    "1.2.3.04",
    "1..2.3",
    "1.2.3.4 ",
    " 1.2.3.4",
    "1.2.3.4%eth0",
    "a.b.c.d",
    "1.2.3.-4",
    "1234.1.1.1",
  ]) {
    assert.equal(parseIpAddress(bad), null, bad);
  }
});

test("IPv6 text forms", () => {
  assert.deepEqual(words("2001:db8::1"), [6, 0x20010db8, 0, 0, 1]);
  assert.deepEqual(words("2001:DB8:0:0:0:0:0:1"), [6, 0x20010db8, 0, 0, 1]);
  assert.deepEqual(words("::"), [6, 0, 0, 0, 0]);
  assert.deepEqual(words("::1"), [6, 0, 0, 0, 1]);
  assert.deepEqual(words("1::"), [6, 0x00010000, 0, 0, 0]);
  assert.deepEqual(words("1:2:3:4:5:6:7::"), [6, 0x00010002, 0x00030004, 0x00050006, 0x00070000]);
  assert.deepEqual(words("::2:3:4:5:6:7:8"), [6, 0x00000002, 0x00030004, 0x00050006, 0x00070008]);
  assert.deepEqual(words("fe80::1%eth0"), [6, 0xfe800000, 0, 0, 1]);
  assert.deepEqual(words("::1.2.3.4"), [6, 0, 0, 0, 0x01020304]);
  assert.deepEqual(words("64:ff9b::192.0.2.1"), [6, 0x0064ff9b, 0, 0, 0xc0000201]);
  for (const bad of [
    ":",
    ":::",
    "1:::2",
    "1::2::3",
    ":1::2",
    "1::2:",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::",
    "g::1",
    "::1%",
    "::1.2.3",
    "1:2:3:4:5:6:7:1.2.3.4",
    "::ffff:1.2.3.4.5",
    "[::1]",
  ]) {
    assert.equal(parseIpAddress(bad), null, bad);
  }
});

test("IPv4-mapped IPv6 is canonicalised to IPv4 unless asked not to", () => {
  assert.deepEqual(words("::ffff:192.0.2.1"), [4, 0, 0, 0xffff, 0xc0000201]);
  assert.deepEqual(words("::FFFF:c000:0201"), [4, 0, 0, 0xffff, 0xc0000201]);
  assert.deepEqual(words("::ffff:192.0.2.1", false), [6, 0, 0, 0xffff, 0xc0000201]);
  // Not mapped: IPv4-compatible and NAT64 stay IPv6.
  assert.equal(words("::192.0.2.1")?.[0], 6);
  assert.equal(words("::fffe:192.0.2.1")?.[0], 6);
});

test("formatIpAddress (RFC 5952)", () => {
  const f = (t: string): string => formatIpAddress(parseIpAddress(t, false)!);
  assert.equal(f("192.0.2.1"), "192.0.2.1");
  assert.equal(f("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1");
  assert.equal(f("::"), "::");
  assert.equal(f("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
  assert.equal(f("1:0:1:0:1:0:1:0"), "1:0:1:0:1:0:1:0");
});

test("property: format → parse round trip; never throws on any string", () => {
  fc.assert(
    fc.property(fc.ipV6(), (text) => {
      const a = parseIpAddress(text, false);
      assert.ok(a !== null, text);
      assert.deepEqual(parseIpAddress(formatIpAddress(a), false), a);
    }),
  );
  fc.assert(
    fc.property(fc.ipV4(), (text) => {
      const a = parseIpAddress(text);
      assert.ok(a !== null && a.family === 4, text);
      assert.equal(formatIpAddress(a), text);
    }),
  );
  const out = new Uint32Array(4);
  fc.assert(
    fc.property(fc.string({ maxLength: 70 }), (text) => {
      const family = parseIpInto(text, out);
      assert.ok(family === 0 || family === 4 || family === 6);
    }),
  );
});
