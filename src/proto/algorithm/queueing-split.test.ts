import { test } from "node:test";
import assert from "node:assert/strict";

import { Rng } from "../../../sim/random.js";
import {
  NO_SPLIT,
  SPLIT_MIN_POINTS,
  SPLIT_WINDOW,
  queueingSplit,
  type SplitPoint,
} from "./queueing-split.js";

const US = 1e-6;

/**
 * A full window of exchanges on a path with Exp(20 µs) queueing, `reply` of
 * which queues on the reply leg (the rest on the request leg), and 0.3 µs of
 * read noise: the offset error is (q_request − q_reply)/2.
 */
function window(rng: Rng, replyShare: number, length = SPLIT_WINDOW): SplitPoint[] {
  return Array.from({ length }, () => {
    const queueing = rng.exponential(20 * US);
    const reply = queueing * replyShare;
    return { delay: 40 * US + queueing, y: (queueing - 2 * reply) / 2 + 0.3 * US * rng.gaussian() };
  });
}

/** A full window whose legs queue alike: each leg Exp(100 µs), independently. */
function alikeWindow(rng: Rng): SplitPoint[] {
  return Array.from({ length: SPLIT_WINDOW }, () => {
    const request = rng.exponential(100 * US);
    const reply = rng.exponential(100 * US);
    return { delay: 40 * US + request + reply, y: (request - reply) / 2 };
  });
}

test("queueing split: queueing on the reply leg only gives a share of −½, moved to the second smallest round trip", () => {
  const points = window(new Rng(1, "split"), 1);
  const split = queueingSplit(points);
  assert.ok(Math.abs(split.share + 0.5) < 0.02, `share ${split.share}`);
  const delays = points.map((p) => p.delay).sort((a, b) => a - b);
  assert.equal(split.base, delays[1]);
});

test("queueing split: queueing on the request leg only gives +½", () => {
  const split = queueingSplit(window(new Rng(2, "split"), 0));
  assert.ok(Math.abs(split.share - 0.5) < 0.02, `share ${split.share}`);
});

test("queueing split: a leg that queues three quarters gives −¼", () => {
  const split = queueingSplit(window(new Rng(3, "split"), 0.75));
  assert.ok(Math.abs(split.share + 0.25) < 0.03, `share ${split.share}`);
});

test("queueing split: legs that queue alike show none (500 seeded windows)", () => {
  // Kendall's test at z = 4 passes by chance in about 6 of 100 000 windows
  // that are independent; these are.
  let taken = 0;
  for (let seed = 1; seed <= 500; seed++) {
    if (queueingSplit(alikeWindow(new Rng(seed, "alike"))) !== NO_SPLIT) taken++;
  }
  assert.equal(taken, 0, `a split taken in ${taken} of 500 windows (seeds 1-500)`);
});

test("queueing split: nothing before SPLIT_MIN_POINTS exchanges", () => {
  const rng = new Rng(4, "split");
  assert.equal(queueingSplit(window(rng, 1, SPLIT_MIN_POINTS - 1)), NO_SPLIT);
  assert.notEqual(queueingSplit(window(rng, 1, SPLIT_MIN_POINTS)), NO_SPLIT);
});

test("queueing split: a delay spike with the other sign moves the share by a rank, not by its size", () => {
  const points = window(new Rng(5, "split"), 1);
  // 5 ms more on the request leg: offset +2.5 ms.
  points[10] = { delay: 5e-3, y: 2.5e-3 };
  const split = queueingSplit(points);
  assert.ok(Math.abs(split.share + 0.5) < 0.03, `share ${split.share}`);
});

test("queueing split: never beyond ½ either way", () => {
  const points = window(new Rng(6, "split"), 1).map((p) => ({ ...p, y: -3 * p.delay }));
  assert.equal(queueingSplit(points).share, -0.5);
});
