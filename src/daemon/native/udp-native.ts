// TimestampedUdpSocket on the native addon's UdpSocket (see udp.ts for the contract and
// native/udp_socket.h for the mechanics and buffer lifetimes). A thin shim: handlers are handed to the
// addon as they are, so a datagram costs one native -> JS call and no wrapper closure
// (and in reply mode no call back into the addon for the reply).

import type { Timespec } from "./clock.js";
import type { NativeAddon, NativeUdpSocket, NativeUdpSocketOptions } from "./types.js";
import type {
  BindOptions,
  ErrorHandler,
  LocalAddress,
  MessageHandler,
  RequestHandler,
  TimestampedUdpSocket,
  TxTimestampHandler,
  UdpFamily,
  UdpSocketOptions,
} from "./udp.js";

export class NativeTimestampedUdpSocket implements TimestampedUdpSocket {
  readonly implementation = "addon";
  readonly finishesReplies = true;
  readonly kernelTimestamps: boolean;
  readonly txTimestamps: boolean;
  readonly replyTxTimestamps: boolean;
  readonly hardwareTimestamps: boolean;
  private readonly socket: NativeUdpSocket;
  private readonly t1 = new Float64Array(2);

  constructor(
    addon: NativeAddon,
    readonly family: UdpFamily,
    options: UdpSocketOptions = {},
  ) {
    const native: NativeUdpSocketOptions = {};
    if (options.batchSize !== undefined) native.batchSize = options.batchSize;
    if (options.maxDatagramSize !== undefined) native.maxDatagramSize = options.maxDatagramSize;
    if (options.sendBatchSize !== undefined) native.sendBatchSize = options.sendBatchSize;
    if (options.txTimestamps !== undefined) native.txTimestamps = options.txTimestamps;
    if (options.replyTxTimestamps !== undefined) {
      native.replyTxTimestamps = options.replyTxTimestamps;
    }
    if (options.rxTimestamps === false) native.noRxTimestamps = true;
    if (options.hardwareTimestamps !== undefined) {
      native.hardwareTimestamps = options.hardwareTimestamps;
    }
    if (options.bindDevice !== undefined) native.bindDevice = options.bindDevice;
    if (options.fallbackClockId !== undefined) native.fallbackClockId = options.fallbackClockId;
    this.socket = new addon.UdpSocket(family, native);
    this.hardwareTimestamps = this.socket.hardwareTimestamps === true;
    this.kernelTimestamps = this.socket.kernelTimestamps;
    this.txTimestamps = this.socket.txTimestamps;
    this.replyTxTimestamps = this.socket.replyTxTimestamps;
    if (options.receiveBufferSize !== undefined) {
      try {
        this.socket.setReceiveBufferSize(options.receiveBufferSize);
      } catch (error) {
        this.socket.close();
        throw error;
      }
    }
  }

  bind(address: string, port: number, options?: BindOptions): Promise<void> {
    try {
      this.socket.bind(address, port, options);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  connect(address: string, port: number): Promise<void> {
    try {
      this.socket.connect(address, port);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  send(data: Uint8Array, length: number = data.length, t1?: Timespec): Timespec {
    this.socket.send(data, length, this.t1);
    const out = t1 ?? { sec: 0, nsec: 0 };
    out.sec = this.t1[0]!;
    out.nsec = this.t1[1]!;
    return out;
  }

  sendTo(data: Uint8Array, length: number, address: string, port: number): void {
    this.socket.sendTo(data, length, address, port);
  }

  onMessage(handler: MessageHandler | null): void {
    this.socket.setOnMessage(handler);
  }

  onRequest(handler: RequestHandler, reply: Uint8Array, finish?: Uint8Array): void {
    this.socket.setOnMessage(handler, reply, finish);
  }

  onError(handler: ErrorHandler | null): void {
    this.socket.setOnError(handler);
  }

  onTxTimestamp(handler: TxTimestampHandler | null): void {
    this.socket.setOnTxTimestamp(handler);
  }

  get truncatedDatagrams(): number {
    return this.socket.truncatedDatagrams;
  }

  /** sendmmsg calls of the addon socket so far (for tests: how replies shared them). */
  get sendCalls(): number {
    return this.socket.sendCalls;
  }

  /** POLLERR wakeups of the addon socket so far (for tests: none on servers). */
  get pollErrorWakeups(): number {
    return this.socket.pollErrorWakeups;
  }

  localAddress(): LocalAddress {
    return this.socket.localAddress();
  }

  setReceiveBufferSize(bytes: number): void {
    this.socket.setReceiveBufferSize(bytes);
  }

  close(): void {
    this.socket.close();
  }
}

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
