// The system core carries out what the controller asks for, through the clock
// interface, and routes it to the sources, the published state and the driver.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { ControllerAction } from "../algorithm/controller.js";
import { SimulatedClock } from "../clock/simulated-clock.js";
import { defaultConfig } from "../config/parse.js";
import type { SynchronizationConfig } from "../config/types.js";
import type { Measurement } from "../source/types.js";
import { offsetAndDelay } from "../time.js";
import { initialSystemState, SystemStateCell } from "./system-state.js";
import { addServerId, emptyBloomFilter } from "../packet/v5-bloom.js";
import {
  TimeSystem,
  type LayeredClock,
  type PolledSource,
  type TimeSystemEvents,
} from "./time-system.js";

function sync(overrides: Partial<SynchronizationConfig> = {}): SynchronizationConfig {
  const defaults = defaultConfig().synchronization;
  return {
    ...defaults,
    accumulatedStepPanicThreshold: null,
    // One source is enough here: the routing is under test, not the selection.
    minimumAgreeingSources: 1,
    algorithm: { ...defaults.algorithm },
    ...overrides,
  };
}

/** A source's driver that remembers the desired polls routed to it. */
class RecordingSource implements PolledSource {
  readonly pollLimits = { min: 4, max: 10 };
  readonly polls: { poll: number; burst: boolean }[] = [];
  setDesiredPollInterval(log2: number, burst = false): void {
    this.polls.push({ poll: log2, burst });
  }
}

/** A 10 ms round trip to a server `serverError` s off true time, against `clock`. */
function measure(clock: SimulatedClock, serverError = 0, shift = 0): Measurement {
  const t1 = clock.now().addSeconds(shift);
  clock.advance(0.005);
  const t2 = clock.trueNow().addSeconds(serverError);
  clock.advance(0.005);
  const t4 = clock.now().addSeconds(shift);
  const { offset, delay } = offsetAndDelay(t1, t2, t2, t4);
  return {
    offset,
    delay,
    t1,
    t2,
    t3: t2,
    t4,
    version: 4,
    leap: 0,
    stratum: 1,
    referenceId: 0x47505300,
    rootDelay: 0,
    rootDispersion: 1e-5,
    poll: 4,
    precision: -20,
  };
}

interface Harness {
  system: TimeSystem;
  clock: SimulatedClock;
  published: SystemStateCell;
  seen: ControllerAction[];
  wakeUps: number[];
  panics: string[];
}

function harness(
  options: {
    config?: Partial<SynchronizationConfig>;
    initialOffset?: number;
    layered?: LayeredClock;
    events?: Partial<TimeSystemEvents>;
  } = {},
): Harness {
  const clock = new SimulatedClock({ initialOffset: options.initialOffset ?? 0 });
  const published = new SystemStateCell(initialSystemState());
  const seen: ControllerAction[] = [];
  const wakeUps: number[] = [];
  const panics: string[] = [];
  const system = new TimeSystem({
    synchronization: sync(options.config),
    clock,
    layered: options.layered ?? null,
    published,
    wakeAt: (at) => wakeUps.push(at),
    events: {
      ...options.events,
      action: (action) => seen.push(action),
      panic: (action) => panics.push(action.reason),
    },
  });
  return { system, clock, published, seen, wakeUps, panics };
}

/**
 * Feeds source 1 a measurement every 16 s until `done` or 64 of them. `layered`:
 * the sources measure against a right clock the steered one is layered on.
 */
function run(h: Harness, done: () => boolean, layered = false): void {
  for (let i = 0; i < 64 && !done() && h.panics.length === 0; i++) {
    h.system.measurement(1, measure(h.clock, 0, layered ? h.clock.trueOffset() : 0));
    h.clock.advance(16);
  }
}

test("a large offset is stepped away, after taking control, and confirmed to the controller", () => {
  const steps: number[] = [];
  const h = harness({ initialOffset: 5, events: { step: (a) => steps.push(a.offset) } });
  const source = new RecordingSource();
  h.system.addSource(1, source, { address: "192.0.2.7", initialPoll: 4 });
  assert.equal(h.clock.isControlled(), false, "nothing corrected yet");
  run(h, () => steps.length > 0);
  assert.equal(steps.length, 1);
  assert.ok(h.clock.isControlled());
  assert.deepEqual(
    h.clock.steps().map((s) => s.seconds),
    steps,
  );
  assert.ok(Math.abs(h.clock.trueOffset()) < 1e-3, `${h.clock.trueOffset()}`);
  // A confirmed step is no meddling to the filters: the next samples just go on.
  run(h, () => h.system.lastState.offset !== null);
  assert.ok(!h.seen.some((a) => a.kind === "meddling"));
});

test("an update is kept, published, and handed to the clock; desired polls reach the source", () => {
  const updates: number[] = [];
  const h = harness({ events: { update: (a) => updates.push(a.offset) } });
  const source = new RecordingSource();
  h.system.addSource(1, source, { address: "192.0.2.7", initialPoll: 6 });
  // The start-up burst polls below the minimum, and says so.
  assert.ok(source.polls.length > 0);
  assert.ok(source.polls.every((p) => p.burst === p.poll < source.pollLimits.min));
  assert.ok(source.polls.some((p) => p.burst));
  run(h, () => updates.length > 0);
  assert.equal(updates.length, 1);
  const state = h.system.lastState;
  assert.equal(state.offset, updates[0]);
  assert.deepEqual([...state.selected], [1]);
  assert.equal(h.published.current().stratum, 2);
  assert.equal(h.published.current().referenceId, 0xc0000207, "192.0.2.7 as the reference id");
  assert.equal(h.clock.leap(), 0);
  assert.ok(h.clock.errorEstimates() !== null);
  assert.equal(h.system.source(1)?.selected, true);
  assert.equal(h.system.source(2), null);
  // Every desired-poll action reached the source, in order.
  const routed = h.seen.filter((a) => a.kind === "desired-poll").map((a) => a.poll);
  assert.deepEqual(
    source.polls.map((p) => p.poll),
    routed,
  );
  h.system.removeSource(1);
  assert.equal(h.system.source(1), null);
});

test("a slew asks the driver for a wake-up; timer() then ends the slew", () => {
  const frequencies: ControllerAction[] = [];
  const h = harness({ initialOffset: 0.004, events: { frequency: (a) => frequencies.push(a) } });
  h.system.addSource(1, new RecordingSource(), { address: "192.0.2.7", initialPoll: 4 });
  run(h, () => h.wakeUps.length > 0);
  assert.equal(h.wakeUps.length, 1);
  const start = frequencies.at(-1);
  assert.ok(start?.kind === "set-frequency" && start.reason === "slew-start");
  assert.equal(h.clock.frequency(), start.ppm, "the slew's frequency is on the clock");
  h.clock.advance(h.wakeUps[0]! - h.clock.monotonic() + 0.01);
  h.system.timer();
  const end = frequencies.at(-1);
  assert.ok(end?.kind === "set-frequency" && end.reason === "slew-end");
  assert.equal(h.clock.frequency(), end.ppm);
});

test("a panic goes to the driver, and nothing of its batch is carried out", () => {
  const h = harness({
    initialOffset: 5,
    config: { startupStepPanicThreshold: { forward: 1, backward: 1 } },
  });
  h.system.addSource(1, new RecordingSource(), { address: "192.0.2.7", initialPoll: 4 });
  run(h, () => false);
  assert.equal(h.panics.length, 1);
  assert.deepEqual(h.clock.steps(), []);
  assert.equal(h.clock.isControlled(), false);
  assert.equal(h.seen.at(-1)?.kind, "panic", "the batch ends at the panic");
});

test("a layered clock: measurements move into its frame, estimates are reported against the measured clock", () => {
  // The steered clock is a SimulatedClock 0.3 s ahead of the clock the sources
  // measure against (which is itself right): the source sees offset 0, the
  // steered clock is 0.3 s off and gets stepped back.
  const shift = 0.3;
  const layered: LayeredClock = {
    offsetFromSystem: () => -h.clock.trueOffset(),
    frequencyVsSystem: () => -h.clock.trueFrequency(),
  };
  const h = harness({ initialOffset: -shift, layered });
  h.system.addSource(1, new RecordingSource(), { address: "192.0.2.7", initialPoll: 4 });
  // The sources read the measured clock: the steered one minus its lead.
  run(h, () => h.system.lastState.offset !== null, true);
  assert.ok(
    Math.abs(h.clock.trueOffset()) < 1e-3,
    `steered clock corrected: ${h.clock.trueOffset()}`,
  );
  const state = h.system.lastState;
  assert.ok(state.offset !== null && Math.abs(state.offset) < 1e-3, `${state.offset}`);
  assert.equal(h.clock.leap(), 3, "the measured clock's leap is not the layered clock's to set");
  assert.equal(h.clock.errorEstimates(), null);
});

test("a step tells every source to forget the times it kept (interleaved mode)", () => {
  const steps: number[] = [];
  const h = harness({ initialOffset: 5, events: { step: (a) => steps.push(a.offset) } });
  const stepped = [0, 0];
  class SteppedSource extends RecordingSource {
    constructor(private readonly index: number) {
      super();
    }
    clockStepped(): void {
      stepped[this.index]!++;
    }
  }
  h.system.addSource(1, new SteppedSource(0), { address: "192.0.2.7", initialPoll: 4 });
  h.system.addSource(2, new SteppedSource(1), { address: "192.0.2.8", initialPoll: 4 });
  run(h, () => steps.length > 0);
  assert.ok(steps.length > 0, "the clock was stepped");
  assert.deepEqual(stepped, [steps.length, steps.length]);
});

test("a layered clock: a measurement moves into its frame as it was when taken", () => {
  // The layered clock gains 100 ppm on the measured one and is 1 ms ahead of it now.
  // A basic sample's midpoint (T1, T4) is 5 ms old when handed in: the layered clock
  // was then 1 ms - 0.5 µs ahead. An interleaved one's is 16 s + 5 ms old:
  // 1 ms - 1.6005 ms = -0.6005 ms ahead.
  const layered: LayeredClock = { offsetFromSystem: () => 0.001, frequencyVsSystem: () => 100 };
  const offsets: number[] = [];
  for (const interleaved of [false, true]) {
    const h = harness({ layered });
    h.system.addSource(1, new RecordingSource(), { address: "192.0.2.7", initialPoll: 4 });
    // The sources read the measured clock: 1 ms behind the steered (layered) one.
    const m = measure(h.clock, 0, -0.001);
    const ago = interleaved ? 16 : 0;
    h.system.measurement(1, {
      ...m,
      offset: 0.002,
      t1: m.t1.addSeconds(-ago),
      t4: m.t4.addSeconds(-ago),
      ...(interleaved ? { interleaved: true } : {}),
    });
    offsets.push(h.system.controller.sourceSnapshot(1)!.offset);
  }
  // Basic: 2 ms - (1 ms - 0.5 µs). Interleaved: 2 ms - (1 ms - 1.6005 ms).
  assert.ok(Math.abs(offsets[0]! - 0.0010005) < 1e-9, `basic ${offsets[0]}`);
  assert.ok(Math.abs(offsets[1]! - 0.0026005) < 1e-8, `interleaved ${offsets[1]}`);
});

test("NTPv5: the published state carries the union of the used sources' Bloom filters", () => {
  class V5Source extends RecordingSource {
    filter: Uint8Array | null = null;
    referenceIdFilter(): Uint8Array | null {
      return this.filter;
    }
  }
  const updates: number[] = [];
  const h = harness({ events: { update: (a) => updates.push(a.offset) } });
  const source = new V5Source();
  h.system.addSource(1, source, { address: "192.0.2.7", initialPoll: 4 });
  run(h, () => updates.length > 0);
  assert.equal(h.published.current().upstreamReferenceIds, null, "no filter fetched yet");

  source.filter = emptyBloomFilter();
  addServerId(source.filter, new Uint16Array([3, 14, 15, 92, 65, 35, 89, 79, 323, 846]));
  run(h, () => updates.length > 1);
  const first = h.published.current().upstreamReferenceIds;
  assert.ok(first);
  assert.deepEqual(first, source.filter);
  assert.notEqual(first, source.filter, "a copy: the source goes on refreshing its own");
  run(h, () => updates.length > 2);
  assert.equal(h.published.current().upstreamReferenceIds, first, "unchanged bits, same array");

  h.system.removeSource(1);
  const other = new RecordingSource(); // v4: no filter
  h.system.addSource(2, other, { address: "192.0.2.8", initialPoll: 4 });
  for (let i = 0; i < 64 && updates.length < 4; i++) {
    h.system.measurement(2, measure(h.clock));
    h.clock.advance(16);
  }
  assert.equal(updates.length, 4);
  assert.equal(h.published.current().upstreamReferenceIds, null, "the v5 source gone");
});
