// KernelClock. SAFETY: the steering tests run against a FAKE addon whose adjtimeWrite
// records the request and, when the real addon is loaded, passes it to the real
// adjtimeWrite with `dryRun: true` (never anything else) to get the exact timex. The
// real clock is only read here, except for canControl({ writeBack: true }), which writes
// back the frequency just read, and only when CAP_SYS_TIME is held.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { NtpTimestamp } from "../../proto/time.js";
import { loadAddon } from "../native/addon.js";
import { STA_UNSYNC, type ClockReader, type Timespec } from "../native/clock.js";
import type {
  NativeAddon,
  NativeAdjtimeRequest,
  NativeTimex,
  NativeTimexRequest,
} from "../native/types.js";
import { probeClockControl, type ControlProbe } from "./control-probe.js";
import {
  KernelClock,
  LEAP_STATUS,
  TAKE_CONTROL_STATUS,
  leapStatusChange,
  writeBackFrequency,
} from "./kernel-clock.js";

const { addon: realAddon, reason } = loadAddon();
const noAddon = realAddon ? false : `addon not loaded: ${reason}`;

const KERNEL_READING: NativeTimex = {
  state: 5,
  offset: 0,
  freq: 0,
  maxerror: 16_000_000,
  esterror: 16_000_000,
  status: 0x2041, // STA_NANO | STA_UNSYNC | STA_PLL
  constant: 2,
  precision: 1,
  tolerance: 32_768_000,
  tick: 10_000,
  tai: 0,
};

/**
 * An addon whose kernel is a plain object. adjtimeWrite records each request and
 * applies it to that object: through the real addon's DRY RUN when it is loaded (so the
 * timex is the one the real call would pass), else with a JS model of it.
 */
class FakeAddon {
  kernel: NativeTimex = { ...KERNEL_READING };
  writes: NativeAdjtimeRequest[] = [];
  timexes: NativeTimexRequest[] = [];
  dryRuns = 0;
  failWith: Error | null = null;

  adjtimeRead(): NativeTimex {
    return { ...this.kernel };
  }

  adjtimeWrite(request: NativeAdjtimeRequest): NativeTimex | NativeTimexRequest {
    const tx = this.build(request);
    if (request.dryRun === true) {
      this.dryRuns++;
      return tx;
    }
    this.writes.push({ ...request });
    if (this.failWith) throw this.failWith;
    this.timexes.push(tx);
    if (tx.modes & 0x2) this.kernel.freq = tx.freq;
    if (tx.modes & 0x10) this.kernel.status = tx.status;
    if (tx.modes & 0x8) this.kernel.esterror = tx.esterror;
    if (tx.modes & 0x4) this.kernel.maxerror = tx.maxerror;
    return { ...this.kernel };
  }

  private build(request: NativeAdjtimeRequest): NativeTimexRequest {
    const baseStatus = this.kernel.status;
    const { dryRun: _dryRun, baseStatus: _base, ...fields } = request;
    if (realAddon) return realAddon.adjtimeWrite({ ...fields, baseStatus, dryRun: true });
    const tx: NativeTimexRequest = {
      modes: 0,
      freq: 0,
      timeSec: 0,
      timeUsec: 0,
      status: 0,
      esterror: 0,
      maxerror: 0,
    };
    if (fields.frequencyPpm !== undefined) {
      tx.modes |= 0x2;
      const f = Math.round(fields.frequencyPpm * 65536);
      tx.freq = Math.max(-32_767_999, Math.min(32_767_999, f));
    }
    if (fields.stepSeconds !== undefined) {
      tx.modes |= 0x2100;
      tx.timeSec = Math.floor(fields.stepSeconds);
      tx.timeUsec = Math.round((fields.stepSeconds - tx.timeSec) * 1e9);
    }
    if (fields.status !== undefined) {
      tx.modes |= 0x10;
      tx.status = (baseStatus & ~fields.status.clear) | fields.status.set;
    }
    if (fields.esterrorUs !== undefined) {
      tx.modes |= 0x8;
      tx.esterror = Math.min(Math.round(fields.esterrorUs), 16_000_000);
    }
    if (fields.maxerrorUs !== undefined) {
      tx.modes |= 0x4;
      tx.maxerror = Math.min(Math.round(fields.maxerrorUs), 16_000_000);
    }
    return tx;
  }
}

function fakeReader(real: Timespec, mono: Timespec): ClockReader {
  const fill = (src: Timespec, out?: Timespec) => {
    const t = out ?? { sec: 0, nsec: 0 };
    t.sec = src.sec;
    t.nsec = src.nsec;
    return t;
  };
  return {
    kind: "fallback",
    readRealtime: (out) => fill(real, out),
    readMonotonic: (out) => fill(mono, out),
    readTai: () => null,
    adjtimeRead: () => null,
  };
}

const PERMITTED: ControlProbe = { permitted: true, reason: "test: permitted" };
const REFUSED: ControlProbe = { permitted: false, reason: "test: no CAP_SYS_TIME" };

function fakeClock(probe: ControlProbe = PERMITTED) {
  const fake = new FakeAddon();
  const reader = fakeReader({ sec: 1_800_000_000, nsec: 250_000_000 }, { sec: 1234, nsec: 5e8 });
  const clock = new KernelClock(fake as unknown as NativeAddon, reader, () => probe);
  return { fake, clock };
}

describe("KernelClock (fake addon; real timex through the dry run when built)", () => {
  it("reads time and monotonic seconds from its reader", () => {
    const { clock } = fakeClock();
    assert.equal(clock.kind, "kernel");
    assert.ok(clock.now().equals(NtpTimestamp.fromUnix(1_800_000_000, 250_000_000)));
    assert.equal(clock.monotonic(), 1234.5);
  });

  it("frequency() is the kernel's freq in ppm; setFrequency writes ADJ_FREQUENCY", () => {
    const { fake, clock } = fakeClock();
    fake.kernel.freq = -819_200;
    assert.equal(clock.frequency(), -12.5);
    assert.equal(clock.setFrequency(3.25), 3.25);
    assert.deepEqual(fake.writes, [{ frequencyPpm: 3.25 }]);
    assert.equal(fake.timexes[0]!.modes, 0x2);
    assert.equal(fake.timexes[0]!.freq, 212_992);
    assert.equal(clock.frequency(), 3.25);
    // Quantized to 2^-16 ppm and clamped: the value in effect is returned.
    assert.equal(clock.setFrequency(1e-6), 0);
    assert.equal(clock.setFrequency(700), 32_767_999 / 65536);
    assert.equal(clock.setFrequency(-700), -32_767_999 / 65536);
    assert.throws(() => clock.setFrequency(NaN), RangeError);
    assert.equal(fake.writes.length, 4);
  });

  it("step: ADJ_SETOFFSET|ADJ_NANO with the normalized time; a zero step makes no call", () => {
    const { fake, clock } = fakeClock();
    clock.step(0);
    assert.equal(fake.writes.length, 0);
    clock.step(-0.25);
    clock.step(2.5);
    assert.deepEqual(fake.writes, [{ stepSeconds: -0.25 }, { stepSeconds: 2.5 }]);
    assert.deepEqual(
      fake.timexes.map((t) => [t.modes, t.timeSec, t.timeUsec]),
      [
        [0x2100, -1, 750_000_000],
        [0x2100, 2, 500_000_000],
      ],
    );
    assert.throws(() => clock.step(Infinity), RangeError);
  });

  it("setLeap replaces STA_UNSYNC|STA_INS|STA_DEL and keeps every other bit", () => {
    assert.deepEqual(LEAP_STATUS, { 0: 0, 1: 0x10, 2: 0x20, 3: 0x40 });
    assert.deepEqual(leapStatusChange(0), { set: 0, clear: 0x70 });
    assert.deepEqual(leapStatusChange(1), { set: 0x10, clear: 0x60 });
    assert.deepEqual(leapStatusChange(2), { set: 0x20, clear: 0x50 });
    assert.deepEqual(leapStatusChange(3), { set: 0x40, clear: 0x30 });
    const { fake, clock } = fakeClock();
    fake.kernel.status = 0x2041; // NANO | UNSYNC | PLL
    clock.setLeap(0);
    assert.equal(fake.kernel.status, 0x2001);
    clock.setLeap(1);
    assert.equal(fake.kernel.status, 0x2011);
    clock.setLeap(2);
    assert.equal(fake.kernel.status, 0x2021);
    clock.setLeap(3);
    assert.equal(fake.kernel.status, 0x2041);
    assert.ok(fake.timexes.every((t) => t.modes === 0x10));
    assert.throws(() => clock.setLeap(4 as 0), RangeError);
  });

  it("setErrorEstimates writes µs", () => {
    const { fake, clock } = fakeClock();
    clock.setErrorEstimates(0.0125, 0.25);
    assert.equal(fake.timexes[0]!.modes, 0x0c);
    assert.equal(fake.kernel.esterror, 12_500);
    assert.equal(fake.kernel.maxerror, 250_000);
    clock.setErrorEstimates(0, 30);
    assert.equal(fake.kernel.esterror, 0);
    assert.equal(fake.kernel.maxerror, 16_000_000);
    assert.throws(() => clock.setErrorEstimates(-1, 0), RangeError);
    assert.throws(() => clock.setErrorEstimates(0, NaN), RangeError);
  });

  it("takeControl keeps the frequency, clears PLL/FLL/PPS and leap bits, sets UNSYNC", () => {
    assert.deepEqual(TAKE_CONTROL_STATUS, { set: 0x40, clear: 0x3f });
    const { fake, clock } = fakeClock();
    fake.kernel.freq = 1_000_000;
    fake.kernel.status = 0x201f; // NANO | INS | FLL | PPSTIME | PPSFREQ | PLL
    clock.takeControl();
    assert.deepEqual(fake.writes, [{ status: { set: 0x40, clear: 0x3f } }]);
    assert.equal(fake.timexes[0]!.modes, 0x10); // status only: no ADJ_FREQUENCY
    assert.equal(fake.kernel.status, 0x2040);
    assert.equal(fake.kernel.freq, 1_000_000);
  });

  it("write errors pass through (EPERM names CAP_SYS_TIME)", () => {
    const { fake, clock } = fakeClock();
    const eperm = Object.assign(new Error("clock_adjtime EPERM: ... needs CAP_SYS_TIME"), {
      code: "EPERM",
    });
    fake.failWith = eperm;
    assert.throws(() => clock.setFrequency(1), eperm);
  });

  it("canControl: the /proc probe alone by default; writeBack writes the read value back", () => {
    const refused = fakeClock(REFUSED);
    assert.deepEqual(refused.clock.canControl(), REFUSED);
    assert.deepEqual(refused.clock.canControl({ writeBack: true }), REFUSED);
    assert.equal(refused.fake.writes.length, 0);

    const { fake, clock } = fakeClock();
    fake.kernel.freq = -1_234_567;
    assert.deepEqual(clock.canControl(), PERMITTED);
    assert.equal(fake.writes.length, 0);
    const confirmed = clock.canControl({ writeBack: true });
    assert.equal(confirmed.permitted, true);
    assert.match(confirmed.reason, /accepted a write-back/);
    assert.deepEqual(fake.writes, [{ frequencyPpm: -1_234_567 / 65536 }]);
    assert.equal(fake.timexes[0]!.freq, -1_234_567);
    assert.equal(fake.kernel.freq, -1_234_567);

    fake.failWith = Object.assign(new Error("clock_adjtime EPERM ... CAP_SYS_TIME"), {
      code: "EPERM",
    });
    const denied = clock.canControl({ writeBack: true });
    assert.equal(denied.permitted, false);
    assert.match(denied.reason, /refused .*CAP_SYS_TIME/);
  });

  it("writeBackFrequency refuses, without writing, a freq it could not write unchanged", () => {
    const fake = new FakeAddon();
    fake.kernel.freq = 32_768_000; // the kernel's own limit: the addon would clamp it
    assert.throws(() => writeBackFrequency(fake as unknown as NativeAddon), RangeError);
    fake.kernel.freq = -32_768_000;
    assert.throws(() => writeBackFrequency(fake as unknown as NativeAddon), RangeError);
    assert.equal(fake.writes.length, 0);
    fake.kernel.freq = 32_767_999;
    assert.deepEqual(writeBackFrequency(fake as unknown as NativeAddon), {
      before: 32_767_999,
      after: 32_767_999,
    });
    assert.equal(fake.dryRuns, 1);
  });
});

describe("KernelClock on the real addon (reads only)", { skip: noAddon }, () => {
  it("reads the system clock and the kernel frequency", () => {
    const clock = new KernelClock(realAddon!);
    const now = clock.now().toUnixSeconds(Date.now() / 1000) * 1000;
    assert.ok(Math.abs(now - Date.now()) < 50, `${now} vs ${Date.now()}`);
    const m0 = clock.monotonic();
    assert.ok(clock.monotonic() >= m0);
    assert.equal(clock.frequency(), realAddon!.adjtimeRead().freq / 65536);
  });

  it("canControl() is the /proc probe and agrees with CapEff bit 25", () => {
    const clock = new KernelClock(realAddon!);
    const probe = clock.canControl();
    assert.deepEqual(probe, probeClockControl());
    const capEff = /^CapEff:\s*([0-9a-f]+)/m.exec(readFileSync("/proc/self/status", "utf8"));
    const hasCap = capEff !== null && (BigInt(`0x${capEff[1]}`) & (1n << 25n)) !== 0n;
    const initialNs = /^\s*0\s+0\s+4294967295\s*$/.test(readFileSync("/proc/self/uid_map", "utf8"));
    assert.equal(probe.permitted, hasCap && initialNs, probe.reason);
  });

  it(
    "canControl({ writeBack: true }) confirms with the kernel and changes nothing",
    {
      skip: !probeClockControl().permitted
        ? "no CAP_SYS_TIME here"
        : realAddon && (realAddon.adjtimeRead().status & STA_UNSYNC) === 0
          ? "another daemon appears to discipline this clock (STA_UNSYNC clear)"
          : false,
    },
    () => {
      const before = realAddon!.adjtimeRead();
      const probe = new KernelClock(realAddon!).canControl({ writeBack: true });
      const after = realAddon!.adjtimeRead();
      assert.equal(probe.permitted, true, probe.reason);
      assert.equal(after.freq, before.freq);
      assert.equal(after.status, before.status);
    },
  );
});

// Without CAP_SYS_TIME a write must fail with EPERM and say what is missing. When this
// process has the capability, a child runs without it (setpriv drops it from the bounding
// and inheritable sets). The child only ever attempts a write-back of the frequency it
// just read, so even a child that kept the capability would change nothing.
const here = (file: string) => JSON.stringify(new URL(file, import.meta.url).href);
const CHILD = `
  import { getAddon } from ${here("../native/addon.js")};
  import { probeClockControl } from ${here("./control-probe.js")};
  import { KernelClock, writeBackFrequency } from ${here("./kernel-clock.js")};
  const addon = getAddon();
  if (addon === null) throw new Error("the addon is not loaded");
  const probe = probeClockControl();
  const writeBack = new KernelClock(addon).canControl({ writeBack: true });
  const freqBefore = addon.adjtimeRead().freq;
  let error = null;
  try {
    writeBackFrequency(addon); // the frequency just read, written back: changes nothing
  } catch (e) {
    error = { code: e.code, message: e.message, syscall: e.syscall };
  }
  const freqAfter = addon.adjtimeRead().freq;
  process.stdout.write(JSON.stringify({ probe, writeBack, error, freqBefore, freqAfter }));
`;
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

describe("without CAP_SYS_TIME", { skip: noAddon }, () => {
  it(
    "a write fails with EPERM naming CAP_SYS_TIME, and canControl says no",
    {
      skip:
        probeClockControl().permitted && SETPRIV === undefined
          ? "has CAP_SYS_TIME and no setpriv to drop it"
          : false,
    },
    () => {
      const command = probeClockControl().permitted
        ? [SETPRIV!, "--inh-caps=-sys_time", "--bounding-set=-sys_time", "--", process.execPath]
        : [process.execPath];
      const r = spawnSync(
        command[0]!,
        [...command.slice(1), "--import", "tsx", "--input-type=module", "-e", CHILD],
        {
          encoding: "utf8",
          timeout: 30_000,
        },
      );
      assert.equal(r.status, 0, `child failed: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as {
        probe: ControlProbe;
        writeBack: ControlProbe;
        error: { code: string; message: string; syscall: string } | null;
        freqBefore: number;
        freqAfter: number;
      };
      assert.equal(out.probe.permitted, false, out.probe.reason);
      assert.match(out.probe.reason, /CAP_SYS_TIME/);
      assert.equal(out.writeBack.permitted, false);
      assert.ok(out.error !== null, "the write was accepted");
      assert.equal(out.error.code, "EPERM");
      assert.equal(out.error.syscall, "clock_adjtime");
      assert.match(out.error.message, /needs CAP_SYS_TIME/);
      assert.equal(out.freqAfter, out.freqBefore);
    },
  );
});
