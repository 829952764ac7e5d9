// The `[clock]` section at start-up: which clock the daemon reads and steers, and how
// the sources' sockets are opened (interface binding, timestamp mode). Everything that
// can fail is checked here, before anything runs, and fails the start with one line
// naming the device or interface (the program exits 78, a configuration the machine
// cannot honour, as ntpd-rs does for a clock device it cannot open):
//
//   clock           the device must open (read-write when the clock is steered) and be a
//                   clock (clock-device.ts)
//   interface       must exist (in the daemon's network namespace) and needs the addon
//                   (SO_BINDTODEVICE; node:dgram cannot bind to a device)
//   timestamp-mode  "hardware" needs `interface`, the addon, the interface's driver to
//                   accept SIOCSHWTSTAMP (CAP_NET_ADMIN), and `clock` to be that NIC's
//                   PHC: hardware stamps are the NIC clock's time, so they mean
//                   something only against that clock. ntpd-rs treats the mode as a
//                   hint and silently uses software stamps where hardware ones are not
//                   to be had; an operator who asked for hardware stamps is told instead.
//                   "kernel-recv" / "kernel-all" without the addon: a warning, and
//                   user-space stamps (the node:dgram fallback), as for the default.
//
// A missing `[clock]` section is ntpd-rs's Linux default: CLOCK_REALTIME, no binding,
// kernel-all.

import { existsSync, readdirSync, realpathSync } from "node:fs";
import { basename } from "node:path";
import type { ClockConfig, TimestampMode } from "../../proto/config/types.js";
import { clockDeviceAddon } from "../native/clock-device.js";
import { getAddon, loadAddon } from "../native/addon.js";
import {
  createUdpSocket,
  type TimestampedUdpSocket,
  type UdpFamily,
  type UdpSocketOptions,
} from "../native/udp.js";
import type { Logger } from "../log.js";
import { ClockDevice, ClockDeviceError } from "./clock-device.js";
import { TranslatingUdpSocket } from "./translating-socket.js";
import { DEFAULT_TIMESTAMP_MODE, socketOptionsFor } from "./timestamp-modes.js";

/** `[clock]` cannot be honoured on this machine; the message says why. */
export class ClockSetupError extends Error {}

export type SourceSocketFactory = (
  family: UdpFamily,
  options?: UdpSocketOptions,
) => TimestampedUdpSocket;

export interface ClockSetup {
  /** The clock device, or null for CLOCK_REALTIME. */
  device: ClockDevice | null;
  /** The mode in effect (after a fallback to "software" without the addon). */
  timestampMode: TimestampMode;
  interfaceName: string | null;
  /** Opens a source's socket as the section says (the SourceTask's createSocket). */
  createSourceSocket: SourceSocketFactory;
  /** Closes the device. */
  close(): void;
}

export interface ClockSetupEnvironment {
  /** Whether the interface exists (default: /sys/class/net/NAME). */
  interfaceExists?: (name: string) => boolean;
  /** The PHC device names (ptpN) of an interface (default: /sys/class/net/NAME/device/ptp). */
  interfacePhcs?: (name: string) => string[];
  /** Opens the clock device (default: ClockDevice.open). */
  openDevice?: (path: string, writable: boolean) => ClockDevice;
  /** SIOCSHWTSTAMP (default: the addon's). */
  enableHardwareTimestamping?: (name: string) => void;
  /** Whether the addon is loaded (default: getAddon() !== null). */
  addonLoaded?: boolean;
  /** Creates the sockets (default: createUdpSocket). */
  createSocket?: SourceSocketFactory;
}

/**
 * Checks and opens what `[clock]` names. `steer`: the clock will be steered (the device
 * is opened read-write). Throws ClockSetupError.
 */
export function setUpClock(
  config: ClockConfig | null,
  steer: boolean,
  log: Logger,
  env: ClockSetupEnvironment = {},
): ClockSetup {
  const addonLoaded = env.addonLoaded ?? getAddon() !== null;
  const interfaceExists = env.interfaceExists ?? networkInterfaceExists;
  const create = env.createSocket ?? createUdpSocket;
  let mode = config?.timestampMode ?? DEFAULT_TIMESTAMP_MODE;
  const interfaceName = config?.interface ?? null;
  const addonReason = (): string => loadAddon().reason ?? "not loaded";

  if (interfaceName !== null) {
    if (!interfaceExists(interfaceName)) {
      throw new ClockSetupError(`[clock] interface ${interfaceName}: no such network interface`);
    }
    if (!addonLoaded) {
      throw new ClockSetupError(
        `[clock] interface ${interfaceName}: binding the sources to an interface needs the ` +
          `native addon (${addonReason()})`,
      );
    }
  }
  if (mode === "hardware") {
    checkHardware(interfaceName, config?.clock ?? null, addonLoaded, env);
  } else if (mode !== "software" && !addonLoaded) {
    log.warn(
      `[clock] timestamp-mode "${mode}" needs the native addon for kernel timestamps ` +
        `(${addonReason()}); the sources use user-space timestamps instead`,
    );
    mode = "software";
  }

  let device: ClockDevice | null = null;
  const path = config?.clock ?? null;
  if (path !== null) {
    try {
      device = (env.openDevice ?? ClockDevice.open)(path, steer);
    } catch (error) {
      if (error instanceof ClockDeviceError) throw new ClockSetupError(`[clock] ${error.message}`);
      throw error;
    }
  }

  // Hardware stamps are the device's time: a reply that came without one is stamped by
  // reading the device, not CLOCK_REALTIME (which the translation would take it for).
  const modeOptions =
    mode === "hardware" && device !== null
      ? { ...socketOptionsFor(mode), fallbackClockId: device.clockId }
      : socketOptionsFor(mode);
  const bind = interfaceName === null ? {} : { bindDevice: interfaceName };
  const opened = device;
  const createSourceSocket: SourceSocketFactory = (family, options = {}) => {
    const socket = create(family, { ...options, ...modeOptions, ...bind });
    return opened === null ? socket : new TranslatingUdpSocket(socket, opened);
  };
  return {
    device,
    timestampMode: mode,
    interfaceName,
    createSourceSocket,
    close: () => device?.close(),
  };
}

function checkHardware(
  interfaceName: string | null,
  clockPath: string | null,
  addonLoaded: boolean,
  env: ClockSetupEnvironment,
): void {
  if (interfaceName === null) {
    throw new ClockSetupError(
      '[clock] timestamp-mode "hardware": hardware timestamps come from one network ' +
        "interface's clock: set [clock] interface (and clock to that interface's PHC)",
    );
  }
  if (!addonLoaded) {
    throw new ClockSetupError(
      `[clock] timestamp-mode "hardware" on ${interfaceName}: needs the native addon`,
    );
  }
  const enable =
    env.enableHardwareTimestamping ??
    ((name: string) => {
      const found = clockDeviceAddon();
      if ("reason" in found) throw new Error(found.reason);
      found.addon.hardwareTimestampingEnable(name);
    });
  try {
    enable(interfaceName);
  } catch (error) {
    throw new ClockSetupError(
      `[clock] timestamp-mode "hardware": interface ${interfaceName} ${hardwareProblem(error)}`,
    );
  }
  const phcs = (env.interfacePhcs ?? defaultInterfacePhcs)(interfaceName);
  const device = clockPath === null ? null : deviceName(clockPath);
  if (device === null || !phcs.includes(device)) {
    const own = phcs.length === 0 ? "it names none" : phcs.map((p) => `/dev/${p}`).join(", ");
    throw new ClockSetupError(
      `[clock] timestamp-mode "hardware": the stamps are ${interfaceName}'s own clock's ` +
        `time, so [clock] clock must be that clock (${own}), not ` +
        `${clockPath ?? "CLOCK_REALTIME"}`,
    );
  }
}

function hardwareProblem(error: unknown): string {
  const code = (error as { code?: string }).code;
  switch (code) {
    case "ENOTSUP":
    case "EOPNOTSUPP":
    case "EINVAL":
    case "ERANGE":
      return "has no hardware timestamping (its driver refused SIOCSHWTSTAMP)";
    case "EPERM":
    case "EACCES":
      return "cannot be set to hardware timestamping: CAP_NET_ADMIN is needed";
    case "ENODEV":
      return "does not exist";
    default:
      return `cannot be set to hardware timestamping: ${(error as Error).message}`;
  }
}

/** "ptp0" for /dev/ptp0 or a link to it; null when it does not resolve. */
function deviceName(path: string): string | null {
  try {
    return basename(realpathSync(path));
  } catch {
    return null;
  }
}

/** Whether the network interface exists in this network namespace (/sys/class/net). */
export function networkInterfaceExists(name: string): boolean {
  return (
    !name.includes("/") && name !== "." && name !== ".." && existsSync(`/sys/class/net/${name}`)
  );
}

function defaultInterfacePhcs(name: string): string[] {
  try {
    return readdirSync(`/sys/class/net/${name}/device/ptp`);
  } catch {
    return [];
  }
}
