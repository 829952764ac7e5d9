import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { NtpTimestamp } from "../time.js";
import { SimulatedClock } from "./simulated-clock.js";

/** Offsets are doubles: 1e-12 s. Timestamps carry 2^-32 s units (0.23 ns): pass 1e-9. */
function close(actual: number, expected: number, what: string, tolerance = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} != ${expected}`);
}

const START = NtpTimestamp.fromUnix(1_800_000_000, 0);

describe("SimulatedClock", () => {
  it("starts at the given true time, offset and monotonic clock", () => {
    const c = new SimulatedClock({ initialOffset: 0.25, monotonicStart: 50 });
    assert.equal(c.kind, "simulated");
    assert.ok(c.trueNow().equals(START));
    // true − clock = +0.25: the clock is 0.25 s behind.
    assert.ok(c.now().equals(NtpTimestamp.fromUnix(1_799_999_999, 750_000_000)));
    assert.equal(c.trueOffset(), 0.25);
    assert.equal(c.trueFrequency(), 0);
    assert.equal(c.monotonic(), 50);
    assert.equal(c.frequency(), 0);
    assert.equal(c.leap(), 3);
    assert.equal(c.isControlled(), false);
  });

  it("a frequency error makes true − clock grow (positive = the clock runs slow)", () => {
    const c = new SimulatedClock({ frequencyError: 20 });
    assert.equal(c.trueFrequency(), 20);
    c.advance(1000);
    close(c.trueOffset(), 0.02, "offset after 1000 s at 20 ppm");
    close(c.trueNow().diffSeconds(START), 1000, "true time", 1e-9);
    close(c.now().diffSeconds(START), 999.98, "clock time", 1e-9);
    // monotonic runs at the clock's rate (not stepped): 999.98 s.
    close(c.monotonic(), 1000 + 999.98, "monotonic");

    const fast = new SimulatedClock({ frequencyError: -5 });
    fast.advance(200);
    close(fast.trueOffset(), -0.001, "a fast clock gets ahead: offset negative");
  });

  it("setFrequency(frequencyError) stops the drift; the applied correction adds up", () => {
    const c = new SimulatedClock({ initialOffset: 0.1, frequencyError: 20 });
    assert.equal(c.setFrequency(20), 20);
    assert.equal(c.frequency(), 20);
    assert.equal(c.trueFrequency(), 0);
    c.advance(3600);
    assert.equal(c.trueOffset(), 0.1);
    // Over-correct by 5 ppm: the clock now runs fast, true − clock shrinks 5 µs/s.
    c.setFrequency(25);
    assert.equal(c.trueFrequency(), -5);
    c.advance(20_000);
    close(c.trueOffset(), 0, "offset after 20000 s at −5 ppm");
    // initialFrequency: a correction already in place, as a kernel's kept freq.
    const kept = new SimulatedClock({ frequencyError: 20, initialFrequency: 15 });
    assert.equal(kept.frequency(), 15);
    assert.equal(kept.trueFrequency(), 5);
    kept.takeControl();
    assert.equal(kept.frequency(), 15);
    assert.equal(kept.isControlled(), true);
  });

  it("step(offset) makes it right: positive = forward; monotonic is not stepped", () => {
    const c = new SimulatedClock({ initialOffset: 1.5, monotonicStart: 10 });
    c.advance(2);
    c.step(c.trueOffset());
    assert.equal(c.trueOffset(), 0);
    assert.ok(c.now().equals(c.trueNow()));
    assert.equal(c.monotonic(), 12);
    c.step(-0.75);
    assert.equal(c.trueOffset(), 0.75);
    close(c.trueNow().diffSeconds(c.now()), 0.75, "true − clock", 1e-9);
    assert.deepEqual(c.steps(), [
      { at: 2, seconds: 1.5 },
      { at: 2, seconds: -0.75 },
    ]);
    assert.equal(c.monotonic(), 12);
  });

  it("advanceTo, and true time never goes back", () => {
    const c = new SimulatedClock({ startSeconds: 1_700_000_000, startNanoseconds: 500_000_000 });
    c.advanceTo(10);
    assert.equal(c.trueElapsed(), 10);
    assert.ok(c.trueNow().equals(NtpTimestamp.fromUnix(1_700_000_010, 500_000_000)));
    assert.throws(() => c.advance(-1), RangeError);
    assert.throws(() => c.advanceTo(5), RangeError);
    assert.throws(() => c.advance(NaN), RangeError);
  });

  it("keeps nanosecond accuracy over a simulated day of small steps", () => {
    const c = new SimulatedClock({ frequencyError: 12.5 });
    for (let i = 0; i < 86_400; i++) c.advance(1);
    close(c.trueOffset(), 86_400 * 12.5e-6, "offset", 1e-9);
    close(c.trueNow().diffSeconds(c.now()), 1.08, "true − clock from timestamps", 1e-9);
  });

  it("wander is a seeded random walk: same seed, same run; no wander, no change", () => {
    const run = (seed: number) => {
      const c = new SimulatedClock({ frequencyError: 10, wander: 0.01, seed });
      const freqs: number[] = [];
      for (let i = 0; i < 100; i++) {
        c.advance(16);
        freqs.push(c.trueFrequency());
      }
      return { freqs, offset: c.trueOffset() };
    };
    const a = run(7);
    assert.deepEqual(run(7), a);
    assert.notDeepEqual(run(8).freqs, a.freqs);
    assert.ok(a.freqs.some((f) => f !== 10));
    // The walk's spread is about wander·√t = 0.01·√1600 = 0.4 ppm; 10× that is absurd.
    assert.ok(
      a.freqs.every((f) => Math.abs(f - 10) < 4),
      `${a.freqs.at(-1)}`,
    );
    // Offset = ∫ frequency dt with the trapezoid rule over each advance.
    const c = new SimulatedClock({ frequencyError: 10, wander: 0.01, seed: 7 });
    let expected = 0;
    let f0 = c.trueFrequency();
    for (let i = 0; i < 100; i++) {
      c.advance(16);
      const f1 = c.trueFrequency();
      expected += ((f0 + f1) / 2) * (16 / 1e6);
      f0 = f1;
    }
    close(c.trueOffset(), expected, "integrated offset");
  });

  it("keeps leap and error estimates, and validates", () => {
    const c = new SimulatedClock();
    c.setLeap(2);
    assert.equal(c.leap(), 2);
    c.setErrorEstimates(0.002, 0.1);
    assert.deepEqual(c.errorEstimates(), { esterror: 0.002, maxerror: 0.1 });
    assert.throws(() => c.step(Infinity), RangeError);
    assert.throws(() => c.setFrequency(NaN), RangeError);
    assert.throws(() => c.setErrorEstimates(1, -1), RangeError);
    assert.throws(() => new SimulatedClock({ startNanoseconds: 1e9 }), RangeError);
    assert.throws(() => new SimulatedClock({ wander: -1 }), RangeError);
    assert.throws(() => new SimulatedClock({ initialOffset: NaN }), RangeError);
  });
});

test("leap seconds as the kernel applies them: 23:59:59 twice with INS, skipped with DEL, once per flag", () => {
  const midnightUnix = 1_483_228_800; // 1 Jan 2017 00:00:00 UTC
  const reading = (c: SimulatedClock) => c.now().toUnixNanos(midnightUnix);
  for (const leap of [1, 2] as const) {
    const clock = new SimulatedClock({ startSeconds: midnightUnix - 3 });
    clock.setLeap(leap);
    const seconds: number[] = [];
    for (let i = 0; i < 12; i++) {
      seconds.push(Number(reading(clock) / 1_000_000_000n) - midnightUnix);
      clock.advance(0.5);
    }
    // Readings every half second of true time from 23:59:57.
    assert.deepEqual(
      seconds,
      leap === 1
        ? [-3, -3, -2, -2, -1, -1, -1, -1, 0, 0, 1, 1]
        : [-3, -3, -2, -2, 0, 0, 1, 1, 2, 2, 3, 3],
    );
    assert.deepEqual(clock.leaps(), [
      { at: leap === 1 ? 3 : 2, midnight: midnightUnix + 2_208_988_800, inserted: leap === 1 },
    ]);
    // Still flagged at the next midnight: the kernel waits for the flag to be cleared.
    clock.advance(86_400);
    assert.equal(clock.leaps().length, 1);
    clock.setLeap(0);
    clock.setLeap(leap);
    clock.advance(86_400);
    assert.equal(clock.leaps().length, 2, "cleared and set again: it acts again");
  }
});
