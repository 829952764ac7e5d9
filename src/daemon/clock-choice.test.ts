// Which clock the daemon steers (clock-choice.ts), with a FAKE clock device: the
// device's DeviceClock when one is configured (the test runner's
// NTPD_TS_FORBID_CLOCK_CONTROL=1 does not stop that: it guards CLOCK_REALTIME only), a
// VirtualClock on the device with --no-clock-control, and the interlock still refusing
// CLOCK_REALTIME when there is no device. Nothing here steers anything: the discipline
// is built and stopped, never fed a measurement.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseConfig } from "../proto/config/index.js";
import { initialSystemState, SystemStateCell } from "../proto/system/system-state.js";
import type { ClockReader, Timespec } from "./native/clock.js";
import { chooseClock, ClockControlError } from "./clock-choice.js";
import type { ClockDevice } from "./clock/clock-device.js";
import { DeviceClock } from "./clock/device-clock.js";
import { VirtualClock } from "./clock/virtual-clock.js";
import { createLogger, MemorySink } from "./log.js";

const config = (() => {
  const r = parseConfig(
    '[[source]]\nmode = "server"\naddress = "127.0.0.1:1"\n\n[clock]\nclock = "/dev/ptp-fake"\ntimestamp-mode = "kernel-all"\n',
    "ntp.toml",
  );
  assert.ok(r.ok);
  return r.config;
})();

/** A device whose clock reads 1000.5 s, and that records what is asked of it. */
function fakeDevice(): { device: ClockDevice; reads: string[]; writes: { clockId?: number }[] } {
  const reads: string[] = [];
  const writes: { clockId?: number }[] = [];
  const fill =
    (what: string, sec: number) =>
    (out: Timespec = { sec: 0, nsec: 0 }) => {
      reads.push(what);
      out.sec = sec;
      out.nsec = 500_000_000;
      return out;
    };
  const reader: ClockReader = {
    kind: "addon",
    readRealtime: fill("device", 1000),
    readMonotonic: fill("monotonic", 7),
    readTai: () => null,
    adjtimeRead: () => null,
  };
  const device = {
    path: "/dev/ptp-fake",
    clockId: -61,
    reader: () => reader,
    read: fill("device", 1000),
    adjtime: {
      adjtimeRead: (clockId: number) => {
        reads.push(`adjtime ${clockId}`);
        return { freq: 0 };
      },
      adjtimeWrite: (request: { clockId?: number }) => {
        writes.push(request);
        return { freq: 0 };
      },
    },
  } as unknown as ClockDevice;
  return { device, reads, writes };
}

function choose(clockControl: boolean, device: ClockDevice | null) {
  const sink = new MemorySink();
  const system = new SystemStateCell(initialSystemState({ localStratum: 16, referenceId: "XNON" }));
  const choice = chooseClock(
    config,
    clockControl,
    system,
    createLogger("info", sink),
    () => {},
    device,
  );
  choice.discipline?.stop();
  return { choice, lines: sink.lines };
}

describe("chooseClock with [clock] clock", () => {
  it("steers the device, not CLOCK_REALTIME, though the interlock is set", () => {
    assert.equal(process.env.NTPD_TS_FORBID_CLOCK_CONTROL, "1", "run through npm test");
    const { device, reads, writes } = fakeDevice();
    const { choice, lines } = choose(true, device);
    assert.ok(
      writes.every((w) => w.clockId === -61),
      "any write is the device's",
    );
    assert.ok(choice.clock instanceof DeviceClock);
    assert.equal(choice.clock.path, "/dev/ptp-fake");
    assert.equal(choice.clock.now().toUnixNanos(0) % 1_000_000_000n, 500_000_000n);
    assert.ok(reads.includes("device"));
    assert.match(lines.join(""), /steering clock device instead of the system clock/);
  });

  it("--no-clock-control: a VirtualClock on the device, which is never changed", () => {
    const { device, reads } = fakeDevice();
    const { choice, lines } = choose(false, device);
    assert.ok(choice.clock instanceof VirtualClock);
    reads.length = 0;
    choice.clock.now();
    assert.deepEqual(reads.sort(), ["device", "monotonic"]);
    assert.match(lines.join(""), /clock device \/dev\/ptp-fake is never changed/);
  });

  it("without a device the interlock still refuses CLOCK_REALTIME", () => {
    assert.throws(
      () => choose(true, null),
      (e: Error) => {
        return e instanceof ClockControlError && /NTPD_TS_FORBID_CLOCK_CONTROL=1/.test(e.message);
      },
    );
  });
});
