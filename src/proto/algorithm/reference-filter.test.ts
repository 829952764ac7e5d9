import { test } from "node:test";
import assert from "node:assert/strict";

import { defaultConfig } from "../config/parse.js";
import type { Measurement } from "../source/types.js";
import { NtpTimestamp } from "../time.js";
import { ClockController } from "./controller.js";
import {
  ACCURACY_DELAY_FACTOR,
  ReferenceClockFilter,
  wrapOffset,
  type ReferenceClockNoise,
} from "./reference-filter.js";
import { STARTUP_SAMPLES } from "./source-filter.js";

const BASE = NtpTimestamp.fromUnix(1_700_000_000, 0);
const ALGO = defaultConfig().synchronization.algorithm;

/** A reference clock sample at local time BASE + at with the given offset. */
function sample(at: number, offset: number, stratum = 0): Measurement {
  const t = BASE.addSeconds(at);
  return {
    offset,
    delay: 0,
    t1: t,
    t2: t.addSeconds(offset),
    t3: t.addSeconds(offset),
    t4: t,
    version: 4,
    leap: 0,
    stratum,
    referenceId: 0,
    rootDelay: 0,
    rootDispersion: 0,
    poll: 0,
    precision: -20,
  };
}

const now = (at: number) => ({ wall: BASE.addSeconds(at), mono: at });

test("wrapOffset moves an offset by whole periods into ±period/2 around a centre", () => {
  assert.equal(wrapOffset(0.7, 1), 0.7 - 1);
  assert.equal(wrapOffset(-0.7, 1), -0.7 + 1);
  assert.equal(wrapOffset(0.3, 1), 0.3);
  assert.ok(Math.abs(wrapOffset(2.25, 1) - 0.25) < 1e-12);
  assert.ok(Math.abs(wrapOffset(0.06, 0.1) - -0.04) < 1e-12);
  // Around a centre near the edge: the sample stays next to it.
  assert.ok(Math.abs(wrapOffset(-0.49, 1, 0.48) - 0.51) < 1e-12);
  assert.equal(wrapOffset(0.7, null), 0.7);
  assert.equal(wrapOffset(0.5, 1), -0.5, "+period/2 maps to -period/2");
});

test("start-up: no vote (1 s uncertainty) until STARTUP_SAMPLES, then R = precision² shapes the filter", () => {
  const noise: ReferenceClockNoise = { precision: 1e-3, accuracy: 0.002, period: null };
  const f = new ReferenceClockFilter(ALGO, noise);
  assert.equal(f.snapshot(), null);
  for (let i = 0; i < STARTUP_SAMPLES - 1; i++) f.update(sample(i, 0.1), now(i));
  const early = f.snapshot()!;
  assert.equal(early.startup, true);
  assert.equal(early.offsetUncertainty, 1);
  assert.equal(early.delay, ACCURACY_DELAY_FACTOR * 0.002);
  f.update(sample(STARTUP_SAMPLES - 1, 0.1), now(STARTUP_SAMPLES - 1));
  const stable = f.snapshot()!;
  assert.equal(stable.startup, false);
  assert.ok(Math.abs(stable.offset - 0.1) < 1e-12);
  // Identical samples: the variance is floored at precision².
  assert.ok(Math.abs(stable.offsetUncertainty - 1e-3) < 1e-12);
  // Many more samples narrow the estimate well below one sample's precision.
  for (let i = STARTUP_SAMPLES; i < 64; i++) f.update(sample(i, 0.1), now(i));
  assert.ok(f.snapshot()!.offsetUncertainty < 5e-4);
});

test("a pps source's offsets wrap: samples either side of ±period/2 average where they belong", () => {
  const f = new ReferenceClockFilter(ALGO, { precision: 1e-4, accuracy: 0, period: 1 });
  // The clock is 0.4999 s behind a pulse: the kernel's timestamps alternate around
  // the half second, giving raw offsets near +0.5 and -0.5.
  const raw = [0.4999, -0.4999, 0.4998, -0.5, 0.4999, -0.4998, 0.5, 0.4999];
  raw.forEach((o, i) => f.update(sample(i, o), now(i)));
  let snap = f.snapshot()!;
  assert.equal(snap.startup, false);
  assert.ok(Math.abs(Math.abs(snap.offset) - 0.5) < 1e-3, `offset ${snap.offset}`);
  for (let i = 8; i < 40; i++) f.update(sample(i, i % 2 === 0 ? 0.4999 : -0.4999), now(i));
  snap = f.snapshot()!;
  assert.ok(Math.abs(Math.abs(snap.offset) - 0.5) < 1e-3, `offset ${snap.offset}`);
  assert.ok(snap.offsetUncertainty < 1e-3, "the wrapped samples agree with each other");
});

test("a pps source keeps its state within ±period/2 through an offset steer", () => {
  const f = new ReferenceClockFilter(ALGO, { precision: 1e-5, accuracy: 0, period: 0.1 });
  for (let i = 0; i < 16; i++) f.update(sample(i * 0.1, 0.02), now(i * 0.1));
  f.applyOffsetSteer(-0.05); // the local clock moved back: offsets grow by 0.05 to 0.07
  const snap = f.snapshot()!;
  assert.ok(Math.abs(snap.offset - (0.07 - 0.1)) < 1e-6, `offset ${snap.offset}`);
});

test("a sock source (no period) never wraps", () => {
  const f = new ReferenceClockFilter(ALGO, { precision: 1e-3, accuracy: 0, period: null });
  for (let i = 0; i < 16; i++) f.update(sample(i, 3.7), now(i));
  assert.ok(Math.abs(f.snapshot()!.offset - 3.7) < 1e-9);
});

test("the filter refuses precision <= 0 and period <= 0", () => {
  assert.throws(() => new ReferenceClockFilter(ALGO, { precision: 0, accuracy: 0, period: null }));
  assert.throws(() => new ReferenceClockFilter(ALGO, { precision: 1, accuracy: 0, period: 0 }));
});

// Through the controller: selection and the minimum count.

function controller(minimumAgreeingSources: number): ClockController {
  return new ClockController(
    { ...defaultConfig().synchronization, minimumAgreeingSources },
    { startupBurst: false },
  );
}

function feed(c: ClockController, id: number, at: number, offset: number) {
  return c.measurement(id, sample(at, offset), now(at));
}

test("a pps source alone never sets the clock: it does not vote nor count toward the minimum", () => {
  const c = controller(1);
  c.addSource(
    1,
    { min: 0, max: 0 },
    { referenceClock: { precision: 1e-6, accuracy: 0, period: 1 } },
  );
  const kinds = new Set<string>();
  for (let i = 0; i < 40; i++) for (const a of feed(c, 1, i, 0.0002)) kinds.add(a.kind);
  assert.ok(kinds.has("no-consensus"), [...kinds].join(","));
  assert.ok(!kinds.has("update") && !kinds.has("step") && !kinds.has("set-frequency"));
});

test("the same source without a period (sock) synchronizes alone with minimum-agreeing-sources = 1", () => {
  const c = controller(1);
  c.addSource(
    1,
    { min: 0, max: 0 },
    { referenceClock: { precision: 1e-6, accuracy: 0, period: null } },
  );
  const kinds = new Set<string>();
  for (let i = 0; i < 40; i++) for (const a of feed(c, 1, i, 0.0002)) kinds.add(a.kind);
  assert.ok(kinds.has("update"), [...kinds].join(","));
});

test("a pps source is selected with the sock source it agrees with, and left out when it does not", () => {
  for (const [ppsOffset, expectPps] of [
    [0.0101, true],
    [0.3, false],
  ] as const) {
    const c = controller(1);
    c.addSource(
      1,
      { min: 0, max: 0 },
      { referenceClock: { precision: 1e-3, accuracy: 0, period: null } },
    );
    c.addSource(
      2,
      { min: 0, max: 0 },
      { referenceClock: { precision: 1e-6, accuracy: 0, period: 1 } },
    );
    // The first update, before any correction (this test does not move the clock).
    let selected: number[] | null = null;
    for (let i = 0; i < 20 && selected === null; i++) {
      for (const a of [...feed(c, 2, i, ppsOffset), ...feed(c, 1, i + 0.5, 0.01)]) {
        if (a.kind === "update") selected ??= a.selected;
      }
    }
    assert.ok(selected !== null, `pps ${ppsOffset}: no update`);
    assert.equal(selected.includes(1), true);
    assert.equal(
      selected.includes(2),
      expectPps,
      `pps ${ppsOffset}: selected ${selected.join(",")}`,
    );
  }
});
