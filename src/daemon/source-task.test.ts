// SourceTask's T1 handling with a fake socket and a fake source: the pre-send clock
// reading is reported at once, a kernel TX timestamp of the request replaces it.

import assert from "node:assert/strict";
import { afterEach, describe, it } from "node:test";
import type { NtpSource, SourceEvent } from "../proto/source/source.js";
import { NtpTimestamp } from "../proto/time.js";
import { LogOutput, Logger, MemorySink } from "./log.js";
import type { Timespec } from "./native/clock.js";
import type {
  MessageHandler,
  TimestampedUdpSocket,
  TxTimestampHandler,
  UdpSocketOptions,
} from "./native/udp.js";
import { SourceTask } from "./source-task.js";

const SERVER = "192.0.2.7";
const PRE_SEND: Timespec = { sec: 1_800_000_000, nsec: 999_999_000 };
/** 1.5 µs after PRE_SEND (crossing a second). */
const KERNEL: Timespec = { sec: 1_800_000_001, nsec: 500 };

class FakeSocket {
  readonly implementation = "addon";
  readonly kernelTimestamps = true;
  txHandler: TxTimestampHandler | null = null;
  messageHandler: MessageHandler | null = null;
  closed = false;
  sends = 0;
  /** Called inside send(), before it returns (a synchronous TX stamp, for the test). */
  duringSend: (() => void) | null = null;

  constructor(
    readonly family: 4 | 6,
    readonly options: UdpSocketOptions | undefined,
  ) {}

  get txTimestamps(): boolean {
    return this.options?.txTimestamps === true;
  }
  bind(): Promise<void> {
    return Promise.resolve();
  }
  connect(): Promise<void> {
    return Promise.resolve();
  }
  send(_data: Uint8Array, _length?: number, t1?: Timespec): Timespec {
    this.sends++;
    this.duringSend?.();
    const out = t1 ?? { sec: 0, nsec: 0 };
    out.sec = PRE_SEND.sec;
    out.nsec = PRE_SEND.nsec;
    return out;
  }
  onMessage(handler: MessageHandler | null): void {
    this.messageHandler = handler;
  }
  onError(): void {}
  onTxTimestamp(handler: TxTimestampHandler | null): void {
    this.txHandler = handler;
  }
  close(): void {
    this.closed = true;
    this.txHandler = null;
    this.messageHandler = null;
  }
  /** What the addon does: no handler call after close(). */
  tx(t: Timespec, id = 0): void {
    if (!this.closed) this.txHandler?.(t.sec, t.nsec, id);
  }
  reply(): void {
    if (!this.closed) this.messageHandler?.(Buffer.alloc(48), 48, SERVER, 123, PRE_SEND.sec, 0);
  }
}

function fakeSource() {
  const sent: NtpTimestamp[] = [];
  let responses = 0;
  const source = {
    poll: () => ({ kind: "request", request: new Uint8Array(48), poll: 4 }),
    nextPollDelaySeconds: () => 3600,
    sent: (t1: NtpTimestamp) => void sent.push(t1),
    handleResponse: (): SourceEvent => {
      responses++;
      return { kind: "ignored" } as unknown as SourceEvent;
    },
  };
  return { source: source as unknown as NtpSource, sent, responses: () => responses };
}

const ts = (t: Timespec) => NtpTimestamp.fromUnix(t.sec, t.nsec);

describe("SourceTask T1", () => {
  const tasks: SourceTask[] = [];
  afterEach(() => {
    for (const t of tasks.splice(0)) t.stop();
  });

  async function started(setup?: (s: FakeSocket) => void) {
    const { source, sent, responses } = fakeSource();
    const sockets: FakeSocket[] = [];
    const sink = new MemorySink();
    const task = new SourceTask({
      name: "test",
      address: { address: SERVER, family: 4 },
      port: 123,
      source,
      clock: { now: () => NtpTimestamp.fromUnix(PRE_SEND.sec - 1, 0) },
      log: new Logger(new LogOutput("debug", sink, false), "test"),
      hooks: { onEvent: () => {}, onEnd: () => {} },
      createSocket: (family, options) => {
        const s = new FakeSocket(family, options);
        setup?.(s);
        sockets.push(s);
        return s as unknown as TimestampedUdpSocket;
      },
    });
    tasks.push(task);
    task.start();
    const deadline = Date.now() + 2000;
    while (!(sockets[0]?.sends === 1)) {
      if (Date.now() > deadline) throw new Error("no request sent");
      await new Promise((r) => setTimeout(r, 1));
    }
    return { socket: sockets[0], sent, responses, sink };
  }

  it("asks for TX timestamps and reports the pre-send reading at once", async () => {
    const { socket, sent } = await started();
    assert.equal(socket.options?.txTimestamps, true);
    assert.equal(sent.length, 1);
    assert.ok(sent[0]!.equals(ts(PRE_SEND)));
  });

  it("replaces T1 with the kernel TX timestamp when it arrives before the reply", async () => {
    const { socket, sent, responses } = await started();
    socket.tx(KERNEL);
    assert.equal(sent.length, 2);
    assert.ok(sent[1]!.equals(ts(KERNEL)));
    socket.reply();
    assert.equal(responses(), 1);
    socket.tx(KERNEL); // a duplicate is not reported again
    assert.equal(sent.length, 2);
  });

  it("uses a kernel TX timestamp delivered before send() returned", async () => {
    const { sent } = await started((s) => {
      s.duringSend = () => s.tx(KERNEL);
    });
    assert.equal(sent.length, 2);
    assert.ok(sent[0]!.equals(ts(PRE_SEND)));
    assert.ok(sent.at(-1)!.equals(ts(KERNEL)));
  });

  it("ignores stamps of other sends and implausible ones", async () => {
    const a = await started();
    a.socket.tx(KERNEL, 1);
    assert.equal(a.sent.length, 1);
    const b = await started();
    b.socket.tx({ sec: PRE_SEND.sec, nsec: PRE_SEND.nsec - 1 }); // before the pre-send read
    assert.equal(b.sent.length, 1);
    assert.ok(b.sink.lines.some((l) => l.includes("kernel TX timestamp not used")));
    const c = await started();
    c.socket.tx({ sec: PRE_SEND.sec + 2, nsec: 0 }); // a clock step in between
    assert.equal(c.sent.length, 1);
  });

  it("keeps the pre-send reading when no TX timestamp comes (dgram fallback)", async () => {
    const { socket, sent, responses } = await started();
    socket.reply();
    assert.equal(responses(), 1);
    assert.equal(sent.length, 1);
    assert.ok(sent[0]!.equals(ts(PRE_SEND)));
  });
});
