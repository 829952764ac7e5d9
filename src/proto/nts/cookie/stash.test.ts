import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { CookieStash, MAX_COOKIES } from "./stash.js";

const cookie = (n: number): Uint8Array => Uint8Array.of(n);
const tag = (c: Uint8Array | null): number | null => (c === null ? null : c[0]!);

test("an empty stash has nothing to give and 8 slots to fill", () => {
  const stash = new CookieStash();
  assert.equal(stash.capacity, MAX_COOKIES);
  assert.equal(MAX_COOKIES, 8);
  assert.equal(stash.count, 0);
  assert.equal(stash.missing, 8);
  assert.equal(stash.take(), null);
});

test("cookies come out oldest first, each once", () => {
  const stash = new CookieStash();
  for (let i = 1; i <= 5; i++) stash.add(cookie(i));
  assert.equal(stash.count, 5);
  assert.equal(stash.missing, 3);
  assert.equal(tag(stash.take()), 1);
  assert.equal(tag(stash.take()), 2);
  stash.add(cookie(6));
  assert.deepEqual(
    [1, 2, 3, 4].map(() => tag(stash.take())),
    [3, 4, 5, 6],
  );
  assert.equal(stash.take(), null);
  assert.equal(stash.count, 0);
});

test("a new cookie in a full stash overwrites the oldest", () => {
  const stash = new CookieStash();
  for (let i = 1; i <= 11; i++) stash.add(cookie(i));
  assert.equal(stash.count, 8);
  assert.equal(stash.missing, 0);
  const out: (number | null)[] = [];
  for (let i = 0; i < 9; i++) out.push(tag(stash.take()));
  assert.deepEqual(out, [4, 5, 6, 7, 8, 9, 10, 11, null]);
});

test("clear forgets everything; capacity must be positive", () => {
  const stash = new CookieStash(3);
  stash.add(cookie(1));
  stash.add(cookie(2));
  stash.clear();
  assert.equal(stash.count, 0);
  assert.equal(stash.take(), null);
  stash.add(cookie(3));
  assert.equal(tag(stash.take()), 3);
  assert.throws(() => new CookieStash(0), RangeError);
  assert.throws(() => new CookieStash(1.5), RangeError);
});

test("property: behaves like a bounded queue that drops its oldest, never repeating a cookie", () => {
  fc.assert(
    fc.property(fc.array(fc.boolean(), { maxLength: 200 }), (ops) => {
      const stash = new CookieStash();
      const model: Uint8Array[] = [];
      const given = new Set<Uint8Array>();
      for (const isAdd of ops) {
        if (isAdd) {
          const c = cookie(model.length);
          stash.add(c);
          model.push(c);
          if (model.length > MAX_COOKIES) model.shift();
        } else {
          const got = stash.take();
          assert.equal(got, model.shift() ?? null, "the very object added, oldest first");
          if (got !== null) {
            assert.ok(!given.has(got), "never handed out twice");
            given.add(got);
          }
        }
        assert.equal(stash.count, model.length);
        assert.equal(stash.missing, MAX_COOKIES - model.length);
      }
    }),
  );
});
