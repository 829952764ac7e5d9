// Clock devices (`[clock] clock`). There is no PTP hardware clock on this machine (and no
// ptp_mock or netdevsim to make one), so the routing is tested against a FAKE device
// (FakeCalls below: a device clock and CLOCK_REALTIME as plain numbers) and the real
// addon is exercised on its error paths: a missing path, a file that is no character
// device, a character device that is no clock, an id that is no open device or no
// device's at all.
import assert from "node:assert/strict";
import { writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadAddon } from "../native/addon.js";
import { clockDeviceAddon } from "../native/clock-device.js";
import type { NativeAdjtimeRequest, NativeTimex } from "../native/types.js";
import {
  addTimespec,
  ClockDevice,
  ClockDeviceError,
  type ClockDeviceCalls,
} from "./clock-device.js";
import { DeviceClock } from "./device-clock.js";

const { addon: realAddon, reason } = loadAddon();
const noAddon = realAddon ? false : `addon not loaded: ${reason}`;

const CLOCK_REALTIME = 0;
const CLOCK_MONOTONIC = 1;
/** FD_TO_CLOCKID(7). */
const DEVICE_ID = (~7 << 3) | 3;

const TIMEX: NativeTimex = {
  state: 0,
  offset: 0,
  freq: 0,
  maxerror: 0,
  esterror: 0,
  status: 0,
  constant: 0,
  precision: 0,
  tolerance: 0,
  tick: 0,
  tai: 0,
};

/** An addon whose clocks are numbers (ns): realtime, monotonic and one device. */
class FakeCalls {
  readonly CLOCK_REALTIME = CLOCK_REALTIME;
  readonly CLOCK_MONOTONIC = CLOCK_MONOTONIC;
  readonly clockBuffer = new Float64Array(2);
  // Below 2^53, so every nanosecond is exact in a double.
  realtimeNs = 1_000_000_000_000_000;
  monotonicNs = 5_000_000_000;
  /** The device runs this far ahead of realtime (ns). */
  deviceAheadNs = 37_000_000_250;
  /** Each read advances time by this (ns): reads take time. */
  readCostNs = 100;
  reads: number[] = [];
  writes: NativeAdjtimeRequest[] = [];
  adjtimeReads: (number | undefined)[] = [];
  closed: number[] = [];
  freq = 0;

  clockGettime(id: number): void {
    this.reads.push(id);
    this.realtimeNs += this.readCostNs;
    this.monotonicNs += this.readCostNs;
    const ns =
      id === CLOCK_REALTIME
        ? this.realtimeNs
        : id === CLOCK_MONOTONIC
          ? this.monotonicNs
          : id === DEVICE_ID
            ? this.realtimeNs + this.deviceAheadNs
            : NaN;
    if (Number.isNaN(ns)) throw new Error(`read of unexpected clock ${id}`);
    this.clockBuffer[0] = Math.floor(ns / 1e9);
    this.clockBuffer[1] = ns - Math.floor(ns / 1e9) * 1e9;
  }
  adjtimeRead(clockId?: number): NativeTimex {
    this.adjtimeReads.push(clockId);
    return { ...TIMEX, freq: this.freq };
  }
  adjtimeWrite(request: NativeAdjtimeRequest): NativeTimex {
    this.writes.push(request);
    if (request.frequencyPpm !== undefined) this.freq = Math.round(request.frequencyPpm * 65536);
    if (request.stepSeconds !== undefined) this.deviceAheadNs += request.stepSeconds * 1e9;
    return { ...TIMEX, freq: this.freq };
  }
  clockDeviceOpen(path: string, writable: boolean) {
    if (path !== "/dev/ptp-fake") {
      throw Object.assign(new Error("open ENOENT"), { code: "ENOENT" });
    }
    this.openedWritable = writable;
    return { fd: 7, clockId: DEVICE_ID };
  }
  openedWritable: boolean | null = null;
  clockDeviceClose(fd: number): void {
    this.closed.push(fd);
  }
}

function fakeDevice(writable = true): { fake: FakeCalls; device: ClockDevice } {
  const fake = new FakeCalls();
  const device = ClockDevice.open("/dev/ptp-fake", writable, fake as unknown as ClockDeviceCalls);
  return { fake, device };
}

describe("ClockDevice (fake device)", () => {
  it("reads the device through its id; the reader's monotonic stays CLOCK_MONOTONIC", () => {
    const { fake, device } = fakeDevice();
    assert.equal(fake.openedWritable, true);
    const t = device.read();
    assert.deepEqual(fake.reads, [DEVICE_ID]);
    assert.equal(t.sec * 1e9 + t.nsec, fake.realtimeNs + fake.deviceAheadNs);
    const reader = device.reader();
    reader.readRealtime();
    reader.readMonotonic();
    assert.deepEqual(fake.reads, [DEVICE_ID, DEVICE_ID, CLOCK_MONOTONIC]);
    reader.adjtimeRead();
    assert.deepEqual(fake.adjtimeReads, [DEVICE_ID]);
  });

  it("offsetFromRealtime: the device against the midpoint of two realtime reads", () => {
    const { fake, device } = fakeDevice();
    const off = device.offsetFromRealtime();
    // Each read costs 100 ns, so the device read is exactly mid-way between the two.
    assert.equal(off.sec * 1e9 + off.nsec, fake.deviceAheadNs);
    assert.ok(off.nsec >= 0 && off.nsec < 1e9);
    fake.deviceAheadNs = -1_500_000_001; // behind: the nanoseconds stay in [0, 1e9)
    const behind = device.offsetFromRealtime();
    assert.deepEqual(behind, { sec: -2, nsec: 499_999_999 });
  });

  it("close is idempotent; open failures say which path and why", () => {
    const { fake, device } = fakeDevice(false);
    assert.equal(fake.openedWritable, false);
    device.close();
    device.close();
    assert.deepEqual(fake.closed, [7]);
    assert.throws(
      () => ClockDevice.open("/dev/ptp9", true, new FakeCalls() as unknown as ClockDeviceCalls),
      (e: Error) =>
        e instanceof ClockDeviceError && /clock device \/dev\/ptp9: no such file/.test(e.message),
    );
  });

  it("addTimespec keeps nanoseconds in [0, 1e9)", () => {
    assert.deepEqual(addTimespec({ sec: 10, nsec: 900_000_000 }, { sec: 0, nsec: 200_000_000 }), {
      sec: 11,
      nsec: 100_000_000,
    });
    assert.deepEqual(addTimespec({ sec: 10, nsec: 100 }, { sec: -1, nsec: 999_999_900 }), {
      sec: 10,
      nsec: 0,
    });
  });
});

describe("DeviceClock: every read and write goes to the device, none to CLOCK_REALTIME", () => {
  it("now, frequency, setFrequency and step use the device id", () => {
    const { fake, device } = fakeDevice();
    const clock = new DeviceClock(device);
    assert.equal(clock.kind, "device");
    const before = clock.now();
    assert.equal(clock.setFrequency(12.5), 12.5);
    assert.equal(clock.frequency(), 12.5);
    clock.step(-0.25);
    clock.step(0); // no call
    const after = clock.now();
    clock.monotonic();
    assert.deepEqual(fake.writes, [
      { clockId: DEVICE_ID, frequencyPpm: 12.5 },
      { clockId: DEVICE_ID, stepSeconds: -0.25 },
    ]);
    assert.ok(fake.writes.every((w) => w.clockId === DEVICE_ID));
    assert.deepEqual(fake.adjtimeReads, [DEVICE_ID]);
    assert.deepEqual(fake.reads, [DEVICE_ID, DEVICE_ID, CLOCK_MONOTONIC]);
    // The step moved the device by -0.25 s (plus the 100 ns the second read costs).
    assert.ok(Math.abs(after.diffSeconds(before) - (-0.25 + 100e-9)) < 1e-9);
  });

  it("leap, error estimates and takeControl call nothing (a PHC has none of them)", () => {
    const { fake, device } = fakeDevice();
    const clock = new DeviceClock(device);
    clock.takeControl();
    clock.setLeap(1);
    clock.setErrorEstimates(0.001, 0.01);
    assert.deepEqual(fake.writes, []);
    assert.throws(() => clock.setErrorEstimates(-1, 0), RangeError);
    assert.throws(() => clock.step(Number.NaN), RangeError);
  });
});

describe("the addon on this machine (no clock device exists here)", { skip: noAddon }, () => {
  const found = clockDeviceAddon();
  const calls = "addon" in found ? found.addon : null;

  it("refuses a missing path, a regular file and a character device that is no clock", () => {
    const dir = mkdtempSync(join(tmpdir(), "ntpd-ts-clock-"));
    try {
      const file = join(dir, "not-a-device");
      writeFileSync(file, "x");
      const cases: [string, RegExp][] = [
        [join(dir, "missing"), /no such file/],
        [file, /not a clock device/],
        ["/dev/null", /not a clock device/],
      ];
      for (const [path, message] of cases) {
        for (const writable of [false, true]) {
          assert.throws(
            () => ClockDevice.open(path, writable),
            (e: Error) => e instanceof ClockDeviceError && message.test(e.message),
            path,
          );
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a dynamic id of no open device reads and steers nothing (EINVAL)", () => {
    // fd 900 is not open: FD_TO_CLOCKID(900) names no clock.
    const id = (~900 << 3) | 3;
    assert.throws(() => calls!.clockGettime(id), { code: "EINVAL" });
    assert.throws(() => calls!.adjtimeRead(id), { code: "EINVAL" });
    assert.throws(() => calls!.adjtimeWrite({ clockId: id, frequencyPpm: 0 }), {
      code: "EINVAL",
    });
  });

  it("adjtime refuses a clock id that is neither CLOCK_REALTIME nor a device's", () => {
    for (const clockId of [calls!.CLOCK_MONOTONIC, calls!.CLOCK_TAI, 5, -8]) {
      assert.throws(() => calls!.adjtimeWrite({ clockId, frequencyPpm: 0 }), {
        code: "ERR_INVALID_ARG_VALUE",
      });
      assert.throws(() => calls!.adjtimeRead(clockId), { code: "ERR_INVALID_ARG_VALUE" });
    }
  });
});
