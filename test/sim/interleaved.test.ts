// Interleaved mode through the whole clock algorithm, in simulated time: the
// real NtpSource (interleaved = true) against the real NtpServerCore whose
// replies leave a fixed time after their T3 reading (a busy server's send
// path), the ClockController steering a SimulatedClock that drifts (so there
// are frequency changes and slews between an exchange and the reply that
// measures it). Basic mode must show the bias of half the send path; interleaved
// mode must not, and must not be worse in spread.
import { test } from "node:test";
import assert from "node:assert/strict";

import type { Scenario } from "../../sim/scenario.js";
import { Simulation, type RunResult } from "../../sim/simulation.js";

const SEND_PATH = 200e-6;

function scenario(interleaved: boolean): Scenario {
  return {
    name: interleaved ? "interleaved" : "basic",
    description: "one server whose replies leave 200 µs after their T3 reading",
    hours: 3,
    seed: 11,
    clock: { initialOffset: 0.002, frequencyError: 12, wander: 1e-4 },
    servers: [
      {
        name: "busy",
        path: { delay: 0.001, jitter: { kind: "exponential", mean: 20e-6 } },
        noise: 1e-6,
        sendPath: SEND_PATH,
      },
    ],
    pollLimits: { min: 4, max: 7 },
    synchronization: { minimumAgreeingSources: 1 },
    interleaved,
  };
}

/** |true offset| quantile q over the last `hours` of the run. */
function settled(run: RunResult, q: number, fromSeconds: number): { median: number; q: number } {
  const values: number[] = [];
  run.offsets.forEach((o, i) => {
    if (i * run.sampleInterval >= fromSeconds) values.push(o);
  });
  const sorted = values.map(Math.abs).sort((a, b) => a - b);
  const signed = [...values].sort((a, b) => a - b);
  return {
    median: signed[Math.floor(signed.length / 2)]!,
    q: sorted[Math.floor(q * sorted.length)]!,
  };
}

/** Runs `s`, counting the controller's updates (one per absorbed sample after start-up). */
function run(s: Scenario): { run: RunResult; updates: number } {
  let updates = 0;
  const sim = new Simulation(s, {
    onAction: (_at, action) => {
      if (action.kind === "update") updates++;
    },
  });
  return { run: sim.run(), updates };
}

test("interleaved mode removes the send path's bias; basic mode keeps half of it", () => {
  const { run: basic, updates: basicUpdates } = run(scenario(false));
  const { run: xleave, updates: xleaveUpdates } = run(scenario(true));
  const from = 3600; // the last two hours
  const b = settled(basic, 0.95, from);
  const x = settled(xleave, 0.95, from);
  const detail = `basic median ${b.median * 1e6} µs p95 ${b.q * 1e6} µs; interleaved median ${x.median * 1e6} µs p95 ${x.q * 1e6} µs`;
  // Basic: the server's T3 is 200 µs early, so it looks 100 µs behind.
  assert.ok(Math.abs(Math.abs(b.median) - SEND_PATH / 2) < 30e-6, detail);
  assert.ok(Math.abs(x.median) < 20e-6, detail);
  assert.ok(x.q < b.q, detail);
  // The interleaved run did measure in interleaved mode: one sample lost at the switch.
  const ignored = xleave.servers[0]!.ignored;
  assert.equal(ignored["no-sample-measured"], 1, JSON.stringify(ignored));
  const measured = xleave.servers[0]!.measurements;
  assert.ok(measured > 50, `${measured} measurements`);
  // Its samples describe the exchange before, often behind the filter's state by a
  // slew's end or more: none may be dropped as stale for it (as many updates per
  // measurement as in basic mode).
  const basicRate = basicUpdates / basic.servers[0]!.measurements;
  assert.ok(
    xleaveUpdates / measured >= basicRate - 0.01,
    `${xleaveUpdates} updates of ${measured} interleaved measurements (basic: ${basicRate})`,
  );
});
