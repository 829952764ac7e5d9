import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { formatIpAddress, parseIpAddress as parseIpWords } from "../ip-address.js";
import { IpFilter } from "../server/ip-filter.js";
import {
  formatSocketAddress,
  formatSourceAddress,
  parseCidr,
  parseIpAddress,
  parseSocketAddress,
  parseSourceAddress,
} from "./addresses.js";

/** The 128-bit value of eight 16-bit groups, as the core's parser holds it. */
const wordsOf = (g: readonly number[]): Uint32Array =>
  Uint32Array.from([0, 1, 2, 3], (i) => ((g[2 * i]! << 16) | g[2 * i + 1]!) >>> 0);

test("IPv4 literals follow Rust's strict parser", () => {
  assert.deepEqual(parseIpAddress("192.0.2.1"), {
    ok: true,
    value: { address: "192.0.2.1", family: 4 },
  });
  assert.equal(parseIpWords("192.0.2.1")?.words[3], 0xc0000201);
  assert.deepEqual(parseIpAddress("0.0.0.0"), {
    ok: true,
    value: { address: "0.0.0.0", family: 4 },
  });
  for (const bad of ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.-4", "a.b.c.d", ""]) {
    assert.equal(parseIpAddress(bad).ok, false, bad);
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
    ["::ffff:c000:201", "::ffff:192.0.2.1"],
    ["64:ff9b::192.0.2.1", "64:ff9b::c000:201"],
    ["fe80::", "fe80::"],
  ];
  for (const [input, canonical] of cases) {
    assert.deepEqual(
      parseIpAddress(input),
      { ok: true, value: { address: canonical, family: 6 } },
      input,
    );
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
    assert.equal(parseIpAddress(bad).ok, false, bad);
  }
});

test("any eight groups survive format → parse", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 8, maxLength: 8 }),
      (g) => {
        const words = wordsOf(g);
        const text = formatIpAddress({ family: 6, words });
        assert.deepEqual(parseIpWords(text, false), { family: 6, words });
        assert.deepEqual(parseIpAddress(text), { ok: true, value: { address: text, family: 6 } });
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
    value: {
      address: "192.168.33.34",
      family: 4,
      prefixLength: 24,
      words: Uint32Array.of(0, 0, 0xffff, 0xc0a82122),
    },
  });
  assert.deepEqual(parseCidr("::/0"), {
    ok: true,
    value: { address: "::", family: 6, prefixLength: 0, words: Uint32Array.of(0, 0, 0, 0) },
  });
  assert.deepEqual(parseCidr("2001:db8::/128"), {
    ok: true,
    value: {
      address: "2001:db8::",
      family: 6,
      prefixLength: 128,
      words: Uint32Array.of(0x20010db8, 0, 0, 0),
    },
  });
  // ntpd-rs parses the length as a u8: a sign and leading zeros are fine.
  assert.equal(parseCidr("10.0.0.0/08").ok && parseCidr("10.0.0.0/+8").ok, true);
  for (const bad of [
    "10.0.0.0",
    "10.0.0.0/33",
    "::/129",
    "10.0.0.0/-1",
    "10.0.0.0/x",
    "nope/8",
    "/8",
    "10.0.0.0/8/8",
    "fe80::%eth0/64",
  ]) {
    assert.equal(parseCidr(bad).ok, false, bad);
  }
  // An IPv4-mapped prefix stays IPv6 text here; the server reads it as 192.0.2.0/24.
  assert.deepEqual(parseCidr("::FFFF:c000:200/120"), {
    ok: true,
    value: {
      address: "::ffff:192.0.2.0",
      family: 6,
      prefixLength: 120,
      words: Uint32Array.of(0, 0, 0xffff, 0xc0000200),
    },
  });
  const reasons: [string, RegExp][] = [
    ["10.0.0.0", /missing \/prefix-length/],
    ["fe80::%eth0/64", /"fe80::%eth0": IPv6 zone ids/],
    ["nope/8", /"nope": not an IPv4 or IPv6 address/],
    ["10.0.0.0/33", /"33" is not a number from 0 to 32$/],
    ["::/0129", /"0129" is not a number from 0 to 128$/],
    ["::/x", /"x" is not a number from 0 to 128 \(decimal digits\)/],
  ];
  for (const [input, reason] of reasons) {
    const r = parseCidr(input);
    assert.match(!r.ok ? r.reason : "", reason, input);
  }
});

test("CIDR: what the configuration accepts, the server's filter matches as written", () => {
  // The filter takes the parsed prefix as it is (no text in between): its own address is
  // inside it, in the family the client would have (a mapped prefix of /96 or more is IPv4).
  const check = (text: string): void => {
    const c = parseCidr(text);
    if (!c.ok) return;
    const filter = new IpFilter([c.value]);
    assert.equal(filter.size, 1, text);
    const v6Prefix = c.value.family === 6 && c.value.prefixLength < 96;
    const mapped = c.value.address.startsWith("::ffff:") && c.value.address.includes(".");
    assert.equal(filter.matches(c.value.address), !(v6Prefix && mapped), text);
  };
  const address = fc.oneof(
    fc.ipV4(),
    fc.ipV6(),
    fc.ipV4Extended(),
    fc.constantFrom("", "fe80::1%eth0", "1.2.3.4%x", "::ffff:1.2.3.4", "nope", "01.2.3.4"),
  );
  const length = fc.oneof(
    fc.nat({ max: 140 }).map(String),
    fc.constantFrom("", "00", "08", "+8", "-1", "8/8", " 8", "1e1", "0x10"),
  );
  fc.assert(
    fc.property(address, length, (a, l) => check(`${a}/${l}`)),
    { numRuns: 2000 },
  );
});

test("literals in socket and source addresses: no zone ids, the right family in brackets", () => {
  for (const bad of ["[fe80::1%eth0]:123", "[1.2.3.4]:123", "1.2.3.4%eth0:123"]) {
    assert.equal(parseSocketAddress(bad).ok, false, bad);
  }
  for (const bad of ["[fe80::1%eth0]:123", "fe80::1%eth0", "[1.2.3.4]:123"]) {
    assert.equal(parseSourceAddress(bad, 123).ok, false, bad);
  }
  assert.deepEqual(parseSocketAddress("[::FFFF:192.0.2.1]:123"), {
    ok: true,
    value: { address: "::ffff:192.0.2.1", port: 123, family: 6 },
  });
});
