// `[clock] timestamp-mode` in socket terms: the options each mode asks of a source's
// socket, and which mode a socket actually gives (the observation reports that).
//
//   software     no kernel stamps: receive times read in user space as the datagram
//                is read, T1 read just before the send syscall
//   kernel-recv  kernel software receive stamps (SO_TIMESTAMPNS); T1 as above
//   kernel-all   also the kernel's software TX stamp of each request (SO_TIMESTAMPING
//                TX_SOFTWARE), which replaces T1 when it comes (source-task.ts)
//   hardware     the NIC's stamps both ways (SOF_TIMESTAMPING_RAW_HARDWARE), on an
//                interface with hardware stamping on (clock-setup.ts)

import type { TimestampMode } from "../../proto/config/types.js";
import type { TimestampedUdpSocket, UdpSocketOptions } from "../native/udp.js";

/** ntpd-rs's Linux default when there is no `[clock]` section. */
export const DEFAULT_TIMESTAMP_MODE: TimestampMode = "kernel-all";

/** The socket options of each mode (on top of what the source task asks for). */
export function socketOptionsFor(mode: TimestampMode): UdpSocketOptions {
  switch (mode) {
    case "software":
      return { rxTimestamps: false, txTimestamps: false };
    case "kernel-recv":
      return { txTimestamps: false };
    case "kernel-all":
      return { txTimestamps: true };
    case "hardware":
      return { hardwareTimestamps: true, txTimestamps: true };
  }
}

/**
 * What a socket actually gives, in timestamp-mode's words (for the observation):
 * hardware stamps, kernel receive and TX stamps, kernel receive stamps only, or none.
 */
export function effectiveTimestampMode(socket: TimestampedUdpSocket): TimestampMode {
  if (socket.hardwareTimestamps === true) return "hardware";
  if (!socket.kernelTimestamps) return "software";
  return socket.txTimestamps ? "kernel-all" : "kernel-recv";
}
