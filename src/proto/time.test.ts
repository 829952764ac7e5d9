// NtpTimestamp and friends against protocol/vectors/ntp_timestamps.json (values
// copied here so the test needs nothing outside the repository).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  decodeShortFormat,
  encodeShortFormat,
  log2ToSeconds,
  NtpTimestamp,
  NTP_UNIX_OFFSET_SECONDS,
  offsetAndDelay,
} from "./time.js";

const ts = (hex: string): NtpTimestamp => NtpTimestamp.fromBits(BigInt(`0x${hex}`));
const hex = (t: NtpTimestamp): string => t.toBits().toString(16).padStart(16, "0");

// ntp_timestamps.json → encode
const encodeVectors = [
  {
    label: "prime epoch",
    unix: -2208988800,
    nanos: 0,
    era: 0,
    fraction: 0,
    hex: "0000000000000000",
  },
  { label: "Unix epoch", unix: 0, nanos: 0, era: 0, fraction: 0, hex: "83aa7e8000000000" },
  {
    label: "UTC start 1972",
    unix: 63072000,
    nanos: 0,
    era: 0,
    fraction: 0,
    hex: "876ce58000000000",
  },
  { label: "1 Jan 2000", unix: 946684800, nanos: 0, era: 0, fraction: 0, hex: "bc17c20000000000" },
  {
    label: "half second",
    unix: 0,
    nanos: 500000000,
    era: 0,
    fraction: 2147483648,
    hex: "83aa7e8080000000",
  },
  { label: "1 µs", unix: 0, nanos: 1000, era: 0, fraction: 4294, hex: "83aa7e80000010c6" },
  { label: "1 ms", unix: 0, nanos: 1000000, era: 0, fraction: 4294967, hex: "83aa7e8000418937" },
  {
    label: "last second of era 0",
    unix: 2085978495,
    nanos: 0,
    era: 0,
    fraction: 0,
    hex: "ffffffff00000000",
  },
  {
    label: "era 1 start",
    unix: 2085978496,
    nanos: 0,
    era: 1,
    fraction: 0,
    hex: "0000000000000000",
  },
  { label: "1 Jan 2040", unix: 2208988800, nanos: 0, era: 1, fraction: 0, hex: "0754fd0000000000" },
];

for (const v of encodeVectors) {
  test(`fromUnix: ${v.label}`, () => {
    const t = NtpTimestamp.fromUnix(v.unix, v.nanos);
    assert.equal(hex(t), v.hex);
    assert.equal(t.fraction, v.fraction);
    assert.equal(
      NtpTimestamp.fromUnixNanos(BigInt(v.unix) * 1_000_000_000n + BigInt(v.nanos)).toBits(),
      t.toBits(),
    );
    // Back again, with the era resolved by a pivot at the instant itself. Both
    // directions floor (NTP.md §2.1), so the round trip may lose 1 ns.
    const back = t.toUnixNanos(v.unix);
    const exact = BigInt(v.unix) * 1_000_000_000n + BigInt(v.nanos);
    assert.ok(back === exact || back === exact - 1n, `${back} vs ${exact}`);
  });
}

test("the era is resolved from the pivot", () => {
  // Era 1 start and the prime epoch share the wire value 0.
  const zero = ts("0000000000000000");
  assert.equal(zero.toUnixNanos(2085978496), 2085978496n * 1_000_000_000n);
  assert.equal(zero.toUnixNanos(-2208988800), -2208988800n * 1_000_000_000n);
  // The last second of era 0, seen from just after the rollover, stays in era 0.
  assert.equal(ts("ffffffff00000000").toUnixSeconds(2085978496 + 10), 2085978495);
  // The first second of era 1, seen from just before the rollover, is in era 1.
  assert.equal(ts("0000000100000000").toUnixSeconds(2085978495 - 10), 2085978497);
});

// ntp_timestamps.json → decode
const decodeVectors = [
  { hex: "e5f663a8761dde48", era: 0, unix: 1649141032, frac: 0.461393254 },
  { hex: "e84948b2b644bff8", era: 0, unix: 1688128050, frac: 0.71198654 },
  { hex: "4e5450354e545035", era: 0, unix: -894840395, frac: 0.305974019 },
  { hex: "4e5450354e545035", era: 1, unix: 3400126901, frac: 0.305974019 },
  { hex: "4e54503544524654", era: 0, unix: -894840395, frac: 0.266880413 },
];

for (const v of decodeVectors) {
  test(`decode ${v.hex} in era ${v.era}`, () => {
    const t = ts(v.hex);
    const nanos = t.toUnixNanos(v.unix);
    const seconds =
      nanos / 1_000_000_000n - (nanos < 0n && nanos % 1_000_000_000n !== 0n ? 1n : 0n);
    assert.equal(Number(seconds), v.unix);
    const fractionNanos = Number(nanos - seconds * 1_000_000_000n);
    assert.ok(Math.abs(fractionNanos / 1e9 - v.frac) < 1e-9, `${fractionNanos}`);
    // Seconds of era offset plus era * 2^32 give the Unix time.
    assert.equal(v.era * 2 ** 32 + t.seconds - NTP_UNIX_OFFSET_SECONDS, v.unix);
  });
}

test("wrapping differences (ntp_timestamps.json)", () => {
  // Across the era 0 → 1 boundary: +1 s.
  assert.equal(ts("0000000080000000").diffSeconds(ts("ffffffff80000000")), 1);
  assert.equal(ts("ffffffff80000000").diffSeconds(ts("0000000080000000")), -1);
  assert.equal(ts("e5f663a8798c6581").diffSeconds(ts("e5f663a87619ef40")), 0.013465300435200334);
});

test("fraction rules: floor(ns * 2^32 / 1e9)", () => {
  assert.equal(NtpTimestamp.fromUnix(0, 999_999_999).fraction, 0xfffffffb);
  assert.equal(NtpTimestamp.fromUnix(0, 1).fraction, 4);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 999_999_999 }), (ns) => {
      const expected = Number((BigInt(ns) << 32n) / 1_000_000_000n);
      assert.equal(NtpTimestamp.fromUnix(0, ns).fraction, expected);
    }),
  );
});

test("short format (ntp_timestamps.json)", () => {
  const vectors: [string, number][] = [
    ["00010000", 1],
    ["00008000", 0.5],
    ["000003ff", 0.0156097412109375],
    ["00000236", 0.008636474609375],
    ["000003b7", 0.0145111083984375],
    ["00000060", 0.00146484375],
  ];
  for (const [h, seconds] of vectors) {
    assert.equal(decodeShortFormat(parseInt(h, 16)), seconds);
    assert.equal(encodeShortFormat(seconds), parseInt(h, 16));
  }
  // Truncates, saturates, never negative.
  assert.equal(encodeShortFormat(1.5 / 65536), 1);
  assert.equal(encodeShortFormat(70000), 0xffffffff);
  assert.equal(encodeShortFormat(-1), 0);
  assert.equal(encodeShortFormat(Number.NaN), 0);
  assert.equal(decodeShortFormat(0xffffffff), 65535.9999847412109375);
});

test("log2 fields (ntp_timestamps.json)", () => {
  const vectors: [number, number][] = [
    [6, 64],
    [10, 1024],
    [4, 16],
    [17, 131072],
    [-6, 0.015625],
    [-18, 0.000003814697265625],
    [-20, 9.5367431640625e-7],
    [-24, 5.960464477539063e-8],
    [-29, 1.862645149230957e-9],
  ];
  for (const [log2, seconds] of vectors) assert.equal(log2ToSeconds(log2), seconds);
});

test("offset and delay worked example (ntp_packets.json)", () => {
  const r = offsetAndDelay(
    ts("e5f663a87619ef40"),
    ts("e5f663a8798c6581"),
    ts("e5f663a8798eae2b"),
    ts("e5f663a883cc1ecf"),
  );
  assert.ok(Math.abs(r.offset - -0.013267349801026285) < 1e-15);
  assert.ok(Math.abs(r.delay - 0.05346530047245324) < 1e-15);
});

test("truncatedSeconds clears the fraction and the low bits", () => {
  const t = ts("e5f663a8761dde48");
  const r = t.truncatedSeconds(7);
  assert.equal(r.fraction, 0);
  assert.equal(r.seconds, 0xe5f66380);
  assert.equal(ts("ffffffffffffffff").truncatedSeconds(7).seconds, 0xffffff80);
});

test("addSeconds wraps at the era and agrees with diffSeconds", () => {
  const last = ts("ffffffff80000000");
  assert.equal(hex(last.addSeconds(1)), "0000000080000000");
  assert.equal(hex(ts("0000000080000000").addSeconds(-1)), "ffffffff80000000");
  fc.assert(
    fc.property(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      (bits, delta) => {
        const a = NtpTimestamp.fromBits(bits);
        const b = a.addSeconds(delta);
        assert.ok(Math.abs(b.diffSeconds(a) - delta) < 1e-6);
      },
    ),
  );
});

test("toBits/fromBits round trip, isZero, equals", () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), (bits) => {
      const t = NtpTimestamp.fromBits(bits);
      assert.equal(t.toBits(), bits);
      assert.ok(t.equals(NtpTimestamp.fromBits(bits)));
    }),
  );
  assert.ok(NtpTimestamp.ZERO.isZero());
  assert.ok(!ts("0000000000000001").isZero());
});
