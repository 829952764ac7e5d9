// The control socket's requests: what decodes, what is refused and why, and
// which entry a `remove` argument names.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ControlRequestError,
  decodeControlRequest,
  encodeControlMessage,
  matchSourceEntry,
  type ControlSourceEntry,
} from "./control-protocol.js";

test("the three requests decode", () => {
  assert.deepEqual(decodeControlRequest('{"command":"source-list"}'), { command: "source-list" });
  assert.deepEqual(decodeControlRequest('{"command":"source-add","source":"x"}'), {
    command: "source-add",
    source: "x",
  });
  assert.deepEqual(decodeControlRequest('{"source":"3","command":"source-remove"}'), {
    command: "source-remove",
    source: "3",
  });
});

test("anything else is a ControlRequestError with a reason", () => {
  for (const [text, reason] of [
    ["", /not JSON/],
    ["null", /not a JSON object/],
    ['"source-list"', /not a JSON object/],
    ["{}", /no "command"/],
    ['{"command":1}', /no "command"/],
    ['{"command":"source-list","source":"x"}', /unknown request field "source"/],
    ['{"command":"source-add","source":""}', /non-empty "source"/],
    ['{"command":"source-remove","source":3}', /non-empty "source"/],
    [`{"command":"${"x".repeat(1000)}"}`, /^unknown command "x{40}"$/],
    ['{"command":"source-list","__proto__":{}}', /unknown request field "__proto__"/],
  ] as const) {
    assert.throws(
      () => decodeControlRequest(text),
      (e: unknown) => {
        assert.ok(e instanceof ControlRequestError);
        assert.match(e.message, reason);
        return true;
      },
    );
  }
});

test("a message is the u64 big-endian length and the JSON", () => {
  const bytes = encodeControlMessage({ ok: false, error: "é" });
  assert.equal(bytes.readBigUInt64BE(0), BigInt(bytes.length - 8));
  assert.deepEqual(JSON.parse(bytes.subarray(8).toString("utf8")), { ok: false, error: "é" });
});

const entries: ControlSourceEntry[] = [
  {
    mode: "server",
    address: "127.0.0.1:123",
    origin: "config",
    sources: [{ id: 4, address: "127.0.0.1:123" }],
  },
  {
    mode: "pool",
    address: "pool.example:123",
    origin: "runtime",
    sources: [
      { id: 7, address: "192.0.2.1:123" },
      { id: 8, address: "192.0.2.2:123" },
    ],
  },
  { mode: "nts", address: "[2001:db8::1]:4460", origin: "runtime", sources: [] },
  { mode: "server", address: "pool.example:124", origin: "runtime", sources: [] },
];

test("remove names an entry by a running source's id or by its address", () => {
  assert.equal(matchSourceEntry(entries, "4"), 0);
  assert.equal(matchSourceEntry(entries, "8"), 1);
  assert.equal(matchSourceEntry(entries, "127.0.0.1:123"), 0);
  assert.equal(matchSourceEntry(entries, "127.0.0.1"), 0);
  assert.equal(matchSourceEntry(entries, "2001:db8::1"), 2);
  assert.equal(matchSourceEntry(entries, "[2001:db8::1]:4460"), 2);
  assert.equal(matchSourceEntry(entries, "pool.example:124"), 3);
  assert.match(String(matchSourceEntry(entries, "pool.example")), /2 sources have the address/);
  assert.match(String(matchSourceEntry(entries, "9")), /no running source has id 9/);
  assert.match(String(matchSourceEntry(entries, "other")), /no source has the address "other"/);
});
