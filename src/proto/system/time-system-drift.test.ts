// The drift file in the system core: a kept frequency goes on the clock at start,
// seeds the filters, and the core asks for it to be written back hourly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SimulatedClock } from "../clock/simulated-clock.js";
import { defaultConfig } from "../config/parse.js";
import type { Measurement } from "../source/types.js";
import { fromTimestamps } from "../../../test/helpers/measurement.js";
import type { DriftRecord } from "./drift.js";
import { TimeSystem } from "./time-system.js";

function measure(clock: SimulatedClock): Measurement {
  const t1 = clock.now();
  clock.advance(0.005);
  const t2 = clock.trueNow();
  clock.advance(0.005);
  return fromTimestamps(t1, t2, t2, clock.now());
}

function core(clock: SimulatedClock, drift: DriftRecord | null, due: DriftRecord[] = []) {
  const defaults = defaultConfig().synchronization;
  return new TimeSystem({
    synchronization: { ...defaults, minimumAgreeingSources: 1 },
    clock,
    drift,
    wakeAt: () => {},
    events: { driftDue: (r) => due.push(r), panic: (a) => assert.fail(a.reason) },
  });
}

test("a kept frequency is put on the clock at start, taking control", () => {
  const clock = new SimulatedClock({ frequencyError: 20 });
  const system = core(clock, { frequencyPpm: 19.5, uncertaintyPpm: 0.01 });
  assert.equal(clock.frequency(), 19.5);
  assert.ok(clock.isControlled());
  assert.equal(system.controller.frequencyPpm, 19.5);
  assert.equal(system.driftRecord(), null, "nothing to keep before an update");
  // Without one the clock is left alone until the first correction.
  const untouched = new SimulatedClock({ initialFrequency: 7 });
  core(untouched, null);
  assert.equal(untouched.frequency(), 7);
  assert.equal(untouched.isControlled(), false);
});

test("the record to keep follows the learnt frequency; hourly writes are asked for", () => {
  const clock = new SimulatedClock({ frequencyError: 20 });
  const due: DriftRecord[] = [];
  const system = core(clock, null, due);
  system.addSource(
    1,
    { pollLimits: { min: 4, max: 4 }, setDesiredPollInterval: () => {} },
    {
      address: "192.0.2.1",
      initialPoll: 4,
    },
  );
  for (let t = 0; t < 3 * 3600 + 60; t += 16) {
    system.measurement(1, measure(clock));
    clock.advance(16);
  }
  const record = system.driftRecord();
  assert.ok(record !== null);
  assert.ok(Math.abs(record.frequencyPpm - 20) < 0.05, `${record.frequencyPpm}`);
  assert.ok(record.uncertaintyPpm > 0 && record.uncertaintyPpm < 0.05, `${record.uncertaintyPpm}`);
  // One per hour of monotonic time, the first an hour after the start.
  assert.equal(due.length, 3, JSON.stringify(due));
  assert.ok(due.every((r) => Math.abs(r.frequencyPpm - 20) < 0.5));
});
