import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NtpTimestamp } from "../../proto/time.js";
import type { ClockReader, Timespec } from "../native/clock.js";
import { VirtualClock } from "./virtual-clock.js";

/** A system clock under the test's control: realtime and monotonic, set by hand. */
class FakeSystem implements ClockReader {
  readonly kind = "fallback";
  real: Timespec = { sec: 1_800_000_000, nsec: 0 };
  mono: Timespec = { sec: 100, nsec: 0 };

  /** Both clocks move by `seconds` (whole ns), as a system clock without corrections. */
  elapse(seconds: number): void {
    const ns = Math.round(seconds * 1e9);
    for (const t of [this.real, this.mono]) {
      const total = t.nsec + ns;
      t.sec += Math.floor(total / 1e9);
      t.nsec = total - Math.floor(total / 1e9) * 1e9;
    }
  }

  readRealtime(out?: Timespec): Timespec {
    return copy(this.real, out);
  }
  readMonotonic(out?: Timespec): Timespec {
    return copy(this.mono, out);
  }
  readTai(): null {
    return null;
  }
  adjtimeRead(): null {
    return null;
  }
}

function copy(src: Timespec, out?: Timespec): Timespec {
  const t = out ?? { sec: 0, nsec: 0 };
  t.sec = src.sec;
  t.nsec = src.nsec;
  return t;
}

/** Offsets are doubles: 1e-12 s. Timestamps carry 2^-32 s units (0.23 ns): pass 1e-9. */
function close(actual: number, expected: number, what: string, tolerance = 1e-12): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} != ${expected}`);
}

describe("VirtualClock", () => {
  it("starts equal to the system clock, at 0 ppm, leap unknown", () => {
    const sys = new FakeSystem();
    sys.real = { sec: 1_800_000_000, nsec: 250_000_000 };
    const v = new VirtualClock(sys);
    assert.equal(v.kind, "virtual");
    assert.ok(v.now().equals(NtpTimestamp.fromUnix(1_800_000_000, 250_000_000)));
    assert.equal(v.offsetFromSystem(), 0);
    assert.equal(v.frequency(), 0);
    assert.equal(v.frequencyVsSystem(), 0);
    assert.equal(v.monotonic(), 100);
    assert.equal(v.leap(), 3);
    assert.equal(v.errorEstimates(), null);
  });

  it("a step moves only the virtual clock: positive = forward = system clock behind", () => {
    const sys = new FakeSystem();
    sys.real = { sec: 1_800_000_000, nsec: 250_000_000 };
    const v = new VirtualClock(sys);
    v.step(0.5);
    assert.equal(v.offsetFromSystem(), 0.5);
    assert.ok(v.now().equals(NtpTimestamp.fromUnix(1_800_000_000, 750_000_000)));
    v.step(-2);
    assert.equal(v.offsetFromSystem(), -1.5);
    assert.ok(v.now().equals(NtpTimestamp.fromUnix(1_799_999_998, 750_000_000)));
    // The system clock itself is untouched: the fake's values are as set.
    assert.deepEqual(sys.real, { sec: 1_800_000_000, nsec: 250_000_000 });
  });

  it("a frequency makes the offset grow by ppm·Δmono/1e6, continuously", () => {
    const sys = new FakeSystem();
    const v = new VirtualClock(sys);
    v.step(0.5);
    assert.equal(v.setFrequency(10), 10);
    assert.equal(v.frequency(), 10);
    assert.equal(v.frequencyVsSystem(), 10);
    sys.elapse(100);
    close(v.offsetFromSystem(), 0.5 + 0.001, "after 100 s at +10 ppm");
    // The virtual clock ran 10 ppm faster than the system clock: 100.001 s against 100 s.
    close(v.now().diffSeconds(NtpTimestamp.fromUnix(1_800_000_000, 0)), 100.501, "now", 1e-9);

    // A change of frequency keeps the clock continuous, then drifts at the new rate.
    v.setFrequency(-20);
    close(v.offsetFromSystem(), 0.501, "no jump on a frequency change");
    sys.elapse(50);
    close(v.offsetFromSystem(), 0.501 - 0.001, "after 50 s at −20 ppm");
    v.step(-0.5);
    close(v.offsetFromSystem(), 0, "after a −0.5 s step");
    sys.elapse(1000);
    close(v.offsetFromSystem(), -0.02, "after 1000 s more at −20 ppm");
    assert.equal(v.frequencyVsSystem(), -20);
  });

  it("follows steps of the system clock made by someone else, keeping its offset", () => {
    const sys = new FakeSystem();
    const v = new VirtualClock(sys);
    v.step(0.25);
    sys.real = { sec: 1_800_000_060, nsec: 0 }; // someone stepped the system clock +60 s
    assert.equal(v.offsetFromSystem(), 0.25);
    assert.ok(v.now().equals(NtpTimestamp.fromUnix(1_800_000_060, 250_000_000)));
  });

  it("keeps leap and error estimates, validates, and takeControl touches nothing", () => {
    const sys = new FakeSystem();
    const v = new VirtualClock(sys);
    v.takeControl();
    assert.equal(v.offsetFromSystem(), 0);
    v.setLeap(1);
    assert.equal(v.leap(), 1);
    v.setErrorEstimates(0.001, 0.05);
    assert.deepEqual(v.errorEstimates(), { esterror: 0.001, maxerror: 0.05 });
    assert.throws(() => v.step(NaN), RangeError);
    assert.throws(() => v.setFrequency(Infinity), RangeError);
    assert.throws(() => v.setLeap(7 as 0), RangeError);
    assert.throws(() => v.setErrorEstimates(-1, 1), RangeError);
  });

  it("on the real system clock: agrees with Date.now() and never writes", () => {
    const v = new VirtualClock();
    v.step(-3600);
    const sec = v.now().toUnixSeconds(Date.now() / 1000);
    assert.ok(Math.abs(sec + 3600 - Date.now() / 1000) < 0.05, `${sec}`);
    close(v.offsetFromSystem(), -3600, "offset");
  });
});
