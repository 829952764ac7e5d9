// Drives one NtpSource (src/proto/source) against one resolved server
// address: arms the poll timer, opens a fresh connected UDP socket with a
// random source port for every poll (as ntpd-rs does, RFC 9109), sends the
// request, hands replies to the source and reports what came of them.
//
// T1: the clock reading taken just before the send syscall is reported to the
// source at once; the socket asks for kernel TX timestamps (txTimestamps), and
// when the kernel's software transmit time of the request arrives (normally
// microseconds later, before the reply) it replaces T1 (NtpSource.sent simply
// overwrites the outstanding request's T1). A kernel time before the pre-send
// reading or more than MAX_TX_STAMP_LAG_SECONDS after it (a clock step in
// between) is not used. The dgram fallback has no TX timestamps.

import { POLL_WINDOW_SECONDS, type NtpSource, type SourceEvent } from "../proto/source/source.js";
import { NtpTimestamp } from "../proto/time.js";
import type { Logger } from "./log.js";
import type { Timespec } from "./native/clock.js";
import { createUdpSocket, type TimestampedUdpSocket, type UdpSocketOptions } from "./native/udp.js";
import { formatHostPort, type ResolvedAddress } from "./resolve.js";
import type { WallClock } from "./wall-clock.js";
import type { TimestampMode } from "../proto/config/types.js";
import { effectiveTimestampMode } from "./clock/timestamp-modes.js";

/** Why a source task ended on its own. */
export type SourceEnd = "unreachable" | "demobilized" | "reset";

export interface SourceTaskHooks {
  /** Every event from a reply (measurement, kiss, ...). */
  onEvent(task: SourceTask, event: SourceEvent): void;
  /** The task stopped itself; the spawner decides what comes next. */
  onEnd(task: SourceTask, reason: SourceEnd): void;
  /** A request could not be sent (it is logged as well); the next poll tries again. */
  onSendError?(task: SourceTask, error: unknown): void;
}

export interface SourceTaskOptions {
  /** The source's requests are NTS-protected and its replies authenticated. */
  nts?: boolean;
  /** Configured name, e.g. "pool.ntp.org:123". */
  name: string;
  address: ResolvedAddress;
  port: number;
  source: NtpSource;
  clock: WallClock;
  log: Logger;
  hooks: SourceTaskHooks;
  /**
   * Socket factory; the default picks the addon when it is loaded. The task passes
   * { txTimestamps: true }.
   */
  createSocket?: (family: 4 | 6, options?: UdpSocketOptions) => TimestampedUdpSocket;
}

/** A kernel TX timestamp later than the pre-send reading by more than this is not used. */
export const MAX_TX_STAMP_LAG_SECONDS = 1;

let nextSourceId = 1;

/** A fresh source id, unique among every kind of source (network and reference clocks). */
export function allocateSourceId(): number {
  return nextSourceId++;
}

export class SourceTask {
  readonly id = allocateSourceId();
  readonly nts: boolean;
  readonly name: string;
  readonly address: ResolvedAddress;
  readonly port: number;
  readonly source: NtpSource;
  private readonly clock: WallClock;
  private readonly log: Logger;
  private readonly hooks: SourceTaskHooks;
  private readonly createSocket: (
    family: 4 | 6,
    options?: UdpSocketOptions,
  ) => TimestampedUdpSocket;
  private pollTimer: NodeJS.Timeout | null = null;
  private windowTimer: NodeJS.Timeout | null = null;
  private socket: TimestampedUdpSocket | null = null;
  private readonly t1: Timespec = { sec: 0, nsec: 0 };
  private stopped = false;
  /** The timestamps the last request's socket gave (`[clock] timestamp-mode` words). */
  timestamps: TimestampMode | null = null;

  constructor(options: SourceTaskOptions) {
    this.name = options.name;
    this.nts = options.nts ?? false;
    this.address = options.address;
    this.port = options.port;
    this.source = options.source;
    this.clock = options.clock;
    this.log = options.log;
    this.hooks = options.hooks;
    this.createSocket =
      options.createSocket ?? ((family, socketOptions) => createUdpSocket(family, socketOptions));
  }

  /** "203.0.113.5:123" / "[2001:db8::1]:123". */
  get addressText(): string {
    return formatHostPort(this.address.address, this.port);
  }

  /** Polls at once, then on the source's schedule. */
  start(): void {
    this.schedulePoll(0);
  }

  /**
   * Polls at once instead of when the schedule says (a request still waiting
   * for its reply is abandoned). For one-off measurements (measure-source.ts);
   * the daemon itself only polls on the source's schedule.
   */
  pollNow(): void {
    this.schedulePoll(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = null;
    this.closeSocket();
  }

  private schedulePoll(delaySeconds: number): void {
    if (this.stopped) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = null;
      void this.poll();
    }, delaySeconds * 1000);
  }

  private async poll(): Promise<void> {
    if (this.stopped) return;
    // A request still waiting for its reply is abandoned: its socket closes.
    this.closeSocket();
    const result = this.source.poll(this.clock.now());
    switch (result.kind) {
      case "request":
        break;
      case "unreachable":
        this.end("unreachable");
        return;
      case "demobilize":
        this.log.warn("server refused service, source removed", {
          source: this.name,
          address: this.addressText,
          kiss: result.code,
        });
        this.end("demobilized");
        return;
      case "reset":
        this.end("reset");
        return;
    }
    this.schedulePoll(this.source.nextPollDelaySeconds());
    try {
      await this.sendRequest(result.request);
    } catch (error) {
      this.closeSocket();
      this.log.warn("could not send request", {
        source: this.name,
        address: this.addressText,
        error: errorText(error),
      });
      this.hooks.onSendError?.(this, error);
    }
  }

  private async sendRequest(request: Uint8Array): Promise<void> {
    const socket = this.createSocket(this.address.family, { txTimestamps: true });
    this.socket = socket;
    this.timestamps = effectiveTimestampMode(socket);
    // The pre-send T1 once send() has returned; null until then.
    let preSend: Timespec | null = null;
    let kernelT1: Timespec | null = null;
    socket.onTxTimestamp((sec, nsec, id) => {
      // One request per socket: send index 0. After a reply the socket is closed.
      if (id !== 0 || this.socket !== socket || kernelT1 !== null) return;
      kernelT1 = { sec, nsec };
      if (preSend !== null) this.useKernelT1(preSend, kernelT1);
    });
    socket.onMessage((data, length, address, port, rxSec, rxNsec) => {
      // connect() filters peers in the kernel; the check also covers the fallback.
      if (port !== this.port || !sameAddress(address, this.address.address)) return;
      this.handleReply(data, length, NtpTimestamp.fromUnix(rxSec, rxNsec));
    });
    socket.onError((error) => {
      this.log.debug("socket error", { source: this.name, error: error.message });
    });
    await socket.bind(this.address.family === 6 ? "::" : "0.0.0.0", 0);
    await socket.connect(this.address.address, this.port);
    if (this.stopped || this.socket !== socket) {
      socket.close();
      return;
    }
    const t1 = socket.send(request, request.length, this.t1);
    preSend = { sec: t1.sec, nsec: t1.nsec };
    this.source.sent(NtpTimestamp.fromUnix(t1.sec, t1.nsec));
    if (kernelT1 !== null) this.useKernelT1(preSend, kernelT1);
    this.windowTimer = setTimeout(() => this.closeSocket(), POLL_WINDOW_SECONDS * 1000);
  }

  /** Replaces the pre-send T1 with the kernel's TX timestamp when it is plausible. */
  private useKernelT1(preSend: Timespec, kernel: Timespec): void {
    const lag = kernel.sec - preSend.sec + (kernel.nsec - preSend.nsec) / 1e9;
    if (!(lag >= 0 && lag <= MAX_TX_STAMP_LAG_SECONDS)) {
      this.log.debug("kernel TX timestamp not used", { source: this.name, lagSeconds: lag });
      return;
    }
    this.source.sent(NtpTimestamp.fromUnix(kernel.sec, kernel.nsec));
  }

  private handleReply(data: Buffer, length: number, t4: NtpTimestamp): void {
    const event = this.source.handleResponse(data, length, t4);
    if (event.kind !== "ignored") this.closeSocket();
    if (event.kind === "kiss" && event.action === "reduce-rate") {
      this.schedulePoll(this.source.nextPollDelaySeconds());
    }
    this.hooks.onEvent(this, event);
  }

  private closeSocket(): void {
    if (this.windowTimer) clearTimeout(this.windowTimer);
    this.windowTimer = null;
    this.socket?.close();
    this.socket = null;
  }

  private end(reason: SourceEnd): void {
    this.stop();
    this.hooks.onEnd(this, reason);
  }
}

function sameAddress(reported: string, expected: string): boolean {
  return reported === expected || reported === `::ffff:${expected}`;
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
