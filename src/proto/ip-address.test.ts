import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIpAddress, parseCidrInto, parseIpAddress, parseIpInto } from "./ip-address.js";

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
  // RFC 5952 §5: IPv4-mapped in mixed notation; other embedded forms in hex.
  assert.equal(f("::ffff:c000:201"), "::ffff:192.0.2.1");
  assert.equal(f("::FFFF:192.0.2.1"), "::ffff:192.0.2.1");
  assert.equal(f("::192.0.2.1"), "::c000:201");
  assert.equal(f("64:ff9b::192.0.2.1"), "64:ff9b::c000:201");
  assert.equal(f("::fffe:c000:201"), "::fffe:c000:201");
});

test("zone ids can be refused", () => {
  const out = new Uint32Array(4);
  assert.equal(parseIpInto("fe80::1%eth0", out), 6);
  assert.equal(parseIpInto("fe80::1%eth0", out, true, false), 0);
  assert.equal(parseIpInto("fe80::1", out, true, false), 6);
  assert.equal(parseIpInto("192.0.2.1", out, true, false), 4);
  assert.equal(parseIpAddress("fe80::1%eth0", false, false), null);
});

test("parseCidrInto: the core's CIDR rules", () => {
  const out = new Uint32Array(4);
  assert.deepEqual(parseCidrInto("192.0.2.77/24", out), {
    ok: true,
    family: 4,
    prefixLength: 24,
    addressText: "192.0.2.77",
  });
  assert.deepEqual([...out], [0, 0, 0xffff, 0xc000024d]);
  assert.deepEqual(parseCidrInto("::ffff:192.0.2.0/120", out), {
    ok: true,
    family: 6,
    prefixLength: 120,
    addressText: "::ffff:192.0.2.0",
  });
  assert.deepEqual(parseCidrInto("::/0", out), {
    ok: true,
    family: 6,
    prefixLength: 0,
    addressText: "::",
  });
  assert.equal(parseCidrInto("::/128", out).ok, true);
  // ntpd-rs parses the length as a u8, which takes a sign and leading zeros.
  for (const [text, length] of [
    ["192.0.2.0/024", 24],
    ["192.0.2.0/00", 0],
    ["192.0.2.0/+8", 8],
  ] as const) {
    const r = parseCidrInto(text, out);
    assert.ok(r.ok && r.prefixLength === length, text);
  }
  const problems: [string, string][] = [
    ["192.0.2.0", "no-slash"],
    ["fe80::%eth0/64", "zone"],
    ["fe80::%/64", "zone"],
    ["", "no-slash"],
    ["/24", "address"],
    ["192.0.2/24", "address"],
    ["01.2.3.4/8", "address"],
    ["[::1]/8", "address"],
    ["192.0.2.0/", "length-syntax"],
    ["192.0.2.0/-0", "length-syntax"],
    ["192.0.2.0/8/8", "length-syntax"],
    ["192.0.2.0/ 8", "length-syntax"],
    ["192.0.2.0/1000", "length-range"],
    ["192.0.2.0/0000033", "length-range"],
    ["192.0.2.0/33", "length-range"],
    ["::/129", "length-range"],
    ["::ffff:0.0.0.0/999", "length-range"],
  ];
  for (const [text, problem] of problems) {
    const r = parseCidrInto(text, out);
    assert.equal(r.ok ? "ok" : r.problem, problem, text);
  }
  const r = parseCidrInto("::ffff:1.2.3.4/130", out);
  assert.ok(!r.ok && r.problem === "length-range" && r.maxLength === 128 && r.lengthText === "130");
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
