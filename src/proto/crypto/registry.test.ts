import { test } from "node:test";
import assert from "node:assert/strict";
import { AeadId } from "./aead.js";
import { AesSivCmac } from "./aes-siv.js";
import { Aes128GcmSiv } from "./gcm-siv.js";
import { aeadKeyLength, createAead, isSupportedAead, SUPPORTED_AEADS } from "./registry.js";

test("SUPPORTED_AEADS: ntpd-rs order [17, 15], then 30; frozen", () => {
  assert.deepEqual(SUPPORTED_AEADS, [17, 15, 30]);
  assert.ok(Object.isFrozen(SUPPORTED_AEADS));
});

test("isSupportedAead and aeadKeyLength", () => {
  for (const id of SUPPORTED_AEADS) assert.equal(isSupportedAead(id), true);
  for (const id of [0, 1, 2, 16, 29, 31, 32768, -15, 15.5]) {
    assert.equal(isSupportedAead(id), false, `${id}`);
    assert.equal(aeadKeyLength(id), null, `${id}`);
  }
  assert.equal(aeadKeyLength(15), 32);
  assert.equal(aeadKeyLength(17), 64);
  assert.equal(aeadKeyLength(30), 16);
});

test("createAead binds each supported id to a cipher that round-trips", () => {
  for (const id of SUPPORTED_AEADS) {
    const key = Uint8Array.from({ length: aeadKeyLength(id)! }, (_, i) => i);
    const cipher = createAead(id, key);
    assert.equal(cipher.id, id);
    assert.equal(cipher.keyLength, key.length);
    assert.equal(cipher.tagLength, 16);
    assert.ok(id === 30 ? cipher instanceof Aes128GcmSiv : cipher instanceof AesSivCmac);
    const nonce = new Uint8Array(cipher.nonceLength).fill(1);
    const ad = Uint8Array.of(1, 2, 3);
    for (const plaintext of [new Uint8Array(0), Uint8Array.of(9, 8, 7)]) {
      const sealed = cipher.seal(nonce, ad, plaintext);
      assert.equal(sealed.length, plaintext.length + 16);
      assert.deepEqual(cipher.open(nonce, ad, sealed), plaintext);
    }
  }
});

test("createAead: RangeError for an unknown id or a wrong key length", () => {
  assert.throws(() => createAead(AeadId.AES_SIV_CMAC_384, new Uint8Array(48)), RangeError);
  assert.throws(() => createAead(1 as AeadId, new Uint8Array(16)), RangeError);
  assert.throws(() => createAead(15, new Uint8Array(64)), RangeError);
  assert.throws(() => createAead(17, new Uint8Array(32)), RangeError);
  assert.throws(() => createAead(30, new Uint8Array(32)), RangeError);
});
