import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";

import type { LeapIndicator } from "../packet/types.js";
import {
  selectSources,
  selectionInterval,
  selectionRadius,
  type SelectionCandidate,
} from "./select.js";

const DEFAULT_PARAMS = {
  minimumAgreeingSources: 3,
  rangeStatisticalWeight: 2,
  rangeDelayWeight: 0.25,
  maximumSourceUncertainty: 0.25,
};
/** Radius = σ + delay with these weights, so intervals are easy to reason about. */
const UNIT = {
  ...DEFAULT_PARAMS,
  rangeStatisticalWeight: 1,
  rangeDelayWeight: 1,
  maximumSourceUncertainty: 3,
};

let nextId = 0;
function cand(
  offset: number,
  uncertainty = 0.01,
  delay = 0.01,
  extra: Partial<SelectionCandidate> = {},
): SelectionCandidate {
  return { id: nextId++, offset, uncertainty, delay, leap: 0, stratum: 2, usable: true, ...extra };
}

test("radius = statistical weight · σ + delay weight · delay", () => {
  assert.equal(selectionRadius({ uncertainty: 0.01, delay: 0.04 }, DEFAULT_PARAMS), 0.03);
});

test("a falseticker is outvoted by three agreeing sources", () => {
  const good = [cand(0.001), cand(0.0), cand(-0.002)];
  const bad = cand(0.2);
  const r = selectSources([...good, bad], DEFAULT_PARAMS);
  assert.equal(r.kind, "selected");
  assert.ok(r.kind === "selected");
  assert.deepEqual(
    r.selected,
    good.map((c) => c.id),
  );
  assert.deepEqual(r.outvoted, [bad.id]);
  assert.equal(r.voting, 4);
});

test("strict majority: a tie between two pairs selects nothing", () => {
  const cs = [cand(0, 0.1, 0.1), cand(0, 0.1, 0.1), cand(0.5, 0.1, 0.1), cand(0.5, 0.1, 0.1)];
  const r = selectSources(cs, { ...UNIT, minimumAgreeingSources: 1 });
  assert.deepEqual(r, { kind: "no-consensus", agreeing: 2, voting: 4, rejected: [] });
  // Three of five is a majority.
  const five = [...cs, cand(0.05, 0.1, 0.1)];
  const r5 = selectSources(five, { ...UNIT, minimumAgreeingSources: 1 });
  assert.equal(r5.kind, "selected");
  assert.ok(r5.kind === "selected");
  assert.equal(r5.selected.length, 3);
});

test("minimum-agreeing-sources: enough agreement is required besides a majority", () => {
  const cs = [
    cand(0, 0.1, 0.1),
    cand(0, 0.1, 0.1),
    cand(0, 0.1, 0.1),
    cand(0.5, 0.1, 0.1),
    cand(0.5, 0.1, 0.1),
  ];
  const three = selectSources(cs, { ...UNIT, minimumAgreeingSources: 3 });
  assert.ok(three.kind === "selected");
  assert.equal(three.selected.length, 3);
  const four = selectSources(cs, { ...UNIT, minimumAgreeingSources: 4 });
  assert.equal(four.kind, "no-consensus");
  // A single source is enough with minimum-agreeing-sources = 1.
  const single = selectSources([cand(0.3)], { ...DEFAULT_PARAMS, minimumAgreeingSources: 1 });
  assert.equal(single.kind, "selected");
  assert.equal(
    selectSources([], { ...DEFAULT_PARAMS, minimumAgreeingSources: 0 }).kind,
    "no-consensus",
  );
});

test("LI 3, unusable and too uncertain sources do not vote", () => {
  const ok = [cand(0), cand(0.001)];
  const unsynced = cand(0.5, 0.01, 0.01, { leap: 3 as LeapIndicator });
  const unusable = cand(0.5, 0.01, 0.01, { usable: false });
  const unsure = cand(0.5, 0.2, 0.01); // r = 0.4025 > 0.25
  const r = selectSources([...ok, unsynced, unusable, unsure], {
    ...DEFAULT_PARAMS,
    minimumAgreeingSources: 2,
  });
  assert.ok(r.kind === "selected");
  assert.deepEqual(
    r.selected,
    ok.map((c) => c.id),
  );
  assert.deepEqual(r.outvoted, []);
  assert.equal(r.voting, 2);
  assert.deepEqual(r.rejected, [
    { id: unsynced.id, reason: "unsynchronized" },
    { id: unusable.id, reason: "unusable" },
    { id: unsure.id, reason: "uncertainty" },
  ]);
  // LI 3 alone never gives consensus.
  const all3 = selectSources([cand(0, 0.01, 0.01, { leap: 3 })], {
    ...DEFAULT_PARAMS,
    minimumAgreeingSources: 1,
  });
  assert.equal(all3.kind, "no-consensus");
});

test("weights: agreement may need both the statistical and the delay term", () => {
  const cs = [
    cand(0, 0.01, 0.09),
    cand(0, 0.09, 0.01),
    cand(0.05, 0.01, 0.09),
    cand(0.05, 0.09, 0.01),
  ];
  const p = { minimumAgreeingSources: 4, maximumSourceUncertainty: 1 };
  assert.equal(
    selectSources(cs, { ...p, rangeStatisticalWeight: 1, rangeDelayWeight: 0 }).kind,
    "no-consensus",
  );
  assert.equal(
    selectSources(cs, { ...p, rangeStatisticalWeight: 0, rangeDelayWeight: 1 }).kind,
    "no-consensus",
  );
  assert.equal(
    selectSources(cs, { ...p, rangeStatisticalWeight: 1, rangeDelayWeight: 1 }).kind,
    "selected",
  );
});

test("touching intervals agree", () => {
  const cs = [cand(0, 0.05, 0), cand(0.1, 0.05, 0)];
  const r = selectSources(cs, { ...UNIT, minimumAgreeingSources: 2 });
  assert.equal(r.kind, "selected");
});

test("property: partition, majority and a common point", () => {
  const arb = fc.array(
    fc.record({
      offset: fc.double({ min: -1, max: 1, noNaN: true }),
      uncertainty: fc.double({ min: 0, max: 0.2, noNaN: true }),
      delay: fc.double({ min: 0, max: 0.2, noNaN: true }),
      leap: fc.constantFrom<LeapIndicator>(0, 0, 0, 1, 2, 3),
      usable: fc.boolean(),
    }),
    { maxLength: 12 },
  );
  fc.assert(
    fc.property(arb, fc.integer({ min: 1, max: 5 }), (raw, min) => {
      const cs = raw.map((c, i) => ({ ...c, id: i, stratum: 2 }));
      const params = { ...DEFAULT_PARAMS, minimumAgreeingSources: min };
      const r = selectSources(cs, params);
      const rejected = r.rejected.map((x) => x.id);
      if (r.kind === "no-consensus") {
        assert.ok(r.agreeing < min || r.agreeing * 2 <= r.voting);
        return;
      }
      const all = [...r.selected, ...r.outvoted, ...rejected].sort((a, b) => a - b);
      assert.deepEqual(
        all,
        cs.map((c) => c.id),
      );
      assert.ok(r.selected.length >= min && r.selected.length * 2 > r.voting);
      let low = -Infinity;
      let high = Infinity;
      for (const id of r.selected) {
        const c = cs[id]!;
        const rad = selectionRadius(c, params);
        low = Math.max(low, c.offset - rad);
        high = Math.min(high, c.offset + rad);
        assert.ok(c.usable && c.leap !== 3 && rad <= params.maximumSourceUncertainty);
      }
      assert.ok(low <= high);
    }),
  );
});

/** A source in start-up: σ is the placeholder √(largest delay) of a 10 ms round trip. */
function young(
  offset: number,
  measuredRadius: number | null,
  extra: Partial<SelectionCandidate> = {},
) {
  return cand(offset, Math.sqrt(0.01), 0.01, {
    startup: true,
    measured:
      measuredRadius === null
        ? null
        : { low: offset - measuredRadius, high: offset + measuredRadius },
    ...extra,
  });
}

test("start-up: a source votes with what its samples prove, not the placeholder σ", () => {
  // Placeholder intervals (±0.2 s) of three honest sources and a falseticker
  // 50 ms off all overlap: the falseticker would be combined.
  const placeholder = [young(0.007, null), young(0.0068, null), young(0.0072, null)];
  const falseP = young(0.057, null);
  const before = selectSources([...placeholder, falseP], DEFAULT_PARAMS);
  assert.ok(before.kind === "selected" && before.selected.includes(falseP.id));
  // With the samples' own bounds (half a 10 ms round trip) it is outvoted.
  const honest = [young(0.007, 0.005), young(0.0068, 0.005), young(0.0072, 0.005)];
  const falseM = young(0.057, 0.005);
  const after = selectSources([...honest, falseM], DEFAULT_PARAMS);
  assert.ok(after.kind === "selected");
  assert.deepEqual(
    after.selected,
    honest.map((c) => c.id),
  );
  assert.deepEqual(after.outvoted, [falseM.id]);
});

test("the measured interval is only for young sources; the gate judges the filter's estimate", () => {
  const stable = cand(0, 0.001, 0.001, { measured: { low: 5, high: 6 } });
  const iv = selectionInterval(stable, DEFAULT_PARAMS);
  assert.ok(Math.abs(iv.high - selectionRadius(stable, DEFAULT_PARAMS)) < 1e-15);
  // A young source whose estimate is too unsure to combine does not vote,
  // however narrow its samples' interval.
  const unsure = young(0, 0.001, { uncertainty: 0.2 });
  const r = selectSources([unsure], { ...DEFAULT_PARAMS, minimumAgreeingSources: 1 });
  assert.ok(r.kind === "no-consensus");
  assert.deepEqual(r.rejected, [{ id: unsure.id, reason: "uncertainty" }]);
  // Nor does one whose interval is empty: its estimate contradicts its samples.
  const torn = young(0, 0.001, { measured: { low: 0.01, high: -0.01 } });
  const t = selectSources([torn], { ...DEFAULT_PARAMS, minimumAgreeingSources: 1 });
  assert.ok(t.kind === "no-consensus");
  assert.deepEqual(t.rejected, [{ id: torn.id, reason: "uncertainty" }]);
  // Nor does one whose samples prove less than maximum-source-uncertainty.
  const wide = young(0, 0.3);
  const w = selectSources([wide], { ...DEFAULT_PARAMS, minimumAgreeingSources: 1 });
  assert.ok(w.kind === "no-consensus");
  assert.deepEqual(w.rejected, [{ id: wide.id, reason: "uncertainty" }]);
});

test("property: young falsetickers whose proven intervals miss every honest one are never selected", () => {
  // Honest intervals all contain the true offset 0; each falseticker's lies
  // wholly beyond the widest honest interval. With more honest sources than
  // falsetickers, no point a falseticker covers can reach the majority.
  const honestArb = fc.array(
    fc.record({
      centre: fc.double({ min: -0.01, max: 0.01, noNaN: true }),
      extra: fc.double({ min: 0, max: 0.02, noNaN: true }),
    }),
    { minLength: 3, maxLength: 7 },
  );
  const falseArb = fc.array(
    fc.record({
      gap: fc.double({ min: 1e-6, max: 0.1, noNaN: true }),
      radius: fc.double({ min: 0, max: 0.05, noNaN: true }),
      side: fc.constantFrom(-1, 1),
    }),
    { maxLength: 6 },
  );
  fc.assert(
    fc.property(honestArb, falseArb, (honestRaw, falseRaw) => {
      fc.pre(falseRaw.length < honestRaw.length);
      const honest = honestRaw.map(({ centre, extra }, i) => {
        const radius = Math.abs(centre) + extra;
        return young(centre, radius, { id: i });
      });
      const reach = Math.max(...honest.map((c) => Math.max(-c.measured!.low, c.measured!.high)));
      const falsetickers = falseRaw.map(({ gap, radius, side }, i) => {
        const centre = side * (reach + gap + radius);
        return young(centre, radius, { id: 100 + i });
      });
      const r = selectSources([...falsetickers, ...honest], {
        ...DEFAULT_PARAMS,
        minimumAgreeingSources: 3,
      });
      assert.ok(r.kind === "selected");
      assert.ok(
        r.selected.every((id) => id < 100),
        JSON.stringify(r),
      );
      assert.ok(r.selected.length >= honest.length);
    }),
  );
});

test("periodic (pps) candidates neither vote nor count, and are selected only inside the agreeing region", () => {
  const params = { ...UNIT, minimumAgreeingSources: 2 };
  const a = cand(0.0, 0.01, 0.0);
  const b = cand(0.005, 0.01, 0.0);
  const inside = cand(0.004, 0.0001, 0, { periodic: true });
  const outside = cand(0.2, 0.0001, 0, { periodic: true });
  const r = selectSources([a, b, inside, outside], params);
  assert.ok(r.kind === "selected");
  assert.deepEqual(r.selected, [a.id, b.id, inside.id]);
  assert.equal(r.voting, 2, "periodic candidates are not voters");
  assert.deepEqual(r.rejected, [{ id: outside.id, reason: "periodic" }]);
  // Two periodic sources and one voter: still one voter, below the minimum of 2.
  const lone = selectSources([a, cand(0.0, 0.001, 0, { periodic: true })], params);
  assert.equal(lone.kind, "no-consensus");
  assert.ok(lone.kind === "no-consensus" && lone.voting === 1);
});
