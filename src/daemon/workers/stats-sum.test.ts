import assert from "node:assert/strict";
import { test } from "node:test";
import { DROP_REASONS, ServerStats, serverStatsObservation } from "../../proto/server/stats.js";
import { addServerStats, sumServerStats } from "./stats-sum.js";

function filled(base: number): ServerStats {
  const s = new ServerStats();
  let n = base;
  for (const key of Object.keys(s) as (keyof ServerStats)[]) {
    if (key !== "ignoredByReason") s[key] = n++;
  }
  for (const reason of DROP_REASONS) s.ignoredByReason[reason] = n++;
  return s;
}

test("every counter, drop reasons included, is summed", () => {
  const a = filled(1);
  const b = filled(100);
  // What arrives from a thread is a structured clone, not a ServerStats.
  const total = sumServerStats([a, structuredClone(b)]);
  for (const key of Object.keys(a) as (keyof ServerStats)[]) {
    if (key === "ignoredByReason") continue;
    assert.equal(total[key], a[key] + b[key], key);
  }
  for (const reason of DROP_REASONS) {
    assert.equal(
      total.ignoredByReason[reason],
      a.ignoredByReason[reason] + b.ignoredByReason[reason],
    );
  }
  const observed = serverStatsObservation(total);
  assert.equal(observed.received_packets, a.receivedPackets + b.receivedPackets);
  addServerStats(total, a);
  assert.equal(total.ntsNakPackets, 2 * a.ntsNakPackets + b.ntsNakPackets);
});

test("the sum of nothing is all zeros", () => {
  assert.deepEqual(sumServerStats([]), new ServerStats());
});
