// Real NTS traffic through createAead: the ntpd-rs captured pair (AEAD 17),
// chrony <-> chrony / NTPsec captures (AEAD 15), the synthetic AEAD 15 pair and
// an ntpd-rs-layout cookie. fixtures/nts_packets.json says where each came from.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createAead, isSupportedAead } from "./registry.js";
import fixture from "./fixtures/nts_packets.json" with { type: "json" };

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, "hex"));
const toHex = (u: Uint8Array): string => Buffer.from(u).toString("hex");

function flipBit(data: Uint8Array, bit: number): Uint8Array {
  const out = data.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

/** Associated data, nonce and ciphertext of the 0x0404 field at `offset` (NTS.md §5.4). */
function authenticator(packet: Uint8Array, offset: number) {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  assert.equal(view.getUint16(offset), 0x0404);
  const nonceLength = view.getUint16(offset + 4);
  const ciphertextLength = view.getUint16(offset + 6);
  const nonceStart = offset + 8;
  const ciphertextStart = nonceStart + ((nonceLength + 3) & ~3);
  assert.ok(ciphertextStart + ciphertextLength <= offset + view.getUint16(offset + 2));
  return {
    ad: packet.subarray(0, offset),
    nonce: packet.subarray(nonceStart, nonceStart + nonceLength),
    ciphertext: packet.subarray(ciphertextStart, ciphertextStart + ciphertextLength),
  };
}

const packets = fixture.packets.map((p) => {
  assert.ok(isSupportedAead(p.aead), p.name);
  const packet = hex(p.packet);
  return {
    name: p.name,
    aead: p.aead,
    expected: p,
    cipher: createAead(p.aead, hex(p.key)),
    ...authenticator(packet, p.auth_offset),
  };
});

test("fixture covers the captures: ntpd-rs (17), chrony and NTPsec (15)", () => {
  assert.equal(packets.length, 16);
  assert.equal(packets.filter((p) => p.aead === 17).length, 2);
  assert.equal(packets.filter((p) => p.name.includes("ntpsec")).length, 8);
});

test("every captured request and response verifies and decrypts", () => {
  for (const p of packets) {
    assert.equal(toHex(p.nonce), p.expected.nonce, p.name);
    assert.equal(toHex(p.ciphertext), p.expected.ciphertext, p.name);
    const opened = p.cipher.open(p.nonce, p.ad, p.ciphertext);
    assert.ok(opened !== null, p.name);
    assert.equal(toHex(opened), p.expected.plaintext, p.name);
  }
});

test("re-sealing with the captured nonce reproduces the captured bytes (SIV is deterministic)", () => {
  for (const p of packets) {
    const sealed = p.cipher.seal(p.nonce, p.ad, hex(p.expected.plaintext));
    assert.equal(toHex(sealed), p.expected.ciphertext, p.name);
  }
});

test("one flipped bit anywhere in AD, nonce or ciphertext fails", () => {
  for (const p of packets) {
    const { cipher, ad, nonce, ciphertext } = p;
    for (let bit = 0; bit < ad.length * 8; bit += 7) {
      assert.equal(cipher.open(nonce, flipBit(ad, bit), ciphertext), null, `${p.name} AD ${bit}`);
    }
    for (let bit = 0; bit < nonce.length * 8; bit++) {
      assert.equal(cipher.open(flipBit(nonce, bit), ad, ciphertext), null, `${p.name} N ${bit}`);
    }
    for (let bit = 0; bit < ciphertext.length * 8; bit += 3) {
      const bad = flipBit(ciphertext, bit);
      assert.equal(cipher.open(nonce, ad, bad), null, `${p.name} C ${bit}`);
    }
  }
});

test("a request does not verify under the other direction's key", () => {
  const request = packets.find((p) => p.name === "ntpd-rs request")!;
  const response = packets.find((p) => p.name === "ntpd-rs response")!;
  assert.equal(response.cipher.open(request.nonce, request.ad, request.ciphertext), null);
  assert.equal(request.cipher.open(response.nonce, response.ad, response.ciphertext), null);
});

test("ntpd-rs cookie layout: key_id | length | nonce | SIV-512(master, A = empty, N, P)", () => {
  const c = fixture.cookie;
  const cookie = hex(c.cookie);
  const view = new DataView(cookie.buffer, cookie.byteOffset, cookie.byteLength);
  assert.equal(view.getUint32(0), c.key_id);
  const length = view.getUint16(4);
  const nonce = cookie.subarray(6, 22);
  const ciphertext = cookie.subarray(22, 22 + length);
  assert.equal(toHex(nonce), c.nonce);
  const master = createAead(17, hex(c.key));
  const opened = master.open(nonce, new Uint8Array(0), ciphertext);
  assert.ok(opened !== null);
  assert.equal(toHex(opened), c.plaintext);
  assert.equal(toHex(master.seal(nonce, new Uint8Array(0), hex(c.plaintext))), toHex(ciphertext));
  assert.equal(master.open(nonce, new Uint8Array(0), flipBit(ciphertext, 200)), null);
});
