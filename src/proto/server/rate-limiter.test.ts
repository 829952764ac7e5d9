import { test } from "node:test";
import assert from "node:assert/strict";
import { parseIpAddress } from "../ip-address.js";
import { RateLimiter } from "./rate-limiter.js";

const BASE = 0xe5f66000;
/** Receive time `ms` milliseconds after BASE. */
const at = (ms: number): [number, number] => {
  const s = Math.floor(ms / 1000);
  return [(BASE + s) >>> 0, Math.floor(((ms - s * 1000) / 1000) * 2 ** 32)];
};
const allow = (r: RateLimiter, address: string, ms: number): boolean => {
  const a = parseIpAddress(address)!;
  const [s, f] = at(ms);
  return r.allow(a.family, a.words, s, f);
};

test("a repeat within the cutoff is refused, after it allowed", () => {
  const r = new RateLimiter(64, 1000, 1);
  assert.ok(allow(r, "192.0.2.1", 0));
  assert.ok(!allow(r, "192.0.2.1", 999));
  // The refused request restarted the window (ntpd-rs stores every arrival).
  assert.ok(!allow(r, "192.0.2.1", 1500));
  assert.ok(allow(r, "192.0.2.1", 2500));
  assert.ok(allow(r, "192.0.2.1", 3500));
});

test("clients are told apart, IPv4-mapped is the same client as IPv4", () => {
  const r = new RateLimiter(1024, 1000, 7);
  assert.ok(allow(r, "192.0.2.1", 0));
  assert.ok(allow(r, "192.0.2.2", 1));
  assert.ok(allow(r, "2001:db8::1", 2));
  assert.ok(!allow(r, "::ffff:192.0.2.1", 3));
  assert.ok(!allow(r, "2001:db8::1", 4));
});

test("a one-slot table evicts on collision (forgets, never grows)", () => {
  const r = new RateLimiter(1, 1000, 0);
  assert.ok(allow(r, "192.0.2.1", 0));
  assert.ok(allow(r, "192.0.2.2", 10));
  assert.ok(allow(r, "192.0.2.1", 20));
  assert.ok(!allow(r, "192.0.2.1", 30));
});

test("disabled by a zero size or a zero cutoff", () => {
  for (const r of [new RateLimiter(0, 1000, 0), new RateLimiter(16, 0, 0)]) {
    assert.equal(r.enabled, false);
    assert.ok(allow(r, "192.0.2.1", 0) && allow(r, "192.0.2.1", 0));
  }
});

test("a clock stepped back never causes a drop; across the era boundary works", () => {
  const r = new RateLimiter(8, 1000, 3);
  assert.ok(allow(r, "192.0.2.1", 10_000));
  assert.ok(allow(r, "192.0.2.1", 5_000));
  const a = parseIpAddress("192.0.2.9")!;
  assert.ok(r.allow(a.family, a.words, 0xffffffff, 0x80000000));
  assert.ok(!r.allow(a.family, a.words, 0, 0x00000000)); // 0.5 s later, in era 1
  assert.ok(r.allow(a.family, a.words, 1, 0x00000000));
});

test("bad sizes are configuration errors", () => {
  assert.throws(() => new RateLimiter(-1, 10, 0), /rate-limiting-cache-size/);
  assert.throws(() => new RateLimiter(1.5, 10, 0), /rate-limiting-cache-size/);
  assert.throws(() => new RateLimiter(2 ** 30, 10, 0), /rate-limiting-cache-size/);
  assert.throws(() => new RateLimiter(8, -1, 0), /rate-limiting-cutoff-ms/);
  assert.throws(() => new RateLimiter(8, Number.NaN, 0), /rate-limiting-cutoff-ms/);
});
