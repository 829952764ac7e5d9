// TimestampedUdpSocket on node:dgram, for when the addon is not available. Receive
// times are read with readRealtime() first thing in the 'message' handler: user-space
// timestamps, late by the event-loop delay. Sends are asynchronous in dgram, so the
// bytes are copied first (the caller may reuse its buffer at once) and send failures
// arrive at the onError handler. See udp.ts for the contract.

import dgram from "node:dgram";
import { isIP, isIPv4 } from "node:net";
import { readRealtime, type Timespec } from "./clock.js";
import type {
  BindOptions,
  ErrorHandler,
  LocalAddress,
  MessageHandler,
  RequestHandler,
  TimestampedUdpSocket,
  TxTimestampHandler,
  UdpError,
  UdpFamily,
  UdpSocketOptions,
} from "./udp.js";

export class DgramTimestampedUdpSocket implements TimestampedUdpSocket {
  readonly implementation = "dgram";
  readonly kernelTimestamps = false;
  /** Replies are sent as the handler made them: it finishes them itself. */
  readonly finishesReplies = false;
  /** node:dgram cannot read the error queue: no TX timestamps, ever. */
  readonly txTimestamps = false;
  readonly replyTxTimestamps = false;
  /** node:dgram reads every datagram whole: the server core sees (and drops) long ones. */
  readonly truncatedDatagrams = 0;
  private readonly socket: dgram.Socket;
  private messageHandler: MessageHandler | null = null;
  /** Reply mode (onRequest): the handler and the buffer it writes replies to. */
  private requestHandler: RequestHandler | null = null;
  private reply: Uint8Array | null = null;
  private errorHandler: ErrorHandler | null = null;
  /** Rejects the bind/connect in progress, which dgram reports as an 'error' event. */
  private pending: ((error: Error) => void) | null = null;
  private closed = false;
  private bound = false;
  private connected = false;
  private receiveBufferSize: number | undefined;
  private readonly rx: Timespec = { sec: 0, nsec: 0 };

  constructor(
    readonly family: UdpFamily,
    options: UdpSocketOptions = {},
  ) {
    if (options.bindDevice !== undefined) {
      // node:dgram has no SO_BINDTODEVICE: refuse rather than send through any interface.
      throw codeError(
        Error,
        "ERR_FEATURE_UNAVAILABLE_ON_PLATFORM",
        `binding to interface ${options.bindDevice} needs the native addon (node:dgram cannot)`,
      );
    }
    this.socket = dgram.createSocket({ type: family === 4 ? "udp4" : "udp6" });
    this.receiveBufferSize = options.receiveBufferSize;
    this.socket.on("message", (msg: Buffer, rinfo: dgram.RemoteInfo) => {
      const rx = readRealtime(this.rx);
      if (this.closed) return;
      const request = this.requestHandler;
      if (request !== null) {
        const reply = this.reply!;
        const n = request(msg, msg.length, rinfo.address, rinfo.port, rx.sec, rx.nsec);
        if (n === 0 || (n as number | undefined) === undefined || this.closed) return;
        if (!Number.isInteger(n) || n < 0 || n > reply.length) {
          throw codeError(
            RangeError,
            "ERR_OUT_OF_RANGE",
            "request handler: the reply length it returned must be an integer in [0, reply.length]",
          );
        }
        this.sendTo(reply, n, rinfo.address, rinfo.port);
        return;
      }
      this.messageHandler?.(msg, msg.length, rinfo.address, rinfo.port, rx.sec, rx.nsec);
    });
    // Always listen: an 'error' event without a listener would crash the process.
    this.socket.on("error", (error: Error) => {
      const pending = this.pending;
      if (pending !== null) {
        this.pending = null;
        pending(error);
      } else if (!this.closed) {
        this.errorHandler?.(error);
      }
    });
  }

  bind(address: string, port: number, options?: BindOptions): Promise<void> {
    if (options?.reusePort === true) {
      // node:dgram has no SO_REUSEPORT before Node 22.12; the daemon asks only with the addon.
      const error = codeError(TypeError, "ERR_INVALID_ARG_VALUE", "reusePort needs the addon");
      return Promise.reject(error);
    }
    return this.operation("bind", address, port, (host, done) => {
      this.socket.bind({ address: host, port, exclusive: true }, () => done());
    });
  }

  connect(address: string, port: number): Promise<void> {
    return this.operation("connect", address, port, (host, done) => {
      this.socket.connect(port, host, (error?: Error) => {
        if (!error) this.connected = true;
        done(error);
      });
    });
  }

  send(data: Uint8Array, length: number = data.length, t1?: Timespec): Timespec {
    this.checkOpen("send");
    checkLength(data, length, "send");
    if (!this.connected) {
      throw Object.assign(new Error("send EDESTADDRREQ (socket is not connected)"), {
        code: "EDESTADDRREQ",
        syscall: "send",
      });
    }
    const copy = Buffer.from(data.subarray(0, length));
    const out = readRealtime(t1);
    this.socket.send(copy, (error) => this.sendDone(error));
    return out;
  }

  sendTo(data: Uint8Array, length: number, address: string, port: number): void {
    this.checkOpen("sendTo");
    checkLength(data, length, "sendTo");
    const host = this.literal(address, "sendTo");
    checkPort(port, "sendTo");
    const copy = Buffer.from(data.subarray(0, length));
    this.socket.send(copy, port, host, (error) => this.sendDone(error));
  }

  onMessage(handler: MessageHandler | null): void {
    this.messageHandler = this.closed ? null : handler;
    this.requestHandler = null;
    this.reply = null;
  }

  /** Reply mode without a queue: each reply is sent (asynchronously) as it is made. */
  onRequest(handler: RequestHandler, reply: Uint8Array, finish?: Uint8Array): void {
    if (!(reply instanceof Uint8Array)) {
      throw codeError(TypeError, "ERR_INVALID_ARG_TYPE", "onRequest: reply must be a Uint8Array");
    }
    if (finish !== undefined) {
      throw codeError(
        TypeError,
        "ERR_INVALID_ARG_TYPE",
        "onRequest: dgram sockets do not finish replies (finishesReplies is false)",
      );
    }
    if (this.closed) return;
    this.messageHandler = null;
    this.requestHandler = handler;
    this.reply = reply;
  }

  onError(handler: ErrorHandler | null): void {
    this.errorHandler = this.closed ? null : handler;
  }

  /** Never called back: there are no TX timestamps on dgram. */
  onTxTimestamp(_handler: TxTimestampHandler | null): void {}

  localAddress(): LocalAddress {
    this.checkOpen("localAddress");
    const a = this.socket.address();
    return { address: a.address, port: a.port, family: a.address.includes(":") ? 6 : 4 };
  }

  setReceiveBufferSize(bytes: number): void {
    this.checkOpen("setReceiveBufferSize");
    if (!Number.isInteger(bytes) || bytes <= 0 || bytes > 0x7fffffff) {
      throw codeError(
        TypeError,
        "ERR_OUT_OF_RANGE",
        "setReceiveBufferSize: size must be a positive integer",
      );
    }
    // dgram can only set it on a bound socket; otherwise apply it once bound.
    if (this.bound) this.socket.setRecvBufferSize(bytes);
    else this.receiveBufferSize = bytes;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.messageHandler = null;
    this.requestHandler = null;
    this.reply = null;
    this.errorHandler = null;
    const pending = this.pending;
    this.pending = null;
    pending?.(codeError(Error, "ERR_SOCKET_CLOSED", "socket closed before bind/connect completed"));
    try {
      this.socket.close();
    } catch {
      // already closed by dgram itself
    }
  }

  /** bind/connect: validation failures and errors all become rejections. */
  private operation(
    what: string,
    address: string,
    port: number,
    start: (host: string, done: (error?: Error) => void) => void,
  ): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.checkOpen(what);
      const host = this.literal(address, what);
      checkPort(port, what);
      this.pending = reject;
      const done = (error?: Error): void => {
        if (this.pending !== reject) return; // settled by an 'error' event or close()
        this.pending = null;
        if (error) {
          reject(error);
          return;
        }
        this.bound = true;
        try {
          if (this.receiveBufferSize !== undefined) {
            this.socket.setRecvBufferSize(this.receiveBufferSize);
          }
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
          return;
        }
        resolve();
      };
      try {
        start(host, done);
      } catch (error) {
        this.pending = null;
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  private sendDone(error: Error | null): void {
    if (error && !this.closed) this.errorHandler?.(error);
  }

  private checkOpen(what: string): void {
    if (this.closed) throw codeError(Error, "ERR_SOCKET_CLOSED", `${what}: socket is closed`);
  }

  /** An IP literal for this socket's family (IPv4 on a family-6 socket: v4-mapped). */
  private literal(address: string, what: string): string {
    if (typeof address !== "string") {
      throw codeError(TypeError, "ERR_INVALID_ARG_TYPE", `${what}: address must be a string`);
    }
    if (this.family === 4) {
      if (isIPv4(address)) return address;
      throw codeError(
        TypeError,
        "ERR_INVALID_ARG_VALUE",
        `${what}: not an IPv4 address: "${address}"`,
      );
    }
    if (isIPv4(address)) return `::ffff:${address}`;
    if (isIP(address) === 6) return address;
    throw codeError(TypeError, "ERR_INVALID_ARG_VALUE", `${what}: not an IP address: "${address}"`);
  }
}

function checkPort(port: number, what: string): void {
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw codeError(
      TypeError,
      "ERR_SOCKET_BAD_PORT",
      `${what}: port must be an integer in [0, 65535]`,
    );
  }
}

function checkLength(data: Uint8Array, length: number, what: string): void {
  if (!(data instanceof Uint8Array)) {
    throw codeError(
      TypeError,
      "ERR_INVALID_ARG_TYPE",
      `${what}: data must be a Buffer or Uint8Array`,
    );
  }
  if (!Number.isInteger(length) || length < 0 || length > data.length) {
    throw codeError(
      TypeError,
      "ERR_OUT_OF_RANGE",
      `${what}: length must be an integer in [0, data.length]`,
    );
  }
}

function codeError(
  Kind: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  code: string,
  message: string,
): UdpError {
  return Object.assign(new Kind(message), { code });
}
