// The addon's parts for reference clocks (native/unix_dgram.cc, native/pps.cc): a Unix
// datagram socket read on the event loop (Node's dgram has none) and RFC 2783 kernel PPS.
// They are looked up by name rather than through ABI_VERSION: an older build simply lacks
// them, and only a configuration with a sock or pps source needs them.

import { loadAddon } from "./addon.js";

export interface UnixDgramSocketHandle {
  /** Calls `onDatagram` for each datagram: at most 256 bytes of it, and its real length. */
  start(onDatagram: (bytes: Buffer, length: number) => void): void;
  close(): void;
}

export interface PpsDevice {
  fd: number;
  /** PPS_GETCAP bits. */
  capabilities: number;
  /** The device's mode (PPS_GETPARAMS) after setting up the assert edge. */
  mode: number;
}

/** The last assert event: CLOCK_REALTIME when the pulse arrived, and its count. */
export interface PpsPulse {
  sec: number;
  nsec: number;
  sequence: number;
}

export interface ReferenceClockAddon {
  UnixDgramSocket: new (path: string) => UnixDgramSocketHandle;
  ppsOpen(path: string): PpsDevice;
  /** The next pulse, or null when none came within `timeoutSeconds`. */
  ppsFetch(fd: number, timeoutSeconds: number): Promise<PpsPulse | null>;
  ppsClose(fd: number): void;
  /** One datagram to the Unix datagram socket at `path` (as gpsd sends; tests and tools). */
  unixDgramSend(path: string, bytes: Uint8Array): void;
}

/** The addon's reference clock functions, or why they are not available. */
export function referenceClockAddon(): ReferenceClockAddon | { reason: string } {
  const loaded = loadAddon();
  if (loaded.addon === null) return { reason: `the native addon is needed: ${loaded.reason}` };
  const m = loaded.addon as unknown as Record<string, unknown>;
  for (const name of ["UnixDgramSocket", "unixDgramSend", "ppsOpen", "ppsFetch", "ppsClose"]) {
    if (typeof m[name] !== "function") {
      return {
        reason: `the native addon at ${loaded.path} lacks ${name} (built from older sources); rebuild it with "node scripts/build-addon.mjs"`,
      };
    }
  }
  return m as unknown as ReferenceClockAddon;
}
