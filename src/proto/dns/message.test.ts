import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { decodeDnsResponse, DnsType, encodeDnsQuery, orderSrvAnswers } from "./message.js";

const hex = (s: string) => new Uint8Array(Buffer.from(s.replace(/\s+/g, ""), "hex"));

test("a query asks recursively with the AD bit and an EDNS OPT record", () => {
  const q = encodeDnsQuery(0x1234, "_ntske._tcp.Pool.Test.", DnsType.SRV);
  assert.deepEqual(
    Buffer.from(q).toString("hex"),
    "1234" +
      "0120" +
      "0001" +
      "0000" +
      "0000" +
      "0001" +
      "065f6e74736b65045f74637004706f6f6c047465737400" +
      "0021" +
      "0001" +
      "00" +
      "0029" +
      "04d0" +
      "00000000" +
      "0000",
  );
  assert.throws(() => encodeDnsQuery(1, "a..b", DnsType.A), RangeError);
  assert.throws(() => encodeDnsQuery(1, `${"x".repeat(64)}.test`, DnsType.A), RangeError);
});

test("a response with a compressed SRV target, A and AAAA answers decodes", () => {
  // Header: id 1, QR RD RA AD, 1 question, 3 answers. Question pool.test SRV.
  const message = hex(`
    0001 81a0 0001 0003 0000 0000
    04706f6f6c 0474657374 00 0021 0001
    c00c 0021 0001 0000003c 000a 000a 0005 115c 0161 c00c
    c00c 0001 0001 0000003c 0004 7f000002
    c00c 001c 0001 0000003c 0010 20010db8000000000000000000000001`);
  const r = decodeDnsResponse(message, 1);
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.value.authenticData, true);
  assert.equal(r.value.rcode, 0);
  assert.deepEqual(r.value.question, { name: "pool.test", type: DnsType.SRV });
  assert.deepEqual(r.value.srv, [{ priority: 10, weight: 5, port: 4444, target: "a.pool.test" }]);
  assert.deepEqual(r.value.addresses, ["127.0.0.2", "2001:db8::1"]);
  assert.equal(decodeDnsResponse(message, 2).ok, false, "another id");
});

test("malformed responses are errors, never exceptions or loops", () => {
  const loop = hex("0001 8180 0000 0001 0000 0000 c00c 0021 0001 0000003c 0000");
  const r = decodeDnsResponse(loop, 1);
  assert.ok(!r.ok && /compression loop/.test(r.error), JSON.stringify(r));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const message = new Uint8Array([0, 1, 0x81, 0x80, ...bytes]);
      decodeDnsResponse(message, 1); // must return, whatever the bytes
    }),
    { numRuns: 2000 },
  );
});

test("SRV order: priority first, then weighted; weight 0 last", () => {
  const a = { priority: 1, weight: 0, port: 1, target: "zero" };
  const b = { priority: 1, weight: 10, port: 1, target: "heavy" };
  const c = { priority: 0, weight: 1, port: 1, target: "first" };
  const d = { priority: 1, weight: 1, port: 1, target: "light" };
  let heavyFirst = 0;
  let state = 7;
  const random = () => (state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 1000; i++) {
    const order = orderSrvAnswers([a, b, c, d], random).map((x) => x.target);
    assert.equal(order[0], "first");
    assert.equal(order[3], "zero");
    if (order[1] === "heavy") heavyFirst++;
  }
  // Weight 10 against 1: about 10/11 of the time (a fixed pseudo-random sequence).
  assert.ok(heavyFirst > 850 && heavyFirst < 970, String(heavyFirst));
});
