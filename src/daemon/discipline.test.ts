// What the clock discipline reports to the observation: the units.
import { test } from "node:test";
import assert from "node:assert/strict";
import { SimulatedClock } from "../proto/clock/simulated-clock.js";
import { defaultConfig } from "../proto/config/index.js";
import { NtpSource } from "../proto/source/source.js";
import { offsetAndDelay } from "../proto/time.js";
import { ClockDiscipline } from "./discipline.js";
import { createLogger, MemorySink } from "./log.js";

test("the system estimate's frequency is s/s, as the observation schema says", () => {
  const config = defaultConfig();
  config.synchronization.minimumAgreeingSources = 1;
  const clock = new SimulatedClock({ frequencyError: 25 });
  const sink = new MemorySink();
  const discipline = new ClockDiscipline({
    config,
    clock,
    virtual: null,
    system: null,
    log: createLogger("info", sink),
    onPanic: () => {},
  });
  const task = { id: 1, address: { address: "192.0.2.1" }, source: new NtpSource({}) };
  discipline.addSource(task, { initialPollInterval: 4 });
  // The update's log line gives the controller's estimate in ppm.
  const logged = (): number => {
    const line = sink.lines.findLast((l) => l.includes("Offset: "));
    return Number(/frequency: (-?[\d.]+)\+-/.exec(line ?? "")?.[1]);
  };
  // Measurements of a right server until an estimate that tells the units apart.
  for (let i = 0; i < 200 && !(Math.abs(logged()) > 0.01); i++) {
    const t1 = clock.now();
    clock.advance(0.005);
    const t2 = clock.trueNow();
    clock.advance(0.005);
    const t4 = clock.now();
    const { offset, delay } = offsetAndDelay(t1, t2, t2, t4);
    discipline.measurement(task, {
      ...{ offset, delay, t1, t2, t3: t2, t4, version: 4, leap: 0, stratum: 1 },
      ...{ referenceId: 0, rootDelay: 0, rootDispersion: 1e-5, poll: 4, precision: -20 },
    });
    clock.advance(16);
  }
  const ppm = logged();
  assert.ok(Math.abs(ppm) > 0.01, `an update with a frequency estimate was logged: ${ppm}`);
  const frequency = discipline.system().frequency;
  assert.ok(frequency !== undefined);
  assert.ok(Math.abs(frequency * 1e6 - ppm) <= 0.0005, `${frequency} s/s vs ${ppm} ppm`);
  discipline.stop();
});
