// `ntp-ctl validate` checks of `[clock]` against this machine: the clock device opens
// and is a clock (opened read-only, closed again: validate changes nothing), the
// interface exists. The daemon makes the same checks, and more (hardware timestamping),
// when it starts (src/daemon/clock/clock-setup.ts).
import { statSync } from "node:fs";
import type { Config, ConfigDiagnostic } from "../proto/config/index.js";
import { ClockDevice, ClockDeviceError } from "../daemon/clock/clock-device.js";
import { networkInterfaceExists } from "../daemon/clock/clock-setup.js";
import { getAddon } from "../daemon/native/addon.js";

export interface ClockCheckEnvironment {
  /** Default: ClockDevice.open(path, false), closed at once; throws ClockDeviceError. */
  checkDevice?: (path: string) => void;
  interfaceExists?: (name: string) => boolean;
}

export function clockWarnings(
  config: Config,
  file: string,
  env: ClockCheckEnvironment = {},
): ConfigDiagnostic[] {
  const clock = config.clock;
  if (clock === null) return [];
  const warnings: ConfigDiagnostic[] = [];
  const warn = (path: string, message: string): void => {
    warnings.push({ file, line: 0, column: 0, path, message });
  };
  if (clock.clock !== null) {
    const problem = deviceProblem(clock.clock, env.checkDevice ?? checkDevice);
    if (problem !== null) warn("clock.clock", `[clock] ${problem}`);
  }
  if (clock.interface !== null) {
    const exists = (env.interfaceExists ?? networkInterfaceExists)(clock.interface);
    if (!exists) {
      warn("clock.interface", `[clock] interface ${clock.interface}: no such network interface`);
    }
  }
  return warnings;
}

function deviceProblem(path: string, check: (path: string) => void): string | null {
  try {
    check(path);
    return null;
  } catch (error) {
    if (error instanceof ClockDeviceError) return error.message;
    throw error;
  }
}

/** Opens the device read-only and closes it; without the addon, only a stat. */
function checkDevice(path: string): void {
  if (getAddon() === null) {
    let isChar: boolean;
    try {
      isChar = statSync(path).isCharacterDevice();
    } catch {
      throw new ClockDeviceError(`cannot use clock device ${path}: no such file`);
    }
    if (!isChar) {
      throw new ClockDeviceError(
        `cannot use clock device ${path}: not a clock device (not a character device)`,
      );
    }
    return;
  }
  ClockDevice.open(path, false).close();
}
