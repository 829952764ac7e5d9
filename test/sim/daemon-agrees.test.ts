// The simulator and the daemon drive one system core. Every input the
// simulator hands its core (sources added and removed, measurements, timer
// expiries, and clock meddling behind its back) is replayed, at the same
// simulated true times, into the daemon's own driver, ClockDiscipline, on a
// simulated clock of the same scenario with Node's fake timers. The two must
// agree exactly: the same log line for every action, the same clock (true
// offset, frequency, monotonic time) and the same discipline state and
// published system state after every single input, the same desired polls
// routed to the sources, and a timer armed by the daemon wherever the
// simulator's fired.
import { mock, test } from "node:test";
import assert from "node:assert/strict";
import { describeAction, type ControllerAction } from "../../src/proto/algorithm/controller.js";
import { defaultConfig } from "../../src/proto/config/index.js";
import { initialSystemState, SystemStateCell } from "../../src/proto/system/system-state.js";
import type { PolledSource } from "../../src/proto/system/time-system.js";
import { ClockDiscipline } from "../../src/daemon/discipline.js";
import { createLogger } from "../../src/daemon/log.js";
import type { SimLocalClock } from "../../sim/local-clock.js";
import { findScenario } from "../../sim/scenarios.js";
import type { Scenario } from "../../sim/scenario.js";
import {
  hostClock,
  Simulation,
  synchronizationConfig,
  type SystemInput,
} from "../../sim/simulation.js";

/** Everything observable after one input. */
interface Point {
  at: number;
  input: SystemInput["kind"];
  trueOffset: number;
  frequency: number;
  monotonic: number;
  offset: number | null;
  estimateFrequency: number | null;
  selected: number[];
  published: unknown;
}

function point(
  at: number,
  input: SystemInput,
  clock: SimLocalClock,
  state: ClockDiscipline["lastState"],
  published: SystemStateCell,
): Point {
  return {
    at,
    input: input.kind,
    trueOffset: clock.trueOffset(),
    frequency: clock.frequency(),
    monotonic: clock.monotonic(),
    offset: state.offset,
    estimateFrequency: state.frequency,
    selected: [...state.selected].sort((a, b) => a - b),
    published: published.current(),
  };
}

interface Recording {
  /**
   * The inputs, in order, each after the clock advances made before it: the
   * simulator advances its clock at every event (polls, packets, samples), and
   * a wandering clock's trajectory depends on those steps.
   */
  inputs: { advances: number[]; at: number; input: SystemInput }[];
  actions: ControllerAction[];
  points: Point[];
}

function simulateRecorded(scenario: Scenario): Recording {
  const recording: Recording = { inputs: [], actions: [], points: [] };
  let advances: number[] = [];
  const sim: Simulation = new Simulation(scenario, {
    onAction: (_at, action) => recording.actions.push(action),
    onInput: (at, input) => {
      recording.inputs.push({ advances, at, input });
      advances = [];
      recording.points.push(point(at, input, sim.clock, sim.system.lastState, sim.published));
    },
  });
  const advanceTo = sim.clock.advanceTo.bind(sim.clock);
  sim.clock.advanceTo = (t: number): void => {
    advances.push(t);
    advanceTo(t);
  };
  sim.run();
  return recording;
}

/** The log line the daemon writes for `action`, without its fields. */
function expectedLine(action: ControllerAction): string | null {
  const line = describeAction(action);
  return line === null ? null : `${line.level.toUpperCase()} ${line.message}`;
}

/** A source's poll routing, as it reaches the daemon's source task. */
class RoutedSource implements PolledSource {
  readonly polls: { poll: number; burst: boolean }[] = [];
  constructor(readonly pollLimits: { min: number; max: number }) {}
  setDesiredPollInterval(log2: number, burst = false): void {
    this.polls.push({ poll: log2, burst });
  }
}

interface Replay {
  lines: string[];
  points: Point[];
  sources: Map<number, RoutedSource>;
}

function replayThroughDaemon(scenario: Scenario, recording: Recording): Replay {
  const config = defaultConfig();
  config.synchronization = synchronizationConfig(scenario);
  const clock = hostClock(scenario, scenario.seed);
  const published = new SystemStateCell(
    initialSystemState({
      localStratum: config.synchronization.localStratum,
      referenceId: config.synchronization.referenceId,
    }),
  );
  const lines: string[] = [];
  const sink = {
    write: (line: string): void => {
      // "<time> LEVEL ntp-daemon: message fields...": level and message.
      const match = / (TRACE|DEBUG|INFO|WARN|ERROR) +ntp-daemon: (.*)$/.exec(line.trimEnd());
      assert.ok(match !== null, line);
      lines.push(`${match[1]} ${match[2]}`);
    },
  };
  const replay: Replay = { lines, points: [], sources: new Map() };
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    const discipline = new ClockDiscipline({
      config,
      clock,
      virtual: null,
      system: published,
      log: createLogger("trace", sink),
      onPanic: () => {},
    });
    const timer = mock.method(discipline.core, "timer");
    const limits = scenario.pollLimits ?? { min: 4, max: 10 };
    for (const { advances, at, input } of recording.inputs) {
      for (const t of advances) clock.advanceTo(t);
      const task = (id: number) => ({
        id,
        address: { address: input.kind === "add" ? input.address : "" },
        source: replay.sources.get(id) ?? new RoutedSource(limits),
      });
      switch (input.kind) {
        case "add": {
          const t = task(input.id);
          replay.sources.set(input.id, t.source);
          discipline.addSource(t, { initialPollInterval: input.initialPoll });
          break;
        }
        case "remove":
          discipline.removeSource(task(input.id));
          break;
        case "measurement":
          discipline.measurement(task(input.id), input.measurement);
          break;
        case "timer": {
          // The daemon's own timer must be pending and due: fire it.
          const before = timer.mock.callCount();
          mock.timers.runAll();
          assert.equal(timer.mock.callCount(), before + 1, `the daemon's timer fires at ${at} s`);
          break;
        }
        case "meddle":
          clock.step(input.by);
          break;
      }
      replay.points.push(point(at, input, clock, discipline.lastState, published));
    }
    discipline.stop();
  } finally {
    mock.timers.reset();
  }
  return replay;
}

/** How many inputs of each kind the run had, and how many actions of each kind. */
function census(recording: Recording): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const { input } of recording.inputs) counts[input.kind] = (counts[input.kind] ?? 0) + 1;
  for (const a of recording.actions) counts[a.kind] = (counts[a.kind] ?? 0) + 1;
  return counts;
}

function agree(scenario: Scenario, needs: string[]): void {
  const recording = simulateRecorded(scenario);
  const counts = census(recording);
  for (const kind of needs)
    assert.ok((counts[kind] ?? 0) > 0, `no ${kind}: ${JSON.stringify(counts)}`);
  const replay = replayThroughDaemon(scenario, recording);
  // The same clock and state after every input, compared in full and exactly.
  assert.equal(replay.points.length, recording.points.length);
  for (let i = 0; i < recording.points.length; i++) {
    assert.deepEqual(replay.points[i], recording.points[i], `after input ${i}`);
  }
  // The same actions, as the daemon logs them.
  const expected = recording.actions.map(expectedLine).filter((l) => l !== null);
  assert.deepEqual(replay.lines, expected);
  // Every desired poll reached its source, a burst exactly when below the minimum.
  for (const [id, source] of replay.sources) {
    const wanted = recording.actions.flatMap((a) =>
      a.kind === "desired-poll" && a.id === id
        ? [{ poll: a.poll, burst: a.poll < source.pollLimits.min }]
        : [],
    );
    assert.deepEqual(source.polls, wanted, `source ${id}`);
  }
}

function scenario(name: string, changes: Partial<Scenario> = {}): Scenario {
  const found = findScenario(name);
  assert.ok(found !== undefined, name);
  return { ...found, ...changes };
}

test("large-initial-offset: the daemon's discipline and the simulator agree (steps, slews, timers)", () => {
  const s = scenario("large-initial-offset", { hours: 1 });
  agree(s, [
    "measurement",
    "timer",
    "step",
    "set-frequency",
    "set-timer",
    "update",
    "desired-poll",
  ]);
});

test("server-vanishes with meddling: they agree through respawns and a clock stepped behind their back", () => {
  const base = scenario("server-vanishes");
  agree(
    {
      ...base,
      hours: 1.5,
      clock: { ...base.clock, meddling: [{ at: 2700, by: 0.05 }] },
    },
    ["add", "remove", "measurement", "meddle", "step", "update", "no-consensus"],
  );
});

test("falseticker-startup: they agree through a start-up where young sources vote with their samples' intervals", () => {
  // The selection interval of a young source comes from the samples the
  // controller remembers: the daemon's path must feed them exactly as the
  // simulator does (the points compare the selected sets after every input).
  agree(scenario("falseticker-startup", { hours: 0.5 }), [
    "measurement",
    "no-consensus",
    "update",
    "set-frequency",
    "set-timer",
    "timer",
  ]);
});
