// NTS-KE record codec against protocol/vectors/nts_ke.json (copied to
// fixtures/nts_ke.json), the nts.time.nl response and the chrony/NTPsec
// capture streams (fixtures/nts_ke_captures.json); chunking at every byte
// boundary; the message cap; and property tests that no input makes the
// decoder throw.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import vectors from "./fixtures/nts_ke.json" with { type: "json" };
import captures from "./fixtures/nts_ke_captures.json" with { type: "json" };
import {
  type KeDecodeProgress,
  type KeRecord,
  type KeRecordBody,
  DEFAULT_MAX_MESSAGE_LENGTH,
  KeMessageDecoder,
  decodeKeMessage,
  decodeRecordBody,
  encodeRecord,
  encodeRecords,
  recordTypeOf,
} from "./records.js";

const fromHex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, "hex"));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

function decodeOne(hex: string): KeRecord {
  const bytes = fromHex(hex);
  const typeWord = (bytes[0]! << 8) | bytes[1]!;
  const length = (bytes[2]! << 8) | bytes[3]!;
  assert.equal(bytes.length, 4 + length, `vector ${hex} framing`);
  const result = decodeRecordBody(typeWord, bytes.slice(4));
  assert.ok(result.ok, `vector ${hex}: ${result.ok ? "" : result.error.message}`);
  return result.value;
}

// Expected decoding of every record in nts_ke.json → records, keyed by hex.
const expected = new Map<string, KeRecord>([
  ["80000000", { kind: "end-of-message", critical: true }],
  ["800100020000", { kind: "next-protocol", protocols: [0], critical: true }],
  ["8001000400000001", { kind: "next-protocol", protocols: [0, 1], critical: true }],
  ["8001000480010000", { kind: "next-protocol", protocols: [0x8001, 0], critical: true }],
  ["80010000", { kind: "next-protocol", protocols: [], critical: true }],
  ["800200020000", { kind: "error", code: 0, critical: true }],
  ["800200020001", { kind: "error", code: 1, critical: true }],
  ["800200020002", { kind: "error", code: 2, critical: true }],
  ["800300020003", { kind: "warning", code: 3, critical: true }],
  ["800400040011000f", { kind: "aead-algorithm", algorithms: [17, 15], critical: true }],
  ["80040002000f", { kind: "aead-algorithm", algorithms: [15], critical: true }],
  ["80040000", { kind: "aead-algorithm", algorithms: [], critical: true }],
  ["00050003010203", { kind: "new-cookie", cookie: fromHex("010203"), critical: false }],
  ["800600026869", { kind: "server", name: "hi", critical: true }],
  ["80070002007b", { kind: "port", port: 123, critical: true }],
  ["00080000", { kind: "keep-alive", critical: false }],
  ["80090000", { kind: "supported-next-protocols", protocols: [], critical: true }],
  ["8009000400010002", { kind: "supported-next-protocols", protocols: [1, 2], critical: true }],
  ["800a0000", { kind: "supported-algorithms", algorithms: [], critical: true }],
  [
    "800a0008000f002000110040",
    {
      kind: "supported-algorithms",
      algorithms: [
        { id: 15, keyLength: 32 },
        { id: 17, keyLength: 64 },
      ],
      critical: true,
    },
  ],
  [
    "800c000405060708",
    {
      kind: "fixed-key-request",
      c2sKey: fromHex("0506"),
      s2cKey: fromHex("0708"),
      critical: true,
    },
  ],
  ["000d00026869", { kind: "ntp-server-deny", name: "hi", critical: false }],
  ["000e000161", { kind: "authentication", token: "a", critical: false }],
  ["04000000", { kind: "compliant-128gcmsiv-context", critical: false }],
  ["00320002090a", { kind: "unknown", type: 50, critical: false, body: fromHex("090a") }],
  ["80330000", { kind: "unknown", type: 51, critical: true, body: new Uint8Array(0) }],
]);

test("every record vector has an expected decoding", () => {
  assert.equal(vectors.records.length, 26);
  for (const v of vectors.records) assert.ok(expected.has(v.hex), `no expectation for ${v.name}`);
});

for (const v of vectors.records) {
  test(`record vector decodes: ${v.name}`, () => {
    assert.deepEqual(decodeOne(v.hex), expected.get(v.hex));
  });
  test(`record vector re-encodes byte for byte (ntpd-rs C bits): ${v.name}`, () => {
    const record = expected.get(v.hex)!;
    assert.equal(toHex(encodeRecord(record)), v.hex);
  });
  test(`record vector decodes with the critical bit flipped: ${v.name}`, () => {
    const bytes = fromHex(v.hex);
    bytes[0] = bytes[0]! ^ 0x80;
    const flipped = decodeOne(toHex(bytes));
    const original = expected.get(v.hex)!;
    assert.equal(flipped.kind, original.kind);
    assert.equal(flipped.critical, !original.critical);
    assert.deepEqual({ ...flipped, critical: original.critical }, original);
  });
}

test("encoder sets ntpd-rs's critical bits regardless of how a record was received", () => {
  // NTPsec sends AEAD without C; we send it with C.
  assert.equal(
    toHex(encodeRecord({ kind: "aead-algorithm", algorithms: [15], critical: false } as KeRecord)),
    "80040002000f",
  );
  // New Cookie with C on the wire (vector message 16) is encoded without it.
  assert.equal(
    toHex(encodeRecord({ kind: "new-cookie", cookie: fromHex("0102") })),
    "000500020102",
  );
  // Unknown records keep their own bit.
  assert.equal(
    toHex(encodeRecord({ kind: "unknown", type: 0x4f01, critical: true, body: fromHex("aa") })),
    "cf010001aa",
  );
});

test("encoder rejects values a record cannot carry", () => {
  assert.throws(() => encodeRecord({ kind: "port", port: 65536 }), RangeError);
  assert.throws(() => encodeRecord({ kind: "next-protocol", protocols: [-1] }), RangeError);
  assert.throws(() => encodeRecord({ kind: "error", code: 1.5 }), RangeError);
  assert.throws(
    () => encodeRecord({ kind: "new-cookie", cookie: new Uint8Array(65536) }),
    RangeError,
  );
  assert.throws(
    () => encodeRecord({ kind: "unknown", type: 0x8000, critical: false, body: new Uint8Array() }),
    RangeError,
  );
});

const invalidBodies: [string, string][] = [
  ["End of Message with a body", "8000000100"],
  ["Next Protocol with an odd body", "800100030000aa"],
  ["AEAD with an odd body", "80040001aa"],
  ["Error with 3 octets", "80020003000000"],
  ["Error with no body", "80020000"],
  ["Warning with 1 octet", "8003000100"],
  ["Port with 3 octets", "80070003007b00"],
  ["Port with no body", "80070000"],
  ["empty New Cookie", "00050000"],
  ["Server with invalid UTF-8", "80060002c328"],
  ["empty Server", "80060000"],
  ["empty NTP Server Deny", "000d0000"],
  ["Supported Next Protocol List with an odd body", "8009000100"],
  ["Supported Algorithm List with 6 octets", "800a0006000f00200011"],
  ["Fixed Key Request with an odd body", "800c0003050607"],
  ["empty Fixed Key Request", "800c0000"],
  ["Authentication with invalid UTF-8", "000e0001ff"],
];

for (const [name, hex] of invalidBodies) {
  test(`invalid body is a typed error: ${name}`, () => {
    const result = decodeKeMessage(fromHex(hex + "80000000"));
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.error.code, "invalid-body");
      assert.equal(typeof result.error.recordType, "number");
    }
  });
}

test("Keep Alive and record 1024 ignore any body; unknown records keep theirs", () => {
  const r = decodeKeMessage(fromHex("00080002aabb" + "04000001cc" + "7fff0001dd" + "80000000"));
  assert.ok(r.ok);
  assert.deepEqual(
    r.value.map((x) => x.kind),
    ["keep-alive", "compliant-128gcmsiv-context", "unknown", "end-of-message"],
  );
  assert.deepEqual(r.value[2], {
    kind: "unknown",
    type: 0x7fff,
    critical: false,
    body: fromHex("dd"),
  });
});

test("Server and Deny names are UTF-8 (as ntpd-rs); Authentication may be empty", () => {
  const r = decodeKeMessage(
    fromHex("80060005" + toHex(new TextEncoder().encode("zé.n")) + "000e0000" + "80000000"),
  );
  assert.ok(r.ok);
  assert.deepEqual(r.value[0], { kind: "server", name: "zé.n", critical: true });
  assert.deepEqual(r.value[1], { kind: "authentication", token: "", critical: false });
});

// --- whole messages -------------------------------------------------------

const messageStreams: { name: string; hex: string; complete: boolean }[] = [
  ...vectors.messages.map((m) => ({
    name: m.name,
    hex: m.hex,
    complete: m.records.at(-1)?.type === 0,
  })),
  { name: "nts.time.nl real response", hex: vectors.real_response_nts_time_nl.hex, complete: true },
  ...captures.sessions.flatMap((s) => [
    { name: `${s.file} request`, hex: s.request.hex, complete: true },
    { name: `${s.file} response`, hex: s.response.hex, complete: true },
  ]),
];

for (const m of vectors.messages) {
  test(`message vector records: ${m.name}`, () => {
    const decoder = new KeMessageDecoder();
    const progress = decoder.push(fromHex(m.hex));
    const ends = m.records.at(-1)?.type === 0;
    if (!ends) {
      assert.equal(progress.status, "incomplete");
      const end = decoder.end();
      assert.equal(end.status, "error");
      if (end.status === "error") assert.equal(end.error.code, "missing-end-of-message");
      return;
    }
    assert.equal(progress.status, "complete");
    if (progress.status !== "complete") return;
    assert.equal(progress.length, m.hex.length / 2);
    assert.equal(progress.trailing.length, 0);
    assert.equal(progress.records.length, m.records.length);
    progress.records.forEach((r, i) => {
      const want = m.records[i]!;
      const type = encodedType(r);
      assert.equal(type, want.type);
      assert.equal(r.critical, want.critical);
      assert.equal(encodeRecord(r).length - 4, want.length);
    });
  });
}

function encodedType(r: KeRecordBody): number {
  const bytes = encodeRecord(r);
  const type = ((bytes[0]! << 8) | bytes[1]!) & 0x7fff;
  assert.equal(recordTypeOf(r), type);
  return type;
}

test("nts.time.nl response: records as listed (AEAD without C bit, 8 × 104-octet cookies)", () => {
  const real = vectors.real_response_nts_time_nl;
  const r = decodeKeMessage(fromHex(real.hex));
  assert.ok(r.ok);
  assert.equal(real.hex.length / 2, 880);
  assert.equal(r.value.length, real.records.length);
  r.value.forEach((rec, i) => {
    const want = real.records[i]!;
    assert.equal(rec.critical, want.critical);
    assert.equal(encodedType(rec), want.type);
    const bytes = encodeRecord(rec);
    assert.equal(toHex(bytes.subarray(4)), want.body_hex);
  });
});

test("capture streams: records, critical bits and bodies as captured", () => {
  for (const s of captures.sessions) {
    for (const m of [s.request, s.response]) {
      const r = decodeKeMessage(fromHex(m.hex));
      assert.ok(r.ok, s.file);
      assert.equal(m.hex.length / 2, m.length);
      assert.equal(r.value.length, m.records.length);
      r.value.forEach((rec, i) => {
        const want = m.records[i]!;
        assert.equal(encodedType(rec), want.type);
        assert.equal(rec.critical, want.critical, `${s.file} record ${i}`);
        assert.equal(toHex(encodeRecord(rec).subarray(4)), want.body_hex);
      });
    }
  }
});

/**
 * Feeds chunks as a connection would; once the message is complete, later
 * chunks belong to whatever follows (the daemon hands them on together with
 * `trailing`), so they are appended to `trailing` here.
 */
function decodeChunks(chunks: Uint8Array[], max?: number): KeDecodeProgress {
  const decoder = new KeMessageDecoder(max === undefined ? {} : { maxMessageLength: max });
  let last: KeDecodeProgress = { status: "incomplete" };
  const after: Uint8Array[] = [];
  for (const c of chunks) {
    if (last.status === "complete") after.push(c);
    else last = decoder.push(c);
  }
  if (last.status === "incomplete") return decoder.end();
  if (last.status === "complete" && after.length > 0) {
    const trailing = Uint8Array.from([...last.trailing, ...after.flatMap((c) => [...c])]);
    return { ...last, trailing };
  }
  return last;
}

for (const m of messageStreams) {
  test(`split at every byte boundary gives the same records: ${m.name}`, () => {
    const bytes = fromHex(m.hex);
    const whole = decodeChunks([bytes]);
    if (m.complete) assert.equal(whole.status, "complete");
    for (let i = 0; i <= bytes.length; i++) {
      const split = decodeChunks([bytes.subarray(0, i), bytes.subarray(i)]);
      assert.deepEqual(split, whole, `split at ${i}`);
    }
    const oneByOne = decodeChunks(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)));
    assert.deepEqual(oneByOne, whole);
  });
}

test("random three-way splits of every stream give the same result", () => {
  const streams = messageStreams.map((m) => fromHex(m.hex));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: streams.length - 1 }),
      fc.nat(),
      fc.nat(),
      (index, a, b) => {
        const bytes = streams[index]!;
        const i = a % (bytes.length + 1);
        const j = i + (b % (bytes.length - i + 1));
        const chunks = [bytes.subarray(0, i), bytes.subarray(i, j), bytes.subarray(j)];
        assert.deepEqual(decodeChunks(chunks), decodeChunks([bytes]));
      },
    ),
    { numRuns: 500 },
  );
});

test("decoded records do not alias the caller's chunk", () => {
  const bytes = fromHex("00050003010203" + "80000000");
  const r = new KeMessageDecoder().push(bytes);
  assert.equal(r.status, "complete");
  bytes.fill(0);
  if (r.status === "complete") {
    assert.deepEqual(r.records[0], {
      kind: "new-cookie",
      cookie: fromHex("010203"),
      critical: false,
    });
  }
});

test("bytes after End of Message are returned as trailing, not decoded", () => {
  const decoder = new KeMessageDecoder();
  const r = decoder.push(fromHex("80000000" + "80010002"));
  assert.equal(r.status, "complete");
  if (r.status === "complete") {
    assert.equal(r.length, 4);
    assert.equal(toHex(r.trailing), "80010002");
  }
  // Finished: later pushes return the same answer.
  assert.deepEqual(decoder.push(fromHex("0000")), r);
  assert.deepEqual(decoder.end(), r);
  const whole = decodeKeMessage(fromHex("8000000000"));
  assert.ok(!whole.ok);
  if (!whole.ok) assert.equal(whole.error.code, "trailing-data");
});

test("end() without End of Message: missing-end-of-message, also mid-record", () => {
  for (const hex of ["", "80", "8001000200", "800100020000"]) {
    const d = new KeMessageDecoder();
    d.push(fromHex(hex));
    const r = d.end();
    assert.equal(r.status, "error");
    if (r.status === "error") assert.equal(r.error.code, "missing-end-of-message");
  }
});

// --- message cap ------------------------------------------------------------

function cookieMessage(total: number): Uint8Array {
  // One New Cookie padded so that cookie record + EOM = total octets.
  const body = total - 8;
  return encodeRecords([
    { kind: "new-cookie", cookie: new Uint8Array(body).fill(7) },
    { kind: "end-of-message" },
  ]);
}

test("cap: a message of exactly the cap is accepted, one octet more is an error", () => {
  assert.equal(DEFAULT_MAX_MESSAGE_LENGTH, 4096);
  assert.equal(decodeChunks([cookieMessage(4096)]).status, "complete");
  const over = decodeChunks([cookieMessage(4097)]);
  assert.equal(over.status, "error");
  if (over.status === "error") assert.equal(over.error.code, "message-too-long");
  // A parameter, not a constant.
  assert.equal(decodeChunks([cookieMessage(100)], 100).status, "complete");
  assert.equal(decodeChunks([cookieMessage(101)], 100).status, "error");
  assert.equal(decodeChunks([cookieMessage(20000)], 65536).status, "complete");
  assert.throws(() => new KeMessageDecoder({ maxMessageLength: 3 }), RangeError);
});

test("cap: an oversized body is refused at its header, before any body arrives", () => {
  const decoder = new KeMessageDecoder();
  const r = decoder.push(fromHex("0005ffff"));
  assert.equal(r.status, "error");
  if (r.status === "error") {
    assert.equal(r.error.code, "message-too-long");
    assert.equal(r.error.recordType, 5);
  }
  // Later bytes are not buffered: the answer stays the same error.
  assert.deepEqual(decoder.push(new Uint8Array(70000)), r);
});

test("cap: an endless stream of small records without End of Message stops at the cap", () => {
  const decoder = new KeMessageDecoder({ maxMessageLength: 4096 });
  const chunk = fromHex("00320000".repeat(100)); // 400 octets of empty unknown records
  let last: KeDecodeProgress = { status: "incomplete" };
  let fed = 0;
  while (last.status === "incomplete" && fed < 100000) {
    last = decoder.push(chunk);
    fed += chunk.length;
  }
  assert.equal(last.status, "error");
  if (last.status === "error") assert.equal(last.error.code, "message-too-long");
  assert.ok(fed <= 4096 + chunk.length);
  assert.equal(decoder.recordCount, 1024);
});

// --- properties -------------------------------------------------------------

const ERROR_CODES = new Set([
  "message-too-long",
  "invalid-body",
  "missing-end-of-message",
  "trailing-data",
]);

function checkProgress(p: KeDecodeProgress, max: number): void {
  switch (p.status) {
    case "incomplete":
      return;
    case "complete":
      assert.ok(p.length <= max);
      assert.equal(p.records.at(-1)?.kind, "end-of-message");
      return;
    case "error":
      assert.ok(ERROR_CODES.has(p.error.code));
      assert.equal(typeof p.error.message, "string");
      return;
  }
}

test("property: random bytes in random chunks never throw and give a typed result", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 8 }),
      fc.integer({ min: 4, max: 5000 }),
      (chunks, max) => {
        const decoder = new KeMessageDecoder({ maxMessageLength: max });
        for (const c of chunks) checkProgress(decoder.push(c), max);
        checkProgress(decoder.end(), max);
        const joined = Uint8Array.from(chunks.flatMap((c) => [...c]));
        const whole = decodeKeMessage(joined, { maxMessageLength: max });
        if (!whole.ok) assert.ok(ERROR_CODES.has(whole.error.code));
      },
    ),
    { numRuns: 2000 },
  );
});

test("property: random record headers with known types never throw", () => {
  const knownType = fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 1024);
  const record = fc
    .tuple(knownType, fc.boolean(), fc.uint8Array({ maxLength: 40 }))
    .map(([type, critical, body]) => {
      const out = new Uint8Array(4 + body.length);
      out[0] = (type >> 8) | (critical ? 0x80 : 0);
      out[1] = type & 0xff;
      out[2] = body.length >> 8;
      out[3] = body.length & 0xff;
      out.set(body, 4);
      return out;
    });
  fc.assert(
    fc.property(fc.array(record, { maxLength: 12 }), (records) => {
      const bytes = Uint8Array.from(records.flatMap((r) => [...r]));
      const result = decodeKeMessage(Uint8Array.from([...bytes, 0x80, 0, 0, 0]));
      if (!result.ok) assert.ok(ERROR_CODES.has(result.error.code));
    }),
    { numRuns: 2000 },
  );
});

test("property: mutated real messages never throw", () => {
  const seeds = messageStreams.map((m) => fromHex(m.hex));
  const mutation = fc.oneof(
    fc.record({
      op: fc.constant("flip" as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
    fc.record({ op: fc.constant("delete" as const), at: fc.nat(), value: fc.nat(20) }),
    fc.record({
      op: fc.constant("insert" as const),
      at: fc.nat(),
      value: fc.integer({ min: 0, max: 255 }),
    }),
  );
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: seeds.length - 1 }),
      fc.array(mutation, { minLength: 1, maxLength: 6 }),
      fc.nat(),
      (index, mutations, splitAt) => {
        const bytes = [...seeds[index]!];
        for (const m of mutations) {
          const at = bytes.length === 0 ? 0 : m.at % bytes.length;
          if (m.op === "flip") bytes[at] = m.value;
          else if (m.op === "delete") bytes.splice(at, m.value);
          else bytes.splice(at, 0, m.value);
        }
        const buf = Uint8Array.from(bytes);
        const i = splitAt % (buf.length + 1);
        const p = decodeChunks([buf.subarray(0, i), buf.subarray(i)]);
        checkProgress(p, DEFAULT_MAX_MESSAGE_LENGTH);
        assert.deepEqual(p, decodeChunks([buf]));
      },
    ),
    { numRuns: 2000 },
  );
});

const u16 = fc.integer({ min: 0, max: 0xffff });
const text = fc.string({ minLength: 1, maxLength: 20 });
const bytes1 = fc.uint8Array({ minLength: 1, maxLength: 40 });
const arbitraryRecord: fc.Arbitrary<KeRecordBody> = fc.oneof(
  fc.constant({ kind: "keep-alive" as const }),
  fc.constant({ kind: "compliant-128gcmsiv-context" as const }),
  fc
    .array(u16, { maxLength: 6 })
    .map((protocols) => ({ kind: "next-protocol" as const, protocols })),
  fc
    .array(u16, { maxLength: 6 })
    .map((algorithms) => ({ kind: "aead-algorithm" as const, algorithms })),
  fc.array(u16, { maxLength: 6 }).map((protocols) => ({
    kind: "supported-next-protocols" as const,
    protocols,
  })),
  fc
    .array(
      fc.tuple(u16, u16).map(([id, keyLength]) => ({ id, keyLength })),
      { maxLength: 4 },
    )
    .map((algorithms) => ({ kind: "supported-algorithms" as const, algorithms })),
  u16.map((code) => ({ kind: "error" as const, code })),
  u16.map((code) => ({ kind: "warning" as const, code })),
  u16.map((port) => ({ kind: "port" as const, port })),
  bytes1.map((cookie) => ({ kind: "new-cookie" as const, cookie })),
  text.map((name) => ({ kind: "server" as const, name })),
  text.map((name) => ({ kind: "ntp-server-deny" as const, name })),
  fc.string({ maxLength: 20 }).map((token) => ({ kind: "authentication" as const, token })),
  bytes1.map((k) => ({
    kind: "fixed-key-request" as const,
    c2sKey: k,
    s2cKey: k.map((x) => x ^ 1),
  })),
  fc
    .tuple(fc.integer({ min: 15, max: 0x7fff }), fc.boolean(), fc.uint8Array({ maxLength: 20 }))
    .filter(([t]) => t !== 1024)
    .map(([type, critical, body]) => ({ kind: "unknown" as const, type, critical, body })),
);

const normalize = (t: string): string => new TextDecoder().decode(new TextEncoder().encode(t));

test("property: encode then decode gives the records back", () => {
  fc.assert(
    fc.property(fc.array(arbitraryRecord, { maxLength: 10 }), (records) => {
      const bytes = encodeRecords([...records, { kind: "end-of-message" }]);
      const result = decodeKeMessage(bytes, { maxMessageLength: 65536 });
      assert.ok(result.ok);
      const decoded = result.value.slice(0, -1);
      assert.equal(decoded.length, records.length);
      decoded.forEach((d, i) => {
        const want = records[i]!;
        assert.equal(d.kind, want.kind);
        // The critical bit is ntpd-rs's for known kinds, the record's own for unknown ones.
        assert.equal(d.critical, (encodeRecord(want)[0]! & 0x80) !== 0);
        if (want.kind === "unknown") return assert.deepEqual(d, want);
        const { critical: _critical, ...body } = d;
        // Lone surrogates become U+FFFD in UTF-8, as TextEncoder writes them.
        if (want.kind === "server" || want.kind === "ntp-server-deny") {
          return assert.deepEqual(body, { ...want, name: normalize(want.name) });
        }
        if (want.kind === "authentication") {
          return assert.deepEqual(body, { ...want, token: normalize(want.token) });
        }
        assert.deepEqual(body, want);
      });
    }),
    { numRuns: 1000 },
  );
});
