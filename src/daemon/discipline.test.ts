// What the clock discipline reports to the observation: the units.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig } from "../proto/config/index.js";
import type { ControllerAction } from "../proto/algorithm/controller.js";
import { initialSystemState } from "../proto/system/system-state.js";
import { SimulatedClock } from "../proto/clock/simulated-clock.js";
import { ClockDiscipline } from "./discipline.js";
import { createLogger, MemorySink } from "./log.js";

test("the system estimate's frequency is s/s, as the observation schema says", () => {
  const discipline = new ClockDiscipline({
    config: defaultConfig(),
    clock: new SimulatedClock(),
    virtual: null,
    system: null,
    log: createLogger("error", new MemorySink()),
    onPanic: () => {},
  });
  const update: ControllerAction = {
    kind: "update",
    system: initialSystemState(),
    offset: 1e-4,
    offsetUncertainty: 1e-5,
    frequency: 2.5e-6, // the controller's estimate, s/s
    frequencyUncertainty: 1e-7,
    selected: [],
    outvoted: [],
  };
  // An update as the controller would hand it over (apply is the discipline's only entry).
  (discipline as unknown as { apply(actions: ControllerAction[]): void }).apply([update]);
  const frequency = discipline.system().frequency;
  assert.ok(frequency !== undefined);
  assert.ok(Math.abs(frequency - 2.5e-6) < 1e-15, `${frequency}`);
  discipline.stop();
});
