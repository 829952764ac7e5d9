import { test } from "node:test";
import assert from "node:assert/strict";

import { Rng } from "../../../sim/random.js";
import {
  UNSEEN_FADE,
  UNSEEN_MIN_SAMPLES,
  UNSEEN_WINDOW,
  unseenNoise,
  type Innovation,
} from "./unseen-noise.js";

const US2 = 1e-12; // (1 µs)²
const NO_CEILING = Infinity;

/** UNSEEN_WINDOW innovations of variance `modeled` + `unseen`, all on the same path. */
function window(
  rng: Rng,
  unseen: number,
  modeled: number,
  trail: (i: number) => number = () => 0,
): Innovation[] {
  return Array.from({ length: UNSEEN_WINDOW }, (_, i) => ({
    y: trail(i) + Math.sqrt(modeled + unseen) * rng.gaussian(),
    modeled,
    state: modeled / 2,
  }));
}

test("unseen noise: learns the noise beyond what the model expects, within the median's scatter", () => {
  // 1 µs² unseen on top of 0.1 µs² modelled (the simulator's loopback server:
  // read noise its delays do not show). Over 200 seeded windows the estimate's
  // median is near 1 µs², and nine in ten lie within a factor of 2.5 of it.
  const estimates: number[] = [];
  for (let seed = 1; seed <= 200; seed++) {
    estimates.push(unseenNoise(window(new Rng(seed, "unseen"), US2, 0.1 * US2), 0, NO_CEILING));
  }
  estimates.sort((a, b) => a - b);
  const mid = estimates[100]!;
  assert.ok(mid > 0.7 * US2 && mid < 1.4 * US2, `median estimate ${mid / US2} µs² (seeds 1–200)`);
  const within = estimates.filter((u) => u > US2 / 2.5 && u < US2 * 2.5).length;
  assert.ok(within >= 180, `${within} of 200 within a factor 2.5 (seeds 1–200)`);
});

test("unseen noise: a trail of same-signed innovations (a moving frequency) is not noise", () => {
  // Innovations growing by 0.5 µs a sample over a 0.1 µs² model: their plain
  // variance is ~70 µs², their successive differences show almost nothing.
  for (const seed of [3, 4, 5]) {
    const rng = new Rng(seed, "trail");
    const u = unseenNoise(
      window(rng, 0, 0.1 * US2, (i) => i * 0.5e-6),
      0,
      NO_CEILING,
    );
    assert.ok(u < 0.5 * US2, `seed ${seed}: ${u / US2} µs²`);
  }
});

test("unseen noise: only the less-queued half of the window counts", () => {
  // Half the exchanges queued (a model of 100 µs² that underrates their error
  // fourfold), half near the minimum delay with exactly what the model says:
  // the queued ones must not lend the others noise.
  const rng = new Rng(6, "queued");
  const recent: Innovation[] = Array.from({ length: UNSEEN_WINDOW }, (_, i) => {
    const queued = i % 2 === 0;
    const modeled = queued ? 100 * US2 : 0.1 * US2;
    const sigma = queued ? 20e-6 : Math.sqrt(0.1 * US2);
    return { y: sigma * rng.gaussian(), modeled, state: 0.05 * US2 };
  });
  const u = unseenNoise(recent, 0, NO_CEILING);
  assert.ok(u < 0.5 * US2, `${u / US2} µs² (seed 6)`);
});

test("unseen noise: falls by at most UNSEEN_FADE a sample, rises at once, never above the ceiling", () => {
  const quiet = window(new Rng(7, "quiet"), 0, US2);
  assert.equal(unseenNoise(quiet, 4 * US2, NO_CEILING), 4 * US2 * (1 - UNSEEN_FADE));
  const noisy = window(new Rng(8, "noisy"), 9 * US2, 0.1 * US2);
  const risen = unseenNoise(noisy, 0, NO_CEILING);
  assert.ok(risen > 3 * US2, `${risen / US2} µs² (seed 8)`);
  assert.equal(unseenNoise(noisy, 0, 2 * US2), 2 * US2);
});

test("unseen noise: too few innovations keep the start-up's value, fading", () => {
  const few = window(new Rng(9, "few"), 9 * US2, 0.1 * US2).slice(0, UNSEEN_MIN_SAMPLES - 1);
  assert.equal(unseenNoise(few, 2 * US2, NO_CEILING), 2 * US2 * (1 - UNSEEN_FADE));
  assert.equal(unseenNoise([], 0, NO_CEILING), 0);
});
