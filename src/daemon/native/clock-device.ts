// The addon's parts for the `[clock]` section (native/clock_device.cc): opening a clock
// device (a PTP hardware clock) as a dynamic clock id, and turning on a NIC's hardware
// timestamping. Looked up by name rather than through ABI_VERSION: an older build lacks
// them, and only a configuration with a `[clock]` section needs them.

import { loadAddon } from "./addon.js";
import type { NativeAddon } from "./types.js";

export interface OpenedClockDevice {
  fd: number;
  /** FD_TO_CLOCKID(fd): for clockGettime / adjtimeRead / adjtimeWrite while fd is open. */
  clockId: number;
}

export interface ClockDeviceAddon {
  /**
   * Opens `path` (read-write when `writable`) and checks that it is a clock device.
   * Throws an errno error (ENOENT, EACCES...) or one with code ERR_NOT_CLOCK_DEVICE.
   */
  clockDeviceOpen(path: string, writable: boolean): OpenedClockDevice;
  clockDeviceClose(fd: number): void;
  /** SIOCSHWTSTAMP (TX on, every packet received); throws ENOTSUP / ENODEV / EPERM. */
  hardwareTimestampingEnable(interfaceName: string): void;
}

const NAMES = ["clockDeviceOpen", "clockDeviceClose", "hardwareTimestampingEnable"] as const;

/** The addon (with its clock functions) and its device functions, or why not. */
export function clockDeviceAddon(): { addon: NativeAddon & ClockDeviceAddon } | { reason: string } {
  const loaded = loadAddon();
  if (loaded.addon === null) return { reason: `the native addon is needed: ${loaded.reason}` };
  const m = loaded.addon as unknown as Record<string, unknown>;
  for (const name of NAMES) {
    if (typeof m[name] !== "function") {
      return {
        reason: `the native addon at ${loaded.path} lacks ${name} (built from older sources); rebuild it with "node scripts/build-addon.mjs"`,
      };
    }
  }
  return { addon: loaded.addon as NativeAddon & ClockDeviceAddon };
}
