// A UDP socket that reports when each datagram arrived. Two implementations with the
// same contract (udp.contract.ts runs against both):
//
//   addon  (udp-native.ts): kernel receive timestamps (SO_TIMESTAMPNS), recvmmsg batches,
//          synchronous sends, T1 read right before the send syscall; in reply mode the
//          replies of a receive batch leave together (sendmmsg). With txTimestamps, also
//          the kernel's software TX timestamp of each send (SO_TIMESTAMPING).
//   dgram  (udp-dgram.ts):  node:dgram; the receive time is read in the 'message'
//          handler (user space: late by the event-loop delay, tens of µs or more).
//
// Contract:
// - bind/connect resolve once the socket is bound/connected and reject with a Node-style
//   errno error (code "EADDRINUSE", ...). Addresses are IP literals only (no DNS); on a
//   family-6 socket an IPv4 literal means its v4-mapped form ::ffff:a.b.c.d. A family-6
//   socket keeps the kernel's dual-stack default: bound to "::" it also receives IPv4,
//   and such peers are reported as "::ffff:a.b.c.d".
// - onMessage handler: (data, length, address, port, rxSec, rxNsec). Bytes [0, length)
//   of `data` are the datagram, valid only until the handler returns: copy what you
//   keep (Buffer.from(data.subarray(0, length))), never write to it. (The addon reuses
//   its receive buffers: NativeUdpSocket in types.ts, in full native/udp_socket.h.)
//   (rxSec, rxNsec) is CLOCK_REALTIME as whole seconds and nanoseconds.
// - send (connected) returns the CLOCK_REALTIME reading taken immediately before the
//   datagram was handed to the kernel (the client's T1). send/sendTo copy or consume the
//   bytes before returning: the caller may reuse its buffer at once.
// - TX timestamps (option txTimestamps, for client sockets; `txTimestamps` says whether
//   they are on): the onTxTimestamp handler gets (sec, nsec, id) for each datagram sent,
//   the kernel's software transmit time (CLOCK_REALTIME, stamped as the packet goes to
//   the device: after the pre-send reading send() returns, before the peer's receive
//   time) and the 0-based index of the send on this socket. It arrives asynchronously
//   (never inside send()), normally within microseconds and before a reply. dgram has
//   none: txTimestamps is false and the handler is never called. Servers do not ask
//   for them on every send (each would cost an error-queue read): see replyTxTimestamps.
// - Reply TX timestamps (option replyTxTimestamps, addon only, for servers;
//   `replyTxTimestamps` says whether they are on): a reply whose finish has the
//   FinishStep.TxStamp bit goes out with a per-message request for its kernel software
//   TX timestamp, and the onTxTimestamp handler gets (sec, nsec, 0, t2Seconds,
//   t2Fraction), the last two being the NTP receive timestamp in that reply (octets
//   32..39), which names it. Read right after the sendmmsg of the replies (on loopback
//   and most drivers the kernel has queued it by then) or at the next wakeup. Replies
//   without the bit cost nothing. The interleaved mode's T3 (server-task.ts).
// - Reply mode, onRequest(handler, reply): the handler (same arguments as a message
//   handler) answers a datagram by writing the answer to reply[0, n) and returning n
//   (0: no answer); it goes to the datagram's source address and port. The addon copies
//   it into a send queue that is handed to the kernel with one sendmmsg when full
//   (sendBatchSize) and after the last handler of each receive batch, so every reply has
//   left before control returns to the event loop, but not at once: see server-task.ts
//   for what that does to T3. dgram sends each reply at once (sendTo). A handler returning
//   anything but an integer in [0, reply.length] is an uncaught RangeError. onRequest and
//   onMessage replace each other's handler. A failed reply is reported to onError (addon:
//   syscall "sendmmsg", or "sendto" for one longer than maxDatagramSize, or "seal" for
//   one whose finish failed, with address and port; dgram: its asynchronous "send"
//   error); isSendError() tells those from receive errors.
// - Finishing replies at the wire (addon only: `finishesReplies`): onRequest's third
//   argument, a REPLY_FINISH_BYTES buffer (reply-finish.ts), lets the handler leave T3
//   and the NTS seal to the socket, which does them right before the send, so the
//   queue's wait is not between T3 and the wire (issue #8). Whatever the handler
//   writes there is consumed (key bytes overwritten) when it returns. dgram throws if
//   it is given: its handler finishes replies itself and they are sent at once.
// - Errors: invalid arguments and a closed socket throw synchronously (code
//   ERR_INVALID_ARG_VALUE / ERR_INVALID_ARG_TYPE / ERR_OUT_OF_RANGE / ERR_SOCKET_BAD_PORT
//   / ERR_SOCKET_CLOSED). A failed send throws an errno error on the addon (a queued one:
//   see sendToQueued); on dgram
//   (asynchronous sends) it goes to the onError handler. Receive-side errors (e.g.
//   ECONNREFUSED after an ICMP port unreachable on a connected socket) go to onError on
//   both; without an onError handler they are dropped.
// - close() is idempotent, may be called inside a handler, and no handler is called
//   after it.

import { getAddon } from "./addon.js";
import type { Timespec } from "./clock.js";
import type { DatagramArgs } from "./types.js";
import { DgramTimestampedUdpSocket } from "./udp-dgram.js";
import { NativeTimestampedUdpSocket } from "./udp-native.js";

export type UdpFamily = 4 | 6;

/** Called once per received datagram; its arguments: DatagramArgs (types.ts). */
export type MessageHandler = (...datagram: DatagramArgs) => void;

/** A MessageHandler that returns the length of the reply it wrote (0: no reply). */
export type RequestHandler = (...datagram: DatagramArgs) => number;

/**
 * A Node-style system error: code "ECONNREFUSED", errno -111, syscall "recvmsg"; a failed
 * send also names the destination (address, port).
 */
export type UdpError = Error & {
  code?: string;
  errno?: number;
  syscall?: string;
  address?: string;
  port?: number;
};

export type ErrorHandler = (error: UdpError) => void;

export interface LocalAddress {
  address: string;
  port: number;
  family: UdpFamily;
}

export interface UdpSocketOptions {
  /** "auto" (default): the addon when it is loaded, else dgram. "addon" throws without it. */
  implementation?: "auto" | "addon" | "dgram";
  /** Addon only: datagrams drained per recvmmsg call (default 32). */
  batchSize?: number;
  /** Addon only: receive slot size; longer datagrams are dropped (default 2048). */
  maxDatagramSize?: number;
  /** Addon only: reply mode's send queue length, replies per sendmmsg at most (default 8). */
  sendBatchSize?: number;
  /** SO_RCVBUF in bytes (the kernel doubles it and caps it at net.core.rmem_max). */
  receiveBufferSize?: number;
  /** Addon only, client sockets only: ask for kernel TX timestamps (see onTxTimestamp). */
  txTimestamps?: boolean;
  /** Addon only, reply mode: TX timestamps of the replies that ask (see onTxTimestamp). */
  replyTxTimestamps?: boolean;
  /**
   * false: no kernel receive timestamps, the receive time is read in user space when the
   * datagram is read (`[clock] timestamp-mode = "software"`). Default true.
   */
  rxTimestamps?: boolean;
  /**
   * Addon only: the NIC's hardware stamps, receive and TX (times of the NIC's clock, not
   * CLOCK_REALTIME); `hardwareTimestamps` says whether the kernel accepted the option.
   */
  hardwareTimestamps?: boolean;
  /**
   * Addon only: SO_BINDTODEVICE to this interface; dgram cannot and throws. The socket
   * constructor throws the errno error (ENODEV: no such interface; EPERM: not permitted).
   */
  bindDevice?: string;
  /**
   * Addon only: the clock read when a datagram comes without a stamp (default
   * CLOCK_REALTIME); for hardware stamps of a NIC whose PHC is the steered clock device.
   */
  fallbackClockId?: number;
}

/**
 * A kernel TX timestamp (CLOCK_REALTIME) of the `id`-th send (0-based) on the socket; on
 * a replyTxTimestamps socket id is 0 and (t2Seconds, t2Fraction) name the reply.
 */
export type TxTimestampHandler = (
  sec: number,
  nsec: number,
  id: number,
  t2Seconds?: number,
  t2Fraction?: number,
) => void;

export interface BindOptions {
  /**
   * SO_REUSEPORT: other sockets with it may bind the same address, and the kernel spreads
   * datagrams over them (by source address and port). Addon only (dgram rejects it).
   */
  reusePort?: boolean;
}

export interface TimestampedUdpSocket {
  readonly implementation: "addon" | "dgram";
  readonly family: UdpFamily;
  /** true: onRequest takes a finish buffer (T3 and NTS seal done at the send). */
  readonly finishesReplies: boolean;
  /** true: rx times are kernel timestamps; false: read in user space on arrival. */
  readonly kernelTimestamps: boolean;
  /** true: sends are followed by kernel TX timestamps (onTxTimestamp). */
  readonly txTimestamps: boolean;
  /** true: receive and TX stamps are the NIC's hardware stamps (addon only). */
  readonly hardwareTimestamps?: boolean;
  /** true: replies that ask for it are followed by kernel TX timestamps (onTxTimestamp). */
  readonly replyTxTimestamps: boolean;
  /**
   * Datagrams longer than maxDatagramSize the socket dropped without calling a handler
   * (the addon; node:dgram reads every datagram whole, so there it stays 0).
   */
  readonly truncatedDatagrams: number;
  bind(address: string, port: number, options?: BindOptions): Promise<void>;
  connect(address: string, port: number): Promise<void>;
  /** Sends on a connected socket; returns T1 (fills and returns `t1` when given). */
  send(data: Uint8Array, length?: number, t1?: Timespec): Timespec;
  sendTo(data: Uint8Array, length: number, address: string, port: number): void;
  onMessage(handler: MessageHandler | null): void;
  /**
   * Reply mode: `handler` returns the length of the reply it wrote to `reply` (0: none);
   * with `finish` (only where finishesReplies), it may describe there how the socket is
   * to finish it.
   */
  onRequest(handler: RequestHandler, reply: Uint8Array, finish?: Uint8Array): void;
  onError(handler: ErrorHandler | null): void;
  /** Kernel TX timestamps of sends; only called when `txTimestamps` is true. */
  onTxTimestamp(handler: TxTimestampHandler | null): void;
  localAddress(): LocalAddress;
  setReceiveBufferSize(bytes: number): void;
  close(): void;
}

/**
 * Whether an error given to the onError handler is a failed send (a reply-mode reply on
 * the addon, any send on dgram) rather than a receive-side error.
 */
export function isSendError(error: UdpError): boolean {
  const syscall = error.syscall;
  return syscall === "sendmmsg" || syscall === "sendto" || syscall === "send" || syscall === "seal";
}

/** A socket of `family`: addon-backed when the addon is loaded, else node:dgram. */
export function createUdpSocket(
  family: UdpFamily,
  options: UdpSocketOptions = {},
): TimestampedUdpSocket {
  if (family !== 4 && family !== 6) {
    throw Object.assign(new TypeError(`UDP family must be 4 or 6, not ${String(family)}`), {
      code: "ERR_INVALID_ARG_VALUE",
    });
  }
  const which = options.implementation ?? "auto";
  if (which === "dgram") return new DgramTimestampedUdpSocket(family, options);
  const addon = getAddon();
  if (addon) return new NativeTimestampedUdpSocket(addon, family, options);
  if (which === "addon") throw new Error("the native addon is not loaded");
  return new DgramTimestampedUdpSocket(family, options);
}
