import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { cidrs } from "../../../test/helpers/cidr.js";
import { IpFilter } from "./ip-filter.js";

/** A filter of CIDRs parsed as the configuration parses them. */
const f = (...list: string[]): IpFilter => new IpFilter(cidrs(...list));

test("IPv4 prefixes: boundaries", () => {
  const net = f("192.0.2.0/24");
  assert.ok(net.matches("192.0.2.0"));
  assert.ok(net.matches("192.0.2.255"));
  assert.ok(!net.matches("192.0.3.0"));
  assert.ok(!net.matches("192.0.1.255"));
  const host = f("192.0.2.7/32");
  assert.ok(host.matches("192.0.2.7"));
  assert.ok(!host.matches("192.0.2.6"));
  const pair = f("10.0.0.2/31");
  assert.ok(pair.matches("10.0.0.2") && pair.matches("10.0.0.3") && !pair.matches("10.0.0.4"));
  const odd = f("172.16.0.0/12");
  assert.ok(
    odd.matches("172.31.255.255") && !odd.matches("172.32.0.0") && !odd.matches("172.15.255.255"),
  );
  const all = f("0.0.0.0/0");
  assert.ok(all.matches("0.0.0.0") && all.matches("255.255.255.255"));
  assert.ok(!all.matches("::1"), "an IPv4 prefix never matches IPv6");
});

test("host bits below the prefix are ignored", () => {
  assert.ok(f("192.0.2.77/24").matches("192.0.2.1"));
  assert.ok(f("2001:db8::1/32").matches("2001:db8:ffff::2"));
});

test("IPv6 prefixes: boundaries across words", () => {
  const net = f("2001:db8::/32");
  assert.ok(net.matches("2001:db8::"));
  assert.ok(net.matches("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
  assert.ok(!net.matches("2001:db9::"));
  const n33 = f("2001:db8:8000::/33");
  assert.ok(n33.matches("2001:db8:8000::1") && n33.matches("2001:db8:ffff::"));
  assert.ok(!n33.matches("2001:db8:7fff::"));
  const n65 = f("2001:db8:0:1:8000::/65");
  assert.ok(n65.matches("2001:db8:0:1:ffff::") && !n65.matches("2001:db8:0:1:7fff::"));
  const host = f("2001:db8::5/128");
  assert.ok(host.matches("2001:db8::5") && !host.matches("2001:db8::4"));
  const any6 = f("::/0");
  assert.ok(any6.matches("::") && any6.matches("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
  assert.ok(!any6.matches("192.0.2.1"), "::/0 is every IPv6 client, not IPv4 ones");
  assert.ok(!any6.matches("::ffff:192.0.2.1"), "a mapped client is IPv4");
  assert.ok(f("fe80::/10").matches("fe80::1%eth0"));
});

test("IPv4-mapped clients match IPv4 prefixes; mapped prefixes are IPv4 prefixes", () => {
  assert.ok(f("192.0.2.0/24").matches("::ffff:192.0.2.9"));
  assert.ok(f("192.0.2.0/24").matches("::ffff:c000:209"));
  assert.ok(!f("192.0.2.0/24").matches("::ffff:192.0.3.9"));
  // The configuration keeps a mapped prefix IPv6 (as written); the filter matches it as IPv4.
  assert.equal(cidrs("::ffff:192.0.2.0/120")[0]!.family, 6);
  assert.ok(f("::ffff:192.0.2.0/120").matches("192.0.2.200"));
  assert.ok(!f("::ffff:192.0.2.0/120").matches("192.0.3.1"));
  assert.ok(f("::ffff:0.0.0.0/96").matches("8.8.8.8"));
  // Shorter than /96 it covers more than the mapped range: an IPv6 prefix, which never
  // matches an IPv4 (or IPv4-mapped) client but does match the IPv6 neighbours.
  assert.ok(!f("::ffff:0:0/95").matches("192.0.2.1"));
  assert.ok(f("::ffff:0:0/95").matches("::fffe:0:1"));
});

test("both families in one list (the ntpd-rs default allowlist)", () => {
  const all = f("::/0", "0.0.0.0/0");
  for (const a of ["192.0.2.1", "::1", "::ffff:10.0.0.1", "2001:db8::1"])
    assert.ok(all.matches(a), a);
  assert.equal(all.size, 2);
  assert.equal(f().size, 0);
  assert.ok(!f().matches("192.0.2.1"));
  assert.ok(!all.matches("not an address"));
});

test("property: a prefix matches exactly the addresses sharing its leading bits", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 32 }),
      (net, addr, len) => {
        const dq = (v: number): string =>
          `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
        const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
        const expected = (net & mask) >>> 0 === (addr & mask) >>> 0;
        assert.equal(f(`${dq(net)}/${len}`).matches(dq(addr)), expected);
        assert.equal(f(`${dq(net)}/${len}`).matches(`::ffff:${dq(addr)}`), expected);
      },
    ),
    { numRuns: 2000 },
  );
});
