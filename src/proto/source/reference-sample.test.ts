import { test } from "node:test";
import assert from "node:assert/strict";
import {
  encodeSockSample,
  parseSockSample,
  ppsMeasurement,
  SOCK_MAGIC,
  SOCK_SAMPLE_SIZE,
} from "./reference-sample.js";

test("a SOCK sample: 40 bytes little-endian, magic 'SOCK' (bytes KCOS)", () => {
  const b = encodeSockSample({ sec: 1_700_000_000, usec: 123_456, offset: -0.0625, leap: 2 });
  assert.equal(b.length, SOCK_SAMPLE_SIZE);
  assert.equal(b.subarray(36).toString("latin1"), "KCOS");
  assert.deepEqual(parseSockSample(b), {
    ok: true,
    sample: { sec: 1_700_000_000, usec: 123_456, offset: -0.0625, leap: 2 },
  });
});

test("bad datagrams are refused by reason", () => {
  const good = { sec: 1_700_000_000, usec: 5, offset: 0.001 };
  const cases: [Buffer, number | undefined, string][] = [
    [encodeSockSample(good).subarray(0, 39), undefined, "length"],
    [Buffer.concat([encodeSockSample(good), Buffer.alloc(1)]), undefined, "length"],
    // Only a prefix of an oversized datagram was read: its real length counts.
    [encodeSockSample(good), 64, "length"],
    [encodeSockSample({ ...good, magic: SOCK_MAGIC + 1 }), undefined, "magic"],
    [encodeSockSample({ ...good, pulse: 1 }), undefined, "pulse"],
    [encodeSockSample({ ...good, leap: 3 }), undefined, "leap"],
    [encodeSockSample({ ...good, leap: -1 }), undefined, "leap"],
    [encodeSockSample({ ...good, usec: 1_000_000 }), undefined, "time"],
    [encodeSockSample({ ...good, sec: 0 }), undefined, "time"],
    [encodeSockSample({ ...good, offset: Number.NaN }), undefined, "time"],
    [encodeSockSample({ ...good, offset: Infinity }), undefined, "time"],
  ];
  for (const [bytes, length, reason] of cases) {
    assert.deepEqual(parseSockSample(bytes, length), { ok: false, reason }, reason);
  }
});

test("a pulse's offset is minus the clock's reading past the period's start", () => {
  assert.ok(Math.abs(ppsMeasurement(1_700_000_000, 200_000_000, 1).offset - -0.2) < 1e-12);
  assert.ok(Math.abs(ppsMeasurement(1_700_000_000, 999_000_000, 1).offset - -0.999) < 1e-12);
  assert.ok(Math.abs(ppsMeasurement(1_700_000_000, 730_000_000, 0.5).offset - -0.23) < 1e-9);
  // Period 2 s: odd seconds are a second past the period's start.
  assert.ok(Math.abs(ppsMeasurement(1_700_000_001, 100_000_000, 2).offset - -1.1) < 1e-9);
  const m = ppsMeasurement(1_700_000_000, 0, 1);
  assert.equal(m.offset === 0 || Object.is(m.offset, -0), true);
  assert.equal(m.delay, 0);
  assert.equal(m.stratum, 0);
});
