// A source socket whose times are those of a clock device (`[clock] clock`) rather than
// CLOCK_REALTIME. The kernel's software timestamps and the addon's pre-send reading
// are CLOCK_REALTIME; with a device as the steered clock, every T1 and T4 must be on
// the device's time, or the measured offset would be the system clock's. So each
// CLOCK_REALTIME time is moved by (device − CLOCK_REALTIME) measured when it is handed
// over (ClockDevice.offsetFromRealtime: a few clock reads, microseconds after the
// stamp; the two clocks drift apart by at most ~1 ns per µs, so the error is that of
// the offset measurement, well under a microsecond for a fast device).
//
// Hardware timestamps (hardwareTimestamps sockets) are already the NIC's clock's time
// and pass unchanged; only the pre-send T1 of send() is moved. ntpd-rs, for the record,
// does no such translation: with a device clock it mixes the kernel's CLOCK_REALTIME
// stamps with device reads, which only works in hardware mode.

import type { Timespec } from "../native/clock.js";
import type {
  BindOptions,
  ErrorHandler,
  LocalAddress,
  MessageHandler,
  TimestampedUdpSocket,
  TxTimestampHandler,
} from "../native/udp.js";
import { addTimespec } from "./clock-device.js";

/** Where device − CLOCK_REALTIME comes from (ClockDevice; a fake in tests). */
export interface RealtimeToDevice {
  offsetFromRealtime(): Timespec;
}

export class TranslatingUdpSocket implements TimestampedUdpSocket {
  private readonly moved: Timespec = { sec: 0, nsec: 0 };

  constructor(
    private readonly inner: TimestampedUdpSocket,
    private readonly device: RealtimeToDevice,
  ) {}

  get implementation(): TimestampedUdpSocket["implementation"] {
    return this.inner.implementation;
  }
  get family(): TimestampedUdpSocket["family"] {
    return this.inner.family;
  }
  get finishesReplies(): boolean {
    return false;
  }
  get kernelTimestamps(): boolean {
    return this.inner.kernelTimestamps;
  }
  get txTimestamps(): boolean {
    return this.inner.txTimestamps;
  }
  get hardwareTimestamps(): boolean {
    return this.inner.hardwareTimestamps === true;
  }
  get replyTxTimestamps(): boolean {
    return false;
  }
  get truncatedDatagrams(): number {
    return this.inner.truncatedDatagrams;
  }

  bind(address: string, port: number, options?: BindOptions): Promise<void> {
    return this.inner.bind(address, port, options);
  }

  connect(address: string, port: number): Promise<void> {
    return this.inner.connect(address, port);
  }

  /** T1 on the device's time (the addon's pre-send reading is CLOCK_REALTIME). */
  send(data: Uint8Array, length?: number, t1?: Timespec): Timespec {
    const realtime = this.inner.send(data, length, t1);
    return addTimespec(realtime, this.device.offsetFromRealtime(), realtime);
  }

  sendTo(data: Uint8Array, length: number, address: string, port: number): void {
    this.inner.sendTo(data, length, address, port);
  }

  onMessage(handler: MessageHandler | null): void {
    if (handler === null || this.hardwareTimestamps) {
      this.inner.onMessage(handler);
      return;
    }
    this.inner.onMessage((data, length, address, port, rxSec, rxNsec) => {
      const t = this.toDevice(rxSec, rxNsec);
      handler(data, length, address, port, t.sec, t.nsec);
    });
  }

  onRequest(): void {
    throw new Error("a translating socket is for sources only (no reply mode)");
  }

  onError(handler: ErrorHandler | null): void {
    this.inner.onError(handler);
  }

  onTxTimestamp(handler: TxTimestampHandler | null): void {
    if (handler === null || this.hardwareTimestamps) {
      this.inner.onTxTimestamp(handler);
      return;
    }
    this.inner.onTxTimestamp((sec, nsec, id) => {
      const t = this.toDevice(sec, nsec);
      handler(t.sec, t.nsec, id);
    });
  }

  localAddress(): LocalAddress {
    return this.inner.localAddress();
  }

  setReceiveBufferSize(bytes: number): void {
    this.inner.setReceiveBufferSize(bytes);
  }

  close(): void {
    this.inner.close();
  }

  private toDevice(sec: number, nsec: number): Timespec {
    this.moved.sec = sec;
    this.moved.nsec = nsec;
    return addTimespec(this.moved, this.device.offsetFromRealtime(), this.moved);
  }
}
