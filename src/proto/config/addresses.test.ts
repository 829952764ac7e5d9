import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  formatIPv6,
  formatSocketAddress,
  formatSourceAddress,
  parseCidr,
  parseIPv4,
  parseIPv6,
  parseIpAddress,
  parseSocketAddress,
  parseSourceAddress,
} from "./addresses.js";

test("IPv4 literals follow Rust's strict parser", () => {
  assert.deepEqual(parseIPv4("192.0.2.1"), [192, 0, 2, 1]);
  assert.deepEqual(parseIPv4("0.0.0.0"), [0, 0, 0, 0]);
  for (const bad of ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ""]) {
    assert.equal(parseIPv4(bad), undefined, bad);
  }
});

test("IPv6 literals parse and print canonically (RFC 5952)", () => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
    ["::ffff:192.0.2.1", "::ffff:192.0.2.1"],
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201"],
    ["fe80::", "fe80::"],
  ];
  for (const [input, canonical] of cases) {
    const groups = parseIPv6(input);
    assert.ok(groups, input);
    assert.equal(formatIPv6(groups), canonical, input);
  }
  for (const bad of [
    ":",
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "12345::",
    "::g",
    "1:2:3:4:5:6:7",
    "::1.2.3",
  ]) {
    assert.equal(parseIPv6(bad), undefined, bad);
  }
});

test("any eight groups survive format → parse", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
      (g) => {
        assert.deepEqual(parseIPv6(formatIPv6(g)), g);
      },
    ),
  );
});

test("parseIpAddress names the family and refuses zone ids with a reason", () => {
  assert.deepEqual(parseIpAddress("10.1.2.3"), {
    ok: true,
    value: { address: "10.1.2.3", family: 4 },
  });
  assert.deepEqual(parseIpAddress("2001:DB8::1"), {
    ok: true,
    value: { address: "2001:db8::1", family: 6 },
  });
  const zone = parseIpAddress("fe80::1%eth0");
  assert.equal(zone.ok, false);
  assert.match(!zone.ok ? zone.reason : "", /zone/);
});

test("socket addresses need a port; IPv6 needs brackets", () => {
  assert.deepEqual(parseSocketAddress("0.0.0.0:123"), {
    ok: true,
    value: { address: "0.0.0.0", port: 123, family: 4 },
  });
  assert.deepEqual(parseSocketAddress("[::]:4460"), {
    ok: true,
    value: { address: "::", port: 4460, family: 6 },
  });
  const reasons: [string, RegExp][] = [
    ["abc", /missing port/],
    ["[::]", /missing port/],
    ["127.0.0.1", /missing port/],
    ["::1:123", /brackets/],
    ["[::1:123", /"]"/],
    ["localhost:123", /not an IP address/],
    ["1.2.3.4:65536", /not a port/],
    ["1.2.3.4:", /not a port/],
    ["[zz::1]:1", /not an IPv6/],
  ];
  for (const [input, reason] of reasons) {
    const r = parseSocketAddress(input);
    assert.equal(r.ok, false, input);
    assert.match(!r.ok ? r.reason : "", reason, input);
  }
  assert.equal(formatSocketAddress({ address: "::1", port: 123, family: 6 }), "[::1]:123");
  assert.equal(formatSocketAddress({ address: "10.0.0.1", port: 1, family: 4 }), "10.0.0.1:1");
});

test("source addresses: host, host:port, bare IPv6 and [v6]:port, with the mode's default port", () => {
  const cases: [string, number, { host: string; port: number }][] = [
    ["time.example.com", 123, { host: "time.example.com", port: 123 }],
    ["time.example.com:1123", 123, { host: "time.example.com", port: 1123 }],
    ["nts.example.com", 4460, { host: "nts.example.com", port: 4460 }],
    ["192.0.2.1", 123, { host: "192.0.2.1", port: 123 }],
    ["::1", 123, { host: "::1", port: 123 }],
    ["2001:DB8::1", 4460, { host: "2001:db8::1", port: 4460 }],
    ["[::1]:1234", 123, { host: "::1", port: 1234 }],
    ["[::1]", 4460, { host: "::1", port: 4460 }],
  ];
  for (const [input, defaultPort, expected] of cases) {
    assert.deepEqual(parseSourceAddress(input, defaultPort), { ok: true, value: expected }, input);
  }
  for (const bad of [
    "",
    ":123",
    "host:port",
    "host:99999",
    ":invalid:ipv6:123",
    "[::1]x",
    "a b",
    "[::1]:x",
  ]) {
    assert.equal(parseSourceAddress(bad, 123).ok, false, bad);
  }
  assert.equal(formatSourceAddress({ host: "2001:db8::1", port: 123 }), "[2001:db8::1]:123");
  assert.equal(formatSourceAddress({ host: "pool.ntp.org", port: 123 }), "pool.ntp.org:123");
});

test("CIDR: prefix length up to 32 or 128, host bits allowed", () => {
  assert.deepEqual(parseCidr("192.168.33.34/24"), {
    ok: true,
    value: { address: "192.168.33.34", family: 4, prefixLength: 24 },
  });
  assert.deepEqual(parseCidr("::/0"), {
    ok: true,
    value: { address: "::", family: 6, prefixLength: 0 },
  });
  assert.deepEqual(parseCidr("2001:db8::/128"), {
    ok: true,
    value: { address: "2001:db8::", family: 6, prefixLength: 128 },
  });
  for (const bad of [
    "10.0.0.0",
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/-1",
    "10.0.0.0/x",
    "nope/8",
    "/8",
  ]) {
    assert.equal(parseCidr(bad).ok, false, bad);
  }
});
