// AES-CMAC and GF(2^128) doubling against RFC 4493 / SP 800-38B / miscreant
// vectors (fixtures/ copies of protocol/vectors/) and @noble/ciphers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createCipheriv } from "node:crypto";
import fc from "fast-check";
import { cmac as nobleCmac } from "@noble/ciphers/aes.js";
import { AesCmac, aesAlgorithm, aesCmac, dbl, dblInto } from "./cmac.js";
import cmacVectors from "./fixtures/aes_cmac.json" with { type: "json" };
import dblVectors from "./fixtures/gf128_dbl.json" with { type: "json" };

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString("hex");

/** Reference dbl on a bigint: the definition, with its branch. */
function dblReference(block: Uint8Array): string {
  const x = BigInt(`0x${toHex(block)}`);
  let y = (x << 1n) & ((1n << 128n) - 1n);
  if (x >> 127n === 1n) y ^= 0x87n;
  return y.toString(16).padStart(32, "0");
}

test("dbl: every gf128_dbl.json vector", () => {
  for (const v of dblVectors.vectors) {
    assert.equal(toHex(dbl(hex(v.input))), v.output, v.input);
    const inPlace = hex(v.input);
    dblInto(inPlace, inPlace);
    assert.equal(toHex(inPlace), v.output, `${v.input} in place`);
  }
});

test("dbl: matches the bigint definition for random blocks", () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (block) => {
      assert.equal(toHex(dbl(block)), dblReference(block));
    }),
    { numRuns: 2000 },
  );
});

test("dbl: rejects blocks that are not 16 octets", () => {
  assert.throws(() => dbl(new Uint8Array(15)), RangeError);
  assert.throws(() => dbl(new Uint8Array(17)), RangeError);
});

test("CMAC subkeys: RFC 4493 §4 L, K1, K2 from dbl", () => {
  const s = cmacVectors.subkey_generation;
  const ecb = createCipheriv("aes-128-ecb", hex(s.key), null);
  ecb.setAutoPadding(false);
  const l = ecb.update(new Uint8Array(16));
  assert.equal(toHex(l), s.aes_k_zero);
  const k1 = dbl(l);
  assert.equal(toHex(k1), s.k1);
  assert.equal(toHex(dbl(k1)), s.k2);
});

test("CMAC: every aes_cmac.json vector (AES-128 and AES-256), fresh and cached key", () => {
  const cached = new Map<string, AesCmac>();
  for (const v of cmacVectors.vectors) {
    assert.equal(toHex(aesCmac(hex(v.key), hex(v.message))), v.tag, v.name);
    let mac = cached.get(v.key);
    if (mac === undefined) {
      mac = new AesCmac(hex(v.key));
      cached.set(v.key, mac);
    }
    assert.equal(toHex(mac.mac(hex(v.message))), v.tag, `${v.name} (cached)`);
    assert.equal(mac.verify(hex(v.message), hex(v.tag)), true);
  }
  // Run them all again on the cached objects: the CBC chain restarts correctly.
  for (const v of cmacVectors.vectors) {
    assert.equal(toHex(cached.get(v.key)!.mac(hex(v.message))), v.tag, `${v.name} (again)`);
  }
});

test("CMAC: verify rejects a flipped bit and a wrong-length tag", () => {
  const v = cmacVectors.vectors[2]!;
  const mac = new AesCmac(hex(v.key));
  const tag = hex(v.tag);
  for (let bit = 0; bit < 128; bit++) {
    const bad = tag.slice();
    bad[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(mac.verify(hex(v.message), bad), false);
  }
  assert.equal(mac.verify(hex(v.message), tag.subarray(0, 15)), false);
  assert.equal(mac.verify(new Uint8Array(0), tag), false);
});

test("CMAC: macInto with xorEnd equals CMAC of the xorend'ed message and leaves it intact", () => {
  const mac = new AesCmac(hex(cmacVectors.vectors[0]!.key));
  const message = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9e");
  const d = hex("00112233445566778899aabbccddeeff");
  const copy = message.slice();
  const out = new Uint8Array(20);
  mac.macInto(message, out, 4, d);
  const expected = message.slice();
  for (let i = 0; i < 16; i++) expected[expected.length - 16 + i]! ^= d[i]!;
  assert.equal(toHex(out.subarray(4)), toHex(mac.mac(expected)));
  assert.deepEqual(message, copy);
  assert.throws(() => mac.macInto(new Uint8Array(15), out, 0, d), RangeError);
});

test("CMAC: rejects AES keys that are not 16, 24 or 32 octets", () => {
  for (const n of [0, 15, 17, 31, 33, 64]) {
    assert.throws(() => new AesCmac(new Uint8Array(n)), RangeError);
  }
  assert.equal(aesAlgorithm(24, "cbc"), "aes-192-cbc");
});

test("CMAC: equals @noble/ciphers cmac for random keys and messages on one cached object", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(16, 24, 32).chain((n) => fc.uint8Array({ minLength: n, maxLength: n })),
      fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 5 }),
      (key, messages) => {
        const mac = new AesCmac(key);
        for (const m of messages) assert.equal(toHex(mac.mac(m)), toHex(nobleCmac(m, key)));
      },
    ),
    { numRuns: 500 },
  );
});

test("CMAC: messages longer than the scratch buffer", () => {
  const key = hex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4");
  const mac = new AesCmac(key);
  for (const n of [4095, 4096, 4097, 10000]) {
    const m = Uint8Array.from({ length: n }, (_, i) => (i * 7) & 0xff);
    assert.equal(toHex(mac.mac(m)), toHex(nobleCmac(m, key)), `${n} octets`);
  }
});
