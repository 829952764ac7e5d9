// One answer to "is the native addon in use, and if not, why?", for the daemon to log
// once at startup.

import { loadAddon } from "./addon.js";

export interface NativeStatus {
  /** The addon is loaded and used for clocks, UDP and sd_notify. */
  inUse: boolean;
  /** Where the addon is (or was looked for). */
  path: string;
  /** Why it is not in use; null when it is. */
  reason: string | null;
  /** A one-line message for the log. */
  message: string;
}

export function nativeStatus(): NativeStatus {
  const { addon, path, reason } = loadAddon();
  if (addon !== null) {
    return {
      inUse: true,
      path,
      reason: null,
      message:
        "native addon in use: kernel receive timestamps, clock_gettime/clock_adjtime, sd_notify",
    };
  }
  return {
    inUse: false,
    path,
    reason,
    message:
      `native addon not in use: ${reason}. Running without it: node:dgram with ` +
      "user-space receive timestamps (less precise), observe-only clock, no sd_notify",
  };
}
