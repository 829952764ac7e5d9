import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";

import {
  clampPoll,
  incrementPoll,
  jitteredPollSeconds,
  uniformUnit,
  validatePollLimits,
} from "./poll-interval.js";

const constant = (value: number) => (n: number) => new Uint8Array(n).fill(value);

test("jitter: factor spans [1.01, 1.05)", () => {
  assert.equal(jitteredPollSeconds(4, constant(0)), 16 * 1.01);
  const top = jitteredPollSeconds(4, constant(0xff));
  assert.ok(top < 16 * 1.05 && top > 16 * 1.0499, `${top}`);
  assert.equal(uniformUnit(constant(0x80)), 0x80808080 / 2 ** 32);
});

test("jitter: always within bounds for any random octets", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: -6, max: 17 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      (p, b) => {
        const s = jitteredPollSeconds(p, () => b);
        assert.ok(s >= 2 ** p * 1.01 && s < 2 ** p * 1.05);
      },
    ),
  );
});

test("clamp and increment stay within the limits", () => {
  const limits = { min: 4, max: 10 };
  assert.equal(clampPoll(2, limits), 4);
  assert.equal(clampPoll(12, limits), 10);
  assert.equal(clampPoll(7, limits), 7);
  assert.equal(incrementPoll(9, limits), 10);
  assert.equal(incrementPoll(10, limits), 10);
});

test("limits validation", () => {
  assert.throws(() => validatePollLimits({ min: 6, max: 4 }), RangeError);
  assert.throws(() => validatePollLimits({ min: 4.5, max: 6 }), RangeError);
  assert.throws(() => validatePollLimits({ min: -200, max: 6 }), RangeError);
  validatePollLimits({ min: 4, max: 4 });
});
