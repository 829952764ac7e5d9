// adjtimeWrite: the timex it builds, checked with dryRun (which calls nothing, not even
// a read). SAFETY: every request here that carries anything but the frequency just read
// has `dryRun: true`, written out literally; the one real write is a write-back of the
// kernel's own frequency (read, write the same value, read again), skipped without
// CAP_SYS_TIME. No test steps or otherwise changes this machine's clock.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { writeBackFrequency } from "../clock/kernel-clock.js";
import { probeClockControl } from "../clock/control-probe.js";
import { loadAddon } from "./addon.js";
import {
  ADJ_ESTERROR,
  ADJ_FREQUENCY,
  ADJ_MAXERROR,
  ADJ_NANO,
  ADJ_SETOFFSET,
  ADJ_STATUS,
  STA_UNSYNC,
} from "./clock.js";
import type { NativeAdjtimeRequest, NativeTimexRequest } from "./types.js";

const { addon, reason } = loadAddon();
const noAddon = addon ? false : `addon not loaded: ${reason}`;

/** The dry-run timex of `request`; dryRun is forced to true here, whatever is passed. */
function dry(request: Omit<NativeAdjtimeRequest, "dryRun">): NativeTimexRequest {
  return addon!.adjtimeWrite({ ...request, dryRun: true });
}

const EMPTY: NativeTimexRequest = {
  modes: 0,
  freq: 0,
  timeSec: 0,
  timeUsec: 0,
  status: 0,
  esterror: 0,
  maxerror: 0,
};

describe("adjtimeWrite dry run: the timex", { skip: noAddon }, () => {
  it("the mode bits are the kernel's", () => {
    assert.equal(ADJ_FREQUENCY, 0x0002);
    assert.equal(ADJ_MAXERROR, 0x0004);
    assert.equal(ADJ_ESTERROR, 0x0008);
    assert.equal(ADJ_STATUS, 0x0010);
    assert.equal(ADJ_SETOFFSET, 0x0100);
    assert.equal(ADJ_NANO, 0x2000);
  });

  it("an empty request is modes 0 and nothing else", () => {
    assert.deepEqual(dry({}), EMPTY);
  });

  it("frequency: ADJ_FREQUENCY, freq = round(ppm * 65536)", () => {
    assert.deepEqual(dry({ frequencyPpm: 12.5 }), { ...EMPTY, modes: 0x2, freq: 819_200 });
    assert.deepEqual(dry({ frequencyPpm: -3.25 }), { ...EMPTY, modes: 0x2, freq: -212_992 });
    assert.deepEqual(dry({ frequencyPpm: 0 }), { ...EMPTY, modes: 0x2, freq: 0 });
    // Rounding half away from zero, as Rust's f64::round in ntpd-rs.
    assert.equal(dry({ frequencyPpm: 0.5 / 65536 }).freq, 1);
    assert.equal(dry({ frequencyPpm: -0.5 / 65536 }).freq, -1);
    assert.equal(dry({ frequencyPpm: 1.4 / 65536 }).freq, 1);
    assert.equal(dry({ frequencyPpm: 100.000_001 }).freq, 6_553_600);
  });

  it("frequency: clamped to ±(32768000 − 1), one unit inside the kernel's 500 ppm", () => {
    assert.equal(dry({ frequencyPpm: 499.99 }).freq, Math.round(499.99 * 65536));
    assert.equal(dry({ frequencyPpm: 500 }).freq, 32_767_999);
    assert.equal(dry({ frequencyPpm: 600 }).freq, 32_767_999);
    assert.equal(dry({ frequencyPpm: -500 }).freq, -32_767_999);
    assert.equal(dry({ frequencyPpm: -1e9 }).freq, -32_767_999);
  });

  it("positive steps: ADJ_SETOFFSET|ADJ_NANO, tv_sec whole seconds, tv_usec nanoseconds", () => {
    const modes = 0x2100;
    assert.deepEqual(dry({ stepSeconds: 1.5 }), {
      ...EMPTY,
      modes,
      timeSec: 1,
      timeUsec: 500_000_000,
    });
    assert.deepEqual(dry({ stepSeconds: 0.25 }), { ...EMPTY, modes, timeUsec: 250_000_000 });
    assert.deepEqual(dry({ stepSeconds: 1e-9 }), { ...EMPTY, modes, timeUsec: 1 });
    assert.deepEqual(dry({ stepSeconds: 3 }), { ...EMPTY, modes, timeSec: 3 });
    assert.deepEqual(dry({ stepSeconds: 86_400.123_456_789 }), {
      ...EMPTY,
      modes,
      timeSec: 86_400,
      timeUsec: 123_456_789,
    });
    // Rounds to the nanosecond and carries into the seconds.
    assert.deepEqual(dry({ stepSeconds: 2.999_999_999_6 }), { ...EMPTY, modes, timeSec: 3 });
  });

  it("negative steps: tv_usec stays in [0, 1e9) (tv_sec = floor)", () => {
    const modes = 0x2100;
    const t = (s: number) => {
      const tx = dry({ stepSeconds: s });
      assert.equal(tx.modes, modes);
      return [tx.timeSec, tx.timeUsec];
    };
    assert.deepEqual(t(-1.25), [-2, 750_000_000]);
    assert.deepEqual(t(-0.25), [-1, 750_000_000]);
    assert.deepEqual(t(-0.5), [-1, 500_000_000]);
    assert.deepEqual(t(-1e-9), [-1, 999_999_999]);
    assert.deepEqual(t(-2), [-2, 0]);
    assert.deepEqual(t(-86_400.000_000_001), [-86_401, 999_999_999]);
    // -0.4 ns rounds to a whole second: {-1, 1e9} carries to {0, 0}.
    assert.deepEqual(t(-4e-10), [0, 0]);
    for (const s of [-1e-9, -0.1, -0.999_999_999, -1, -1.5, -3600.25, -(2 ** 30)]) {
      const [sec, ns] = t(s);
      assert.ok(ns! >= 0 && ns! < 1e9 && Number.isInteger(ns), `${s}: ns ${ns}`);
      assert.ok(Math.abs(sec! + ns! / 1e9 - s) <= 5e-10 + Math.abs(s) * 2 ** -52, `${s}`);
    }
  });

  it("status: (base & ~clear) | set, with base 0 unless baseStatus is given", () => {
    assert.deepEqual(dry({ status: { set: STA_UNSYNC, clear: 0 } }), {
      ...EMPTY,
      modes: 0x10,
      status: 0x40,
    });
    // base STA_NANO|STA_UNSYNC|STA_INS|STA_FLL|STA_PLL; clear PLL|FLL|PPS*|INS|DEL, set UNSYNC
    assert.deepEqual(dry({ status: { set: 0x40, clear: 0x3f }, baseStatus: 0x2059 }), {
      ...EMPTY,
      modes: 0x10,
      status: 0x2040,
    });
    // leap "insert": set STA_INS, clear STA_UNSYNC|STA_DEL
    assert.equal(dry({ status: { set: 0x10, clear: 0x60 }, baseStatus: 0x2041 }).status, 0x2011);
    assert.equal(dry({ status: { set: 0, clear: 0 }, baseStatus: 0x1234 }).status, 0x1234);
  });

  it("error estimates: ADJ_ESTERROR / ADJ_MAXERROR in µs, rounded, clamped to 16 s", () => {
    assert.deepEqual(dry({ esterrorUs: 12.4, maxerrorUs: 250_000 }), {
      ...EMPTY,
      modes: 0x0c,
      esterror: 12,
      maxerror: 250_000,
    });
    assert.deepEqual(dry({ esterrorUs: 12.5 }), { ...EMPTY, modes: 0x08, esterror: 13 });
    assert.deepEqual(dry({ maxerrorUs: 0 }), { ...EMPTY, modes: 0x04 });
    assert.equal(dry({ maxerrorUs: 2e7 }).maxerror, 16_000_000);
    assert.equal(dry({ esterrorUs: 16_000_001 }).esterror, 16_000_000);
  });

  it("everything in one timex", () => {
    assert.deepEqual(
      dry({
        frequencyPpm: -1,
        stepSeconds: -0.75,
        status: { set: 0x20, clear: 0x50 },
        esterrorUs: 5,
        maxerrorUs: 7,
        baseStatus: 0x2050,
      }),
      {
        modes: 0x211e,
        freq: -65_536,
        timeSec: -1,
        timeUsec: 250_000_000,
        status: 0x2020,
        esterror: 5,
        maxerror: 7,
      },
    );
  });

  it("rejects bad requests before calling anything", () => {
    const bad = (request: unknown, code: string, message?: RegExp) =>
      assert.throws(
        () => (addon!.adjtimeWrite as (r: unknown) => unknown)(request),
        message ? { code, message } : { code },
      );
    bad(undefined, "ERR_INVALID_ARG_TYPE");
    bad(42, "ERR_INVALID_ARG_TYPE");
    bad({ frequencyPpm: "1", dryRun: true }, "ERR_INVALID_ARG_TYPE", /frequencyPpm/);
    bad({ frequencyPpm: NaN, dryRun: true }, "ERR_OUT_OF_RANGE", /frequencyPpm/);
    bad({ frequencyPpm: Infinity, dryRun: true }, "ERR_OUT_OF_RANGE");
    bad({ stepSeconds: NaN, dryRun: true }, "ERR_OUT_OF_RANGE", /stepSeconds/);
    bad({ stepSeconds: 2 ** 31, dryRun: true }, "ERR_OUT_OF_RANGE", /stepSeconds/);
    bad({ stepSeconds: -(2 ** 31), dryRun: true }, "ERR_OUT_OF_RANGE", /stepSeconds/);
    bad({ status: 64, dryRun: true }, "ERR_INVALID_ARG_TYPE", /status/);
    bad({ status: { set: 0x40 }, dryRun: true }, "ERR_INVALID_ARG_VALUE", /status\.clear/);
    bad({ status: { set: -1, clear: 0 }, dryRun: true }, "ERR_INVALID_ARG_VALUE");
    bad({ status: { set: 0x10000, clear: 0 }, dryRun: true }, "ERR_INVALID_ARG_VALUE");
    bad({ status: { set: 0.5, clear: 0 }, dryRun: true }, "ERR_INVALID_ARG_VALUE");
    bad({ status: { set: 0x50, clear: 0x40 }, dryRun: true }, "ERR_INVALID_ARG_VALUE", /share/);
    bad({ esterrorUs: -1, dryRun: true }, "ERR_OUT_OF_RANGE");
    bad({ maxerrorUs: -0.1, dryRun: true }, "ERR_OUT_OF_RANGE");
    bad({ baseStatus: -1, dryRun: true }, "ERR_INVALID_ARG_VALUE", /baseStatus/);
    // These two would be harmless reads (modes 0) if they got through.
    bad({ dryRun: 1 }, "ERR_INVALID_ARG_TYPE", /dryRun must be a boolean/);
    bad({ baseStatus: 0 }, "ERR_INVALID_ARG_VALUE", /only accepted with dryRun/);
  });
});

// The only real write in the test suite: the kernel's own frequency, written back.
const probe = probeClockControl();
function writeBackSkip(): string | false {
  if (!addon) return `addon not loaded: ${reason}`;
  if (!probe.permitted) return `no permission to write (${probe.reason})`;
  // Someone else steering the clock (chronyd, timesyncd) clears STA_UNSYNC; a write-back
  // could then undo a change it makes between our read and write. Leave it alone.
  if ((addon.adjtimeRead().status & STA_UNSYNC) === 0) {
    return "another daemon appears to discipline this clock (STA_UNSYNC clear)";
  }
  return false;
}

describe("adjtimeWrite against the kernel", () => {
  it(
    "a write-back of the current frequency is accepted and changes nothing",
    { skip: writeBackSkip() },
    () => {
      const before = addon!.adjtimeRead();
      const result = writeBackFrequency(addon!);
      const after = addon!.adjtimeRead();
      assert.equal(result.before, before.freq);
      assert.equal(result.after, before.freq);
      assert.equal(after.freq, before.freq);
      assert.equal(after.status, before.status);
      assert.equal(after.tick, before.tick);
      assert.equal(after.constant, before.constant);
    },
  );
});
