// What the clock discipline reports to the observation: the units, and the
// estimates at the moment of the query.
import { mock, test } from "node:test";
import assert from "node:assert/strict";
import { SimulatedClock } from "../proto/clock/simulated-clock.js";
import { defaultConfig } from "../proto/config/index.js";
import { NtpSource } from "../proto/source/source.js";
import { offsetAndDelay } from "../proto/time.js";
import type { ClockReader, Timespec } from "./native/clock.js";
import { VirtualClock } from "./clock/virtual-clock.js";
import { ClockDiscipline } from "./discipline.js";
import { createLogger, MemorySink } from "./log.js";

// ---------------------------------------------------------------------------
// The estimates at the moment of the query (issue #11 item 2)

/** A system clock for a VirtualClock to read: a SimulatedClock nobody steers. */
class SimulatedSystemReader implements ClockReader {
  readonly kind = "fallback";
  constructor(private readonly system: SimulatedClock) {}
  readRealtime(out?: Timespec): Timespec {
    const ns = this.system.now().toUnixNanos(1_800_000_000);
    return fill(out, Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n));
  }
  readMonotonic(out?: Timespec): Timespec {
    const ns = Math.round(this.system.monotonic() * 1e9);
    return fill(out, Math.floor(ns / 1e9), ns % 1e9);
  }
  readTai(): null {
    return null;
  }
  adjtimeRead(): null {
    return null;
  }
}

function fill(out: Timespec | undefined, sec: number, nsec: number): Timespec {
  const t = out ?? { sec: 0, nsec: 0 };
  t.sec = sec;
  t.nsec = nsec;
  return t;
}

/**
 * A daemon's discipline on a simulated system clock, the sources measuring
 * against that clock. "kernel": the discipline steers it; "virtual"
 * (--no-clock-control): it steers a VirtualClock layered on it, and the system
 * clock keeps its error. Timers are Node's fake ones, moved with the clock.
 */
class Rig {
  readonly system: SimulatedClock;
  readonly discipline: ClockDiscipline;
  readonly task = { id: 1, address: { address: "192.0.2.1" }, source: new NtpSource({}) };
  readonly log = new MemorySink();

  constructor(
    readonly kind: "kernel" | "virtual",
    clock: { initialOffset?: number; frequencyError?: number },
    /** The server's error, s (server − true). */
    private readonly serverError = 0,
  ) {
    const config = defaultConfig();
    config.synchronization.minimumAgreeingSources = 1;
    this.system = new SimulatedClock(clock);
    const virtual =
      kind === "virtual" ? new VirtualClock(new SimulatedSystemReader(this.system)) : null;
    this.discipline = new ClockDiscipline({
      config,
      clock: virtual ?? this.system,
      virtual,
      system: null,
      log: createLogger("info", this.log),
      onPanic: () => assert.fail("panic"),
    });
    this.discipline.addSource(this.task, { initialPollInterval: 4 });
  }

  /** One exchange over a 10 ms symmetric path, handed to the discipline. */
  measure(): void {
    const t1 = this.system.now();
    this.elapse(0.005);
    const t2 = this.system.trueNow().addSeconds(this.serverError);
    this.elapse(0.005);
    const t4 = this.system.now();
    const { offset, delay } = offsetAndDelay(t1, t2, t2, t4);
    this.discipline.measurement(this.task, {
      ...{ offset, delay, t1, t2, t3: t2, t4, version: 4, leap: 0, stratum: 1 },
      ...{ referenceId: 0, rootDelay: 0, rootDispersion: 1e-5, poll: 4, precision: -20 },
    });
  }

  /** Lets `seconds` pass, in steps of at most 0.25 s, firing the discipline's timers as they come due. */
  elapse(seconds: number, each?: () => void): void {
    let left = seconds;
    while (left > 1e-9) {
      const dt = Math.min(0.25, left);
      this.system.advance(dt);
      mock.timers.tick(dt * 1000);
      left -= dt;
      each?.();
    }
  }

  /** True time − system clock now. */
  truth(): number {
    return this.system.trueOffset();
  }
}

function withFakeTimers(fn: () => void): void {
  mock.timers.enable({ apis: ["setTimeout"] });
  try {
    fn();
  } finally {
    mock.timers.reset();
  }
}

for (const kind of ["virtual", "kernel"] as const) {
  test(`${kind} clock: system.offset is the system clock's error at the moment of the query, between updates too`, () => {
    withFakeTimers(() => {
      // The system clock runs 25 ppm slow. Once locked, the estimate must follow
      // the truth through a whole poll interval, not stay at the last update's value.
      const rig = new Rig(kind, { frequencyError: 25, initialOffset: 2e-4 });
      for (let i = 0; i < 48; i++) {
        rig.measure();
        rig.elapse(16);
      }
      rig.measure();
      const first = rig.discipline.system();
      const firstTruth = rig.truth();
      let worst = 0;
      rig.elapse(15, () => {
        const offset = rig.discipline.system().offset;
        assert.ok(offset !== undefined);
        worst = Math.max(worst, Math.abs(offset - rig.truth()));
      });
      const last = rig.discipline.system();
      assert.ok(first.offset !== undefined && last.offset !== undefined);
      assert.ok(first.frequency !== undefined && last.frequency !== undefined);
      assert.ok(worst < 5e-6, `error of the estimate during the poll interval: ${worst * 1e6} µs`);
      // Between two updates the estimate moves by frequency × elapsed.
      const moved = last.offset - first.offset;
      const trueMove = rig.truth() - firstTruth;
      assert.ok(
        Math.abs(moved - first.frequency * 15) < 0.5e-6,
        `moved ${moved * 1e6} µs, frequency × 15 s = ${first.frequency * 15 * 1e6} µs`,
      );
      assert.ok(Math.abs(moved - trueMove) < 1e-6, `${moved * 1e6} µs vs ${trueMove * 1e6} µs`);
      if (kind === "virtual") {
        // The system clock is left alone: its 25 ppm show, as a 375 µs drift over the interval.
        assert.ok(Math.abs(first.frequency - 25e-6) < 0.1e-6, `${first.frequency * 1e6} ppm`);
      }
      rig.discipline.stop();
    });
  });
}

test("kernel clock: during a slew, system.offset is the error the slew has left", () => {
  withFakeTimers(() => {
    // 2 ms behind: slewed (below the 10 ms step threshold) at up to 200 ppm.
    const rig = new Rig("kernel", { initialOffset: 0.002 });
    for (let i = 0; i < 20 && !rig.log.lines.some((l) => l.includes("Slewing by")); i++) {
      rig.measure();
      rig.elapse(2);
    }
    assert.ok(
      rig.log.lines.some((l) => l.includes("Slewing by")),
      "a slew started",
    );
    let worst = 0;
    rig.elapse(12, () => {
      const offset = rig.discipline.system().offset;
      assert.ok(offset !== undefined);
      worst = Math.max(worst, Math.abs(offset - rig.truth()));
    });
    assert.ok(Math.abs(rig.truth()) < 1e-4, `the slew ended: ${rig.truth()}`);
    assert.ok(worst < 5e-6, `error of the estimate through the slew: ${worst * 1e6} µs`);
    rig.discipline.stop();
  });
});

for (const kind of ["virtual", "kernel"] as const) {
  test(`${kind} clock: a source's offset stays continuous through the end of start-up and the slew that follows`, () => {
    withFakeTimers(() => {
      // A perfect path to a server 150 µs ahead of true time: the source's
      // offset from the system clock is 150 µs plus the system clock's error
      // throughout; the end of start-up brings a slew of about 150 µs.
      const rig = new Rig(kind, {}, 150e-6);
      const errors: number[] = [];
      const sample = () => {
        const source = rig.discipline.source(1);
        if (source !== undefined) errors.push(source.offset - (150e-6 + rig.truth()));
      };
      for (let i = 0; i < 8; i++) {
        rig.measure();
        rig.elapse(2, sample);
      }
      for (let i = 0; i < 6; i++) {
        rig.measure();
        rig.elapse(16, sample);
      }
      assert.ok(
        rig.log.lines.some((l) => l.includes("Slewing by")),
        "start-up ended with a slew",
      );
      assert.ok(errors.length > 100, `${errors.length} queries`);
      // The source does not move against the system clock: neither may its offset.
      // What is left is the filter's own correction at an update: its frequency
      // from the start-up burst is off by tens of ppb, about 1 µs over a 16 s
      // poll (the ~150 µs jump this guards against was the whole slew).
      let jump = 0;
      for (let i = 1; i < errors.length; i++) {
        jump = Math.max(jump, Math.abs(errors[i]! - errors[i - 1]!));
      }
      assert.ok(jump < 2e-6, `largest jump between two queries 0.25 s apart: ${jump * 1e6} µs`);
      const worst = Math.max(...errors.map(Math.abs));
      assert.ok(worst < 2e-6, `worst error of the source's offset: ${worst * 1e6} µs`);
      rig.discipline.stop();
    });
  });
}

test("the system estimate's frequency is s/s, as the observation schema says", () => {
  withFakeTimers(() => {
    // --no-clock-control leaves the system clock's 25 ppm in place: 25e-6 s/s.
    const rig = new Rig("virtual", { frequencyError: 25 });
    for (let i = 0; i < 48; i++) {
      rig.measure();
      rig.elapse(16);
    }
    const frequency = rig.discipline.system().frequency;
    assert.ok(frequency !== undefined);
    assert.ok(Math.abs(frequency - 25e-6) < 0.1e-6, `${frequency} s/s`);
    rig.discipline.stop();
  });
});
