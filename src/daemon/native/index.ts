// The native layer: addon loader, clocks, timestamped UDP, sd_notify, status.
export { loadAddon, getAddon, ADDON_PATH, DISABLE_ENV, type AddonLoadResult } from "./addon.js";
export {
  readRealtime,
  readMonotonic,
  readTai,
  adjtimeRead,
  clockReader,
  timespecToNs,
  timespecDiffSeconds,
  type Timespec,
  type AdjtimeReading,
  type ClockReader,
} from "./clock.js";
export {
  createUdpSocket,
  type TimestampedUdpSocket,
  type UdpFamily,
  type UdpSocketOptions,
  type MessageHandler,
  type ErrorHandler,
  type UdpError,
  type LocalAddress,
} from "./udp.js";
export { sdNotify } from "./notify.js";
export { nativeStatus, type NativeStatus } from "./status.js";
