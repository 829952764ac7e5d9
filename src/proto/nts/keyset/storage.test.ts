import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import fc from "fast-check";
import { AeadId } from "../../crypto/aead.js";
import { decodeCookie, encodeCookie } from "../cookie/cookie.js";
import { KeySet } from "./keyset.js";
import {
  KEY_FILE_HEADER_LENGTH,
  nextRotationDelay,
  parseKeySet,
  serializeKeySet,
  type KeyFileErrorCode,
} from "./storage.js";

const random = (n: number): Uint8Array => randomBytes(n);

/** A key file built by hand, the way ntpd-rs `KeySetProvider::store` writes it. */
function keyFile(time: bigint, idOffset: number, primary: number, keys: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(20 + 64 * keys.length);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, time);
  view.setUint32(8, idOffset);
  view.setUint32(12, primary);
  view.setUint32(16, keys.length);
  keys.forEach((k, i) => out.set(k, 20 + 64 * i));
  return out;
}

const keys = (n: number): Uint8Array[] =>
  Array.from({ length: n }, (_, i) => new Uint8Array(64).fill(i + 1));

test("serialize writes the ntpd-rs layout", () => {
  const ks = KeySet.fromParts({ keys: keys(3), idOffset: 0x01020304, primary: 2 });
  const bytes = serializeKeySet(ks, 1_700_000_000.9);
  assert.equal(KEY_FILE_HEADER_LENGTH, 20);
  assert.deepEqual(bytes, keyFile(1_700_000_000n, 0x01020304, 2, keys(3)));
  assert.equal(
    Buffer.from(bytes.subarray(0, 20)).toString("hex"),
    "000000006553f100" + "01020304" + "00000002" + "00000003",
  );
});

test("serialize → parse round trip keeps keys, ids, primary and time; old cookies still open", () => {
  const ks = KeySet.generate(random);
  const contents = { aead: AeadId.AES_SIV_CMAC_512, c2s: random(64), s2c: random(64) };
  const cookies = [encodeCookie(ks, contents, random)];
  for (let i = 0; i < 9; i++) {
    ks.rotate(random);
    cookies.push(encodeCookie(ks, contents, random));
  }
  const parsed = parseKeySet(serializeKeySet(ks, 1234567890));
  assert.ok(parsed.ok, parsed.ok ? "" : parsed.error);
  assert.equal(parsed.storedAt, 1234567890);
  const copy = parsed.keyset;
  assert.deepEqual(copy.ids(), ks.ids());
  assert.equal(copy.primaryId, ks.primaryId);
  assert.equal(copy.idOffset, ks.idOffset);
  for (let i = 0; i < ks.size; i++) assert.deepEqual(copy.keyBytes(i), ks.keyBytes(i));
  assert.equal(decodeCookie(copy, cookies[0]!), null, "rotated out before the store");
  for (const c of cookies.slice(2)) assert.ok(decodeCookie(copy, c) !== null);
  // Both copies rotate the same way from here on.
  copy.rotate(random);
  ks.rotate(random);
  assert.deepEqual(copy.ids(), ks.ids());
});

test("a hand-made ntpd-rs file with a primary that is not the last key loads", () => {
  const bytes = keyFile(5n, 42, 1, keys(3));
  const parsed = parseKeySet(bytes, 7);
  assert.ok(parsed.ok);
  assert.equal(parsed.keyset.primaryId, 43);
  assert.equal(parsed.keyset.staleKeyCount, 7);
  assert.deepEqual(parsed.keyset.ids(), [42, 43, 44]);
  // Parsing a view at an offset into a larger buffer works too.
  const big = new Uint8Array(bytes.length + 3);
  big.set(bytes, 3);
  assert.ok(parseKeySet(big.subarray(3)).ok);
});

test("every corruption class has its own code and message", () => {
  const good = keyFile(1_700_000_000n, 0, 1, keys(3));
  const withTime = Uint8Array.from(good);
  new DataView(withTime.buffer).setBigUint64(0, 0xffffffffffffffffn);
  const zeroKey = keys(3);
  zeroKey[1]!.fill(0);
  const dupKey = keys(3);
  dupKey[2]!.fill(1);
  const trailing = new Uint8Array(good.length + 1);
  trailing.set(good);

  const cases: [KeyFileErrorCode, Uint8Array, RegExp][] = [
    ["empty", new Uint8Array(0), /empty/],
    ["short-header", good.subarray(0, 19), /19 octets, shorter than its 20-octet header/],
    ["time-out-of-range", withTime, /18446744073709551615/],
    ["no-keys", keyFile(1n, 0, 0, []), /no keys/],
    ["truncated", good.subarray(0, good.length - 1), /truncated.*3 keys \(212 octets\).*211/],
    ["trailing-data", trailing, /1 octets after the 3 keys/],
    ["primary-out-of-range", keyFile(1n, 0, 3, keys(3)), /primary index 3 .* key count 3/],
    ["primary-out-of-range", keyFile(1n, 0, 0xffffffff, keys(1)), /4294967295/],
    ["zero-key", keyFile(1n, 10, 0, zeroKey), /key 1 \(id 11\) is all zeros/],
    ["duplicate-key", keyFile(1n, 0, 0, dupKey), /key 2 is identical to key 0/],
  ];
  const messages = new Set<string>();
  const codes = new Set<string>();
  for (const [code, bytes, message] of cases) {
    const r = parseKeySet(bytes);
    assert.ok(!r.ok, code);
    assert.equal(r.code, code);
    assert.match(r.error, message);
    messages.add(r.error);
    codes.add(r.code);
  }
  assert.equal(messages.size, cases.length, "no two corruptions read alike");
  assert.equal(codes.size, 9);
  assert.ok(parseKeySet(good).ok, "the uncorrupted file is fine");
});

test("a zero-filled file (crash after truncate) is rejected", () => {
  const r = parseKeySet(new Uint8Array(20 + 64 * 8));
  assert.ok(!r.ok);
  assert.equal(r.code, "no-keys");
});

test("serialize refuses impossible times", () => {
  const ks = KeySet.generate(random);
  assert.throws(() => serializeKeySet(ks, -1), RangeError);
  assert.throws(() => serializeKeySet(ks, NaN), RangeError);
  assert.throws(() => serializeKeySet(ks, Infinity), RangeError);
  assert.equal(parseKeySet(serializeKeySet(ks, 0)).ok, true);
});

test("nextRotationDelay follows ntpd-rs: interval − elapsed, clamped at 0", () => {
  assert.equal(nextRotationDelay(1000, 1000, 86400), 86400);
  assert.equal(nextRotationDelay(1000, 4600, 86400), 82800);
  assert.equal(nextRotationDelay(1000, 1000 + 86400, 86400), 0);
  assert.equal(nextRotationDelay(1000, 1000 + 10 * 86400, 86400), 0);
  assert.equal(nextRotationDelay(5000, 1000, 86400), 86400, "stored in the future: full interval");
});

const codes = new Set<string>([
  "empty",
  "short-header",
  "time-out-of-range",
  "no-keys",
  "truncated",
  "trailing-data",
  "primary-out-of-range",
  "zero-key",
  "duplicate-key",
]);

test("property: random bytes never throw and fail with a known code", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
      const r = parseKeySet(bytes);
      if (!r.ok) assert.ok(codes.has(r.code) && r.error.length > 0);
    }),
    { numRuns: 2000 },
  );
});

test("property: header-plausible random files never throw", () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.nat(0xffffffff),
      fc.nat(10),
      fc.nat(10),
      fc.integer({ min: -70, max: 70 }),
      (time, offset, primary, n, slack) => {
        const file = keyFile(time, offset, primary, keys(n));
        const bytes = new Uint8Array(Math.max(0, file.length + slack));
        bytes.set(file.subarray(0, bytes.length));
        const r = parseKeySet(bytes);
        const valid =
          slack === 0 && n > 0 && primary < n && time <= BigInt(Number.MAX_SAFE_INTEGER);
        assert.equal(r.ok, valid, r.ok ? "" : r.error);
        if (r.ok) assert.equal(r.keyset.primaryId, (offset + primary) >>> 0);
      },
    ),
    { numRuns: 2000 },
  );
});
