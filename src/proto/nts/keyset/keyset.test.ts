import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { AeadId, type AeadCipher, type AeadProvider } from "../../crypto/aead.js";
import { TS_AEAD } from "../../crypto/registry.js";
import { DEFAULT_STALE_KEY_COUNT, KeySet, MASTER_KEY_AEAD, MASTER_KEY_LENGTH } from "./keyset.js";

const random = (n: number): Uint8Array => randomBytes(n);
const key = (fill: number): Uint8Array => new Uint8Array(MASTER_KEY_LENGTH).fill(fill);

/** Deterministic keys 1, 2, 3, … so tests can tell which key is where. */
function counter(): (n: number) => Uint8Array {
  let next = 1;
  return (n) => new Uint8Array(n).fill(next++);
}

test("a generated set has one key with id 0 as primary", () => {
  const ks = KeySet.generate(random);
  assert.equal(ks.size, 1);
  assert.equal(ks.idOffset, 0);
  assert.equal(ks.primaryIndex, 0);
  assert.equal(ks.primaryId, 0);
  assert.deepEqual(ks.ids(), [0]);
  assert.equal(ks.staleKeyCount, DEFAULT_STALE_KEY_COUNT);
  assert.equal(ks.keyBytes(0).length, 64);
  assert.equal(MASTER_KEY_AEAD, AeadId.AES_SIV_CMAC_512);
});

test("rotation: a fresh primary each time, at most stale-key-count + 1 keys, ids stable", () => {
  const rnd = counter();
  const ks = KeySet.generate(rnd); // key 1, id 0
  for (let r = 1; r <= 12; r++) {
    ks.rotate(rnd); // key r + 1 gets id r
    assert.equal(ks.size, Math.min(r + 1, 8), `after ${r} rotations`);
    assert.equal(ks.primaryIndex, ks.size - 1);
    assert.equal(ks.primaryId, r);
    assert.equal(ks.idOffset, Math.max(0, r - 7));
    assert.deepEqual(
      ks.ids(),
      Array.from({ length: ks.size }, (_, i) => ks.idOffset + i),
    );
    for (let i = 0; i < ks.size; i++) {
      // The key with id x was the (x+1)-th generated, filled with x + 1.
      assert.equal(ks.keyBytes(i)[0], ks.idOffset + i + 1);
    }
  }
});

test("stale-key-count 0 and 1", () => {
  const zero = KeySet.generate(random, 0);
  zero.rotate(random);
  zero.rotate(random);
  assert.equal(zero.size, 1);
  assert.deepEqual(zero.ids(), [2]);
  const one = KeySet.generate(random, 1);
  one.rotate(random);
  one.rotate(random);
  assert.deepEqual(one.ids(), [1, 2]);
});

test("a loaded set with more keys than the history is trimmed at the next rotation", () => {
  const keys = Array.from({ length: 10 }, (_, i) => key(i + 1));
  const ks = KeySet.fromParts({ keys, idOffset: 100, primary: 9 }, 3);
  assert.equal(ks.primaryId, 109);
  assert.equal(ks.size, 10);
  ks.rotate(random);
  assert.deepEqual(ks.ids(), [107, 108, 109, 110]);
  assert.equal(ks.primaryId, 110);
});

test("a published next key becomes the primary at the next rotation, unchanged", () => {
  const ks = KeySet.fromParts({ keys: [key(1), key(2)], idOffset: 100, primary: 1 }, 2);
  assert.equal(ks.hasNext, false);
  ks.publishNext(random);
  assert.equal(ks.hasNext, true);
  assert.deepEqual(ks.ids(), [100, 101, 102]);
  assert.equal(ks.primaryId, 101, "publishing does not change the key new cookies use");
  const published = ks.keyBytes(2);
  ks.publishNext(random);
  assert.equal(ks.size, 3, "a second publish before the rotation adds nothing");
  ks.rotate(random);
  assert.equal(ks.primaryId, 102);
  assert.deepEqual(ks.keyBytes(ks.primaryIndex), published);
  assert.equal(ks.hasNext, false);
  ks.publishNext(random);
  ks.rotate(random);
  ks.publishNext(random);
  assert.deepEqual(ks.ids(), [101, 102, 103, 104], "2 stale keys, the primary, the next");
  assert.equal(ks.primaryId, 103);
});

test("keys published for several rotations become primary one per rotation", () => {
  const keys = Array.from({ length: 10 }, (_, i) => key(i + 1));
  const ks = KeySet.fromParts({ keys, idOffset: 100, primary: 4 }, 3);
  ks.rotate(random);
  assert.equal(ks.primaryId, 105);
  assert.deepEqual(ks.ids(), [102, 103, 104, 105, 106, 107, 108, 109]);
});

test("dispose wipes every key", () => {
  const ks = KeySet.fromParts({ keys: [key(1), key(2)], idOffset: 0, primary: 1 }, 2);
  let disposed = 0;
  const provider: AeadProvider = {
    name: "counting",
    create: (id, k) => {
      const cipher: AeadCipher = TS_AEAD.create(id, k);
      cipher.dispose = () => void disposed++;
      return cipher;
    },
    rekeyable: (id) => TS_AEAD.rekeyable(id),
  };
  ks.primaryCipher(provider);
  ks.dispose();
  assert.ok(ks.keyBytes(0).every((b) => b === 0));
  assert.ok(ks.keyBytes(1).every((b) => b === 0));
  assert.equal(disposed, 1, "the cipher made from the primary key is disposed");
});

test("the id offset wraps at 2^32", () => {
  const ks = KeySet.fromParts({ keys: [key(1), key(2)], idOffset: 0xfffffffe, primary: 1 }, 1);
  assert.deepEqual(ks.ids(), [0xfffffffe, 0xffffffff]);
  ks.rotate(random);
  assert.deepEqual(ks.ids(), [0xffffffff, 0]);
  assert.equal(ks.primaryId, 0);
  ks.rotate(random);
  assert.deepEqual(ks.ids(), [0, 1]);
  assert.ok(ks.cipherForId(0) !== undefined);
  assert.equal(ks.cipherForId(0xffffffff), undefined);
});

test("lookup by id: valid ids only, ciphers cached per key and kept across rotations", () => {
  const ks = KeySet.generate(random, 2);
  ks.rotate(random);
  const c0 = ks.cipherForId(0);
  const c1 = ks.cipherForId(1);
  assert.ok(c0 !== undefined && c1 !== undefined);
  assert.notEqual(c0, c1);
  assert.equal(c0.id, AeadId.AES_SIV_CMAC_512);
  assert.equal(ks.cipherForId(0), c0, "same object on the second lookup");
  assert.equal(ks.primaryCipher(), c1);
  ks.rotate(random);
  ks.rotate(random);
  assert.equal(ks.cipherForId(0), undefined, "rotated out");
  assert.equal(ks.cipherForId(1), c1, "still cached after rotations");
  for (const bad of [-1, 2 ** 32, 1.5, NaN, 4, 100]) {
    assert.equal(ks.cipherForId(bad), undefined, String(bad));
  }
});

test("keyBytes returns a copy", () => {
  const ks = KeySet.fromParts({ keys: [key(7)], idOffset: 0, primary: 0 });
  ks.keyBytes(0).fill(0);
  assert.equal(ks.keyBytes(0)[0], 7);
  assert.throws(() => ks.keyBytes(1), RangeError);
});

test("fromParts copies the keys and rejects inconsistent parts", () => {
  const source = key(9);
  const ks = KeySet.fromParts({ keys: [source], idOffset: 0, primary: 0 });
  source.fill(0);
  assert.equal(ks.keyBytes(0)[0], 9);
  const bad: [string, () => unknown][] = [
    ["no keys", () => KeySet.fromParts({ keys: [], idOffset: 0, primary: 0 })],
    ["primary = n", () => KeySet.fromParts({ keys: [key(1)], idOffset: 0, primary: 1 })],
    ["negative primary", () => KeySet.fromParts({ keys: [key(1)], idOffset: 0, primary: -1 })],
    ["id offset > u32", () => KeySet.fromParts({ keys: [key(1)], idOffset: 2 ** 32, primary: 0 })],
    ["short key", () => KeySet.fromParts({ keys: [new Uint8Array(32)], idOffset: 0, primary: 0 })],
    ["stale count", () => KeySet.fromParts({ keys: [key(1)], idOffset: 0, primary: 0 }, -1)],
    ["stale count", () => KeySet.generate(random, 0.5)],
    ["random source", () => KeySet.generate(() => new Uint8Array(32))],
  ];
  for (const [what, f] of bad) assert.throws(f, RangeError, what);
});

test("a dropped key's cipher is disposed (its key state wiped) at rotation", () => {
  const disposed: number[] = [];
  const provider: AeadProvider = {
    name: "spy",
    create(id, k) {
      const cipher = TS_AEAD.create(id, k);
      const fill = k[0]!;
      return Object.assign(Object.create(cipher) as AeadCipher, {
        dispose: () => disposed.push(fill),
      });
    },
    rekeyable: (id) => TS_AEAD.rekeyable(id),
  };
  const next = counter();
  const ks = KeySet.generate(next, 1);
  ks.cipherForId(0, provider);
  ks.rotate(next);
  ks.cipherForId(1, provider);
  assert.deepEqual(disposed, [], "nothing dropped while within stale-key-count");
  ks.rotate(random);
  assert.deepEqual(disposed, [1], "key 0 dropped: its cipher disposed");
  ks.cipherForId(1, TS_AEAD);
  assert.deepEqual(disposed, [1, 2], "replaced by another provider's cipher: disposed");
});
