// Which clock the discipline steers, decided once at start-up:
//   - no sources and no control socket to add them through: nothing to steer,
//     no discipline;
//   - --no-clock-control: a VirtualClock on top of the system clock, which is
//     never touched;
//   - `[clock] clock` names a device (clock/clock-setup.ts opened it): that
//     device (DeviceClock), or with --no-clock-control a VirtualClock on top of
//     it. The system clock is then neither steered nor claimed: the servers keep
//     serving CLOCK_REALTIME without claiming the synchronization of the device;
//   - otherwise the kernel's clock, which needs the native addon and
//     CAP_SYS_TIME; without them the daemon refuses to start (exit 70, as
//     ntpd-rs does when it cannot control the clock). NTPD_TS_FORBID_CLOCK_CONTROL=1
//     refuses it too: the test runner sets it, so no test can steer the clock.
//     The interlock is about CLOCK_REALTIME only: a device is not the system
//     clock, and no path can name it (the addon opens only clock character
//     devices, whose dynamic ids the kernel routes to the device, and adjtime
//     takes CLOCK_REALTIME or such an id, nothing else).

import type { Config } from "../proto/config/types.js";
import { KernelClock } from "./clock/kernel-clock.js";
import type { SystemClock } from "../proto/clock/system-clock.js";
import { VirtualClock } from "./clock/virtual-clock.js";
import type { ClockDevice } from "./clock/clock-device.js";
import { DeviceClock } from "./clock/device-clock.js";
import { ClockDiscipline } from "./discipline.js";
import type { SystemStateCell } from "../proto/system/system-state.js";
import type { Logger } from "./log.js";

export class ClockControlError extends Error {}

/** Set to 1, the daemon refuses to steer the kernel clock (tests set it). */
export const FORBID_CLOCK_CONTROL_ENV = "NTPD_TS_FORBID_CLOCK_CONTROL";

export interface ClockChoice {
  discipline: ClockDiscipline | null;
  clock: SystemClock | null;
}

export function chooseClock(
  config: Config,
  clockControl: boolean,
  system: SystemStateCell,
  log: Logger,
  onPanic: (reason: string) => void,
  device: ClockDevice | null = null,
): ClockChoice {
  if (config.sources.length === 0 && config.observability.controlPath === null) {
    return { discipline: null, clock: null };
  }
  const disciplineLog = log.child("clock");
  if (!clockControl) {
    const virtual = new VirtualClock(device?.reader());
    const steered = device === null ? "the system clock" : `clock device ${device.path}`;
    log.info(
      `clock control disabled: ${steered} is never changed; the discipline steers a ` +
        `virtual clock and reports the error of ${steered}`,
    );
    // The served time stays the system clock's, so the server does not claim
    // the synchronization it is not applying (system state stays as configured).
    const discipline = new ClockDiscipline({
      config,
      clock: virtual,
      virtual,
      system: null,
      log: disciplineLog,
      onPanic,
    });
    return { discipline, clock: virtual };
  }
  if (device !== null) {
    const clock = new DeviceClock(device);
    log.info("steering clock device instead of the system clock", { clock: device.path });
    const discipline = new ClockDiscipline({
      config,
      clock,
      virtual: null,
      system: null,
      log: disciplineLog,
      onPanic,
    });
    return { discipline, clock };
  }
  // A safety interlock for test machines: the test runner sets it so that no
  // test can ever steer the real clock, whatever its configuration says.
  if (process.env[FORBID_CLOCK_CONTROL_ENV] === "1") {
    throw new ClockControlError(
      `cannot control the system clock: ${FORBID_CLOCK_CONTROL_ENV}=1 forbids it; ` +
        "run with --no-clock-control",
    );
  }
  let kernel: KernelClock;
  try {
    kernel = KernelClock.open();
  } catch (error) {
    throw new ClockControlError(
      `cannot control the system clock: ${(error as Error).message}; ` +
        "run with --no-clock-control to measure without steering",
    );
  }
  const probe = kernel.canControl();
  if (!probe.permitted) {
    throw new ClockControlError(`cannot control the system clock: ${probe.reason}`);
  }
  const discipline = new ClockDiscipline({
    config,
    clock: kernel,
    virtual: null,
    system,
    log: disciplineLog,
    onPanic,
  });
  return { discipline, clock: kernel };
}
