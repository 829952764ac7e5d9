// The TimestampedUdpSocket contract (see udp.ts), as node:test cases, run by
// udp.test.ts against every implementation. Not built into dist/ (tsconfig.build.json
// leaves *.contract.ts out, as it does *.test.ts). Loopback only (127.0.0.1, ::1 and the
// v4-mapped ::ffff:127.0.0.1); every socket is bound to loopback before it sends, every
// wait is bounded, and every socket is closed after each test.

import assert from "node:assert/strict";
import { networkInterfaces } from "node:os";
import { afterEach, describe, it } from "node:test";
import { readRealtime, timespecToNs, type Timespec } from "./clock.js";
import {
  isSendError,
  type TimestampedUdpSocket,
  type UdpError,
  type UdpFamily,
  type UdpSocketOptions,
} from "./udp.js";

export type UdpSocketFactory = (
  family: UdpFamily,
  options?: UdpSocketOptions,
) => TimestampedUdpSocket;

export interface ContractOptions {
  /** Skip the whole suite with this reason (e.g. the addon is not built). */
  skip?: string | false;
  /** What `kernelTimestamps` must say. */
  kernelTimestamps: boolean;
  /** What `txTimestamps` must say on a socket created with { txTimestamps: true }. */
  txTimestamps: boolean;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `condition()` holds; fails after `timeoutMs`. */
export async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await sleep(2);
  }
}

export function hasIPv6Loopback(): boolean {
  return Object.values(networkInterfaces()).some((list) =>
    (list ?? []).some((a) => a.address === "::1"),
  );
}

interface Received {
  bytes: Buffer;
  capacity: number;
  address: string;
  port: number;
  rx: Timespec;
  handlerTime: Timespec;
}

const LOOPBACK: Record<UdpFamily, string> = { 4: "127.0.0.1", 6: "::1" };

export function udpContract(name: string, factory: UdpSocketFactory, opts: ContractOptions): void {
  const v6 = hasIPv6Loopback() ? false : "no ::1 on this host";
  const open: TimestampedUdpSocket[] = [];

  const make = (family: UdpFamily, options?: UdpSocketOptions): TimestampedUdpSocket => {
    const s = factory(family, options);
    open.push(s);
    return s;
  };

  const bound = async (family: UdpFamily, options?: UdpSocketOptions) => {
    const s = make(family, options);
    await s.bind(LOOPBACK[family], 0);
    return s;
  };

  const collect = (s: TimestampedUdpSocket): Received[] => {
    const got: Received[] = [];
    s.onMessage((data, length, address, port, rxSec, rxNsec) => {
      const handlerTime = readRealtime();
      got.push({
        bytes: Buffer.from(data.subarray(0, length)),
        capacity: data.length,
        address,
        port,
        rx: { sec: rxSec, nsec: rxNsec },
        handlerTime,
      });
    });
    return got;
  };

  const assertCode = async (p: Promise<unknown>, code: string) => {
    await assert.rejects(p, (e: UdpError) => e.code === code);
  };

  const reply = new Uint8Array(64);
  const cases: [string, () => Promise<void>, { skip?: string | false }?][] = [
    [
      "reports its implementation and timestamp kind",
      async () => {
        const s = make(4);
        assert.equal(s.kernelTimestamps, opts.kernelTimestamps);
        assert.equal(s.family, 4);
        await Promise.resolve();
      },
    ],
    ...([4, 6] as const).map((family): [string, () => Promise<void>, { skip?: string | false }] => [
      `IPv${family}: txTimestamps: pre-send T1 <= kernel TX time <= receive time, or none`,
      async () => {
        const rx = await bound(family);
        const got = collect(rx);
        const tx = make(family, { txTimestamps: true });
        await tx.bind(LOOPBACK[family], 0);
        assert.equal(tx.txTimestamps, opts.txTimestamps);
        await tx.connect(LOOPBACK[family], rx.localAddress().port);
        const stamps: { t: Timespec; id: number }[] = [];
        tx.onTxTimestamp((sec, nsec, id) => stamps.push({ t: { sec, nsec }, id }));
        // The client also receives on a txTimestamps socket: kernel receive times still.
        const replies = collect(tx);
        const t1 = tx.send(Buffer.from("request"));
        await waitFor(() => got.length === 1);
        rx.sendTo(Buffer.from("reply"), 5, LOOPBACK[family], tx.localAddress().port);
        await waitFor(() => replies.length === 1);
        if (opts.txTimestamps) await waitFor(() => stamps.length === 1);
        else await sleep(20);
        const m = got[0]!;
        const r = replies[0]!;
        assert.ok(timespecToNs(r.rx) >= timespecToNs(m.rx));
        assert.ok(timespecToNs(r.rx) <= timespecToNs(r.handlerTime));
        if (!opts.txTimestamps) {
          assert.equal(stamps.length, 0);
          return;
        }
        assert.equal(stamps.length, 1);
        const s = stamps[0]!;
        assert.equal(s.id, 0);
        assert.ok(Number.isInteger(s.t.sec) && Number.isInteger(s.t.nsec));
        assert.ok(s.t.nsec >= 0 && s.t.nsec < 1e9);
        const t1ns = timespecToNs(t1);
        const kns = timespecToNs(s.t);
        const rxns = timespecToNs(m.rx);
        assert.ok(t1ns <= kns, `pre-send T1 ${t1ns} after kernel TX time ${kns}`);
        assert.ok(kns <= rxns, `kernel TX time ${kns} after receive time ${rxns}`);
        // A second send is the second id.
        tx.send(Buffer.from("again"));
        await waitFor(() => stamps.length === 2);
        assert.equal(stamps[1]!.id, 1);
        const wakeups = (tx as { pollErrorWakeups?: number }).pollErrorWakeups;
        if (wakeups !== undefined) assert.ok(wakeups >= 2, `only ${wakeups} error-queue wakeups`);
      },
      { skip: family === 6 ? v6 : false },
    ]),
    [
      "a server-style socket (no txTimestamps) never reports TX timestamps",
      async () => {
        const server = await bound(4);
        assert.equal(server.txTimestamps, false);
        let stamps = 0;
        server.onTxTimestamp(() => stamps++);
        server.onRequest((data, length) => {
          reply.set(data.subarray(0, length));
          return length;
        }, reply);
        const client = await bound(4);
        await client.connect("127.0.0.1", server.localAddress().port);
        const answers = collect(client);
        for (let i = 0; i < 5; i++) client.send(Buffer.from(`q${i}`));
        await waitFor(() => answers.length === 5);
        await sleep(20);
        assert.equal(stamps, 0);
        const wakeups = (server as { pollErrorWakeups?: number }).pollErrorWakeups;
        if (wakeups !== undefined) assert.equal(wakeups, 0, "error-queue wakeups on a server");
      },
    ],
    ...([4, 6] as const).map((family): [string, () => Promise<void>, { skip?: string | false }] => [
      `IPv${family}: binds to loopback and reports the local address`,
      async () => {
        const s = await bound(family);
        const a = s.localAddress();
        assert.equal(a.address, LOOPBACK[family]);
        assert.equal(a.family, family);
        assert.ok(a.port > 0 && a.port < 65536);
      },
      { skip: family === 6 ? v6 : false },
    ]),
    ...([4, 6] as const).map((family): [string, () => Promise<void>, { skip?: string | false }] => [
      `IPv${family}: connected send; T1 <= receive time <= handler time`,
      async () => {
        const rx = await bound(family);
        const got = collect(rx);
        const tx = await bound(family);
        await tx.connect(LOOPBACK[family], rx.localAddress().port);
        const payload = Buffer.from("ntpd-ts contract datagram");
        const sentAfterMs = Date.now();
        const t1 = tx.send(payload);
        await waitFor(() => got.length === 1);
        const seenBeforeMs = Date.now();
        const m = got[0]!;
        assert.deepEqual(m.bytes, payload);
        assert.ok(m.capacity >= payload.length);
        assert.equal(m.address, LOOPBACK[family]);
        assert.equal(m.port, tx.localAddress().port);
        assert.ok(Number.isInteger(m.rx.sec) && Number.isInteger(m.rx.nsec));
        assert.ok(m.rx.nsec >= 0 && m.rx.nsec < 1e9);
        const t1ns = timespecToNs(t1);
        const rxns = timespecToNs(m.rx);
        assert.ok(t1ns <= rxns, `T1 ${t1ns} after receive time ${rxns}`);
        assert.ok(rxns <= timespecToNs(m.handlerTime), "receive time after handler time");
        // The receive time is on Date.now()'s clock (realtime, Unix epoch): it
        // lies between the two reads around the exchange (whole ms, hence ±1),
        // however long a loaded machine took in between.
        const rxMs = Number(rxns / 1_000_000n);
        assert.ok(sentAfterMs - 1 <= rxMs && rxMs <= seenBeforeMs + 1, `receive time ${rxMs} ms`);
      },
      { skip: family === 6 ? v6 : false },
    ]),
    [
      "send returns T1 from the realtime clock and fills the object it is given",
      async () => {
        const rx = await bound(4);
        const tx = await bound(4);
        await tx.connect("127.0.0.1", rx.localAddress().port);
        const beforeMs = Date.now();
        const before = timespecToNs(readRealtime());
        const out: Timespec = { sec: 0, nsec: 0 };
        const t1 = tx.send(new Uint8Array([1, 2, 3]), 2, out);
        const after = timespecToNs(readRealtime());
        const afterMs = Date.now();
        assert.equal(t1, out);
        assert.ok(before <= timespecToNs(t1) && timespecToNs(t1) <= after);
        // On Date.now()'s clock too (whole ms, hence ±1), with no time bound.
        const t1Ms = t1.sec * 1000 + t1.nsec / 1e6;
        assert.ok(beforeMs - 1 <= t1Ms && t1Ms <= afterMs + 1, `T1 ${t1Ms} ms`);
      },
    ],
    [
      "sendTo + echo to the reported address; the caller may reuse its buffer at once",
      async () => {
        const server = await bound(4);
        server.onMessage((data, length, address, port) => {
          server.sendTo(data, length, address, port); // echo straight from the slot buffer
        });
        const client = await bound(4);
        const got = collect(client);
        const buf = Buffer.from("echo-1");
        client.sendTo(buf, buf.length, "127.0.0.1", server.localAddress().port);
        buf.write("XXXX-2"); // reuse immediately
        client.sendTo(buf, 4, "127.0.0.1", server.localAddress().port);
        await waitFor(() => got.length === 2);
        assert.deepEqual(
          got.map((m) => m.bytes.toString()),
          ["echo-1", "XXXX"],
        );
        assert.equal(got[0]!.port, server.localAddress().port);
      },
    ],
    ...([4, 6] as const).map((family): [string, () => Promise<void>, { skip?: string | false }] => [
      `IPv${family}: reply mode answers the source with what the handler returns; 0 is no reply`,
      async () => {
        const server = await bound(family);
        const reply = new Uint8Array(64);
        const seen: { address: string; port: number }[] = [];
        server.onRequest((data, length, address, port) => {
          seen.push({ address, port });
          const text = data.subarray(0, length).toString();
          if (text === "quiet") return 0;
          reply.set(Buffer.from(`re:${text}`));
          return 3 + length;
        }, reply);
        const client = await bound(family);
        const got = collect(client);
        await client.connect(LOOPBACK[family], server.localAddress().port);
        client.send(Buffer.from("one"));
        await waitFor(() => got.length === 1);
        client.send(Buffer.from("quiet"));
        client.send(Buffer.from("two"));
        await waitFor(() => got.length === 2);
        await sleep(20);
        assert.deepEqual(
          got.map((m) => m.bytes.toString()),
          ["re:one", "re:two"],
        );
        assert.equal(got[0]!.port, server.localAddress().port);
        assert.deepEqual(seen[0], { address: LOOPBACK[family], port: client.localAddress().port });
        assert.equal(seen.length, 3);
      },
      { skip: family === 6 ? v6 : false },
    ]),
    [
      "reply mode answers a burst in full and in order, each reply from the reused buffer",
      async () => {
        const server = await bound(4, {
          batchSize: 8,
          sendBatchSize: 3,
          receiveBufferSize: 1 << 20,
        });
        const reply = new Uint8Array(32);
        server.onRequest((data, length) => {
          reply.set(data.subarray(0, length));
          reply[length] = 0x21; // "!"
          return length + 1;
        }, reply);
        const client = await bound(4, { receiveBufferSize: 1 << 20 });
        const got = collect(client);
        await client.connect("127.0.0.1", server.localAddress().port);
        const n = 100;
        for (let i = 0; i < n; i++) client.send(Buffer.from(`request ${i}`));
        await waitFor(() => got.length === n);
        got.forEach((m, i) => assert.equal(m.bytes.toString(), `request ${i}!`));
      },
    ],
    [
      "onRequest and onMessage replace each other",
      async () => {
        const server = await bound(4);
        const messages = collect(server);
        server.onRequest(() => 1, new Uint8Array([0x42]));
        const client = await bound(4);
        const got = collect(client);
        await client.connect("127.0.0.1", server.localAddress().port);
        client.send(Buffer.from("to the request handler"));
        await waitFor(() => got.length === 1);
        assert.equal(messages.length, 0);
        const again = collect(server); // onMessage again: no more replies
        client.send(Buffer.from("to the message handler"));
        await waitFor(() => again.length === 1);
        await sleep(20);
        assert.equal(got.length, 1);
        assert.throws(() => server.onRequest(() => 0, [1, 2] as unknown as Uint8Array), {
          code: "ERR_INVALID_ARG_TYPE",
        });
      },
    ],
    [
      "a reply that cannot be sent goes to onError as a send error; the others still go",
      async () => {
        // Slots as large as a datagram can be, and a reply longer than any UDP payload
        // (65507 bytes): the kernel refuses it with EMSGSIZE.
        const server = await bound(4, { maxDatagramSize: 65535 });
        const errors: UdpError[] = [];
        server.onError((e) => errors.push(e));
        const reply = new Uint8Array(65535);
        server.onRequest((data, length) => {
          reply.set(data.subarray(0, length));
          return data[0] === 0x62 /* "b" */ ? 65520 : length;
        }, reply);
        const client = await bound(4);
        const got = collect(client);
        await client.connect("127.0.0.1", server.localAddress().port);
        client.send(Buffer.from("a"));
        client.send(Buffer.from("big"));
        client.send(Buffer.from("c"));
        await waitFor(() => got.length === 2 && errors.length === 1);
        assert.deepEqual(
          got.map((m) => m.bytes.toString()),
          ["a", "c"],
        );
        assert.equal(errors[0]!.code, "EMSGSIZE");
        assert.ok(isSendError(errors[0]!), `not a send error: syscall ${errors[0]!.syscall}`);
        assert.equal(errors[0]!.port, client.localAddress().port);
        await sleep(20);
        assert.equal(errors.length, 1);
      },
    ],
    [
      "a family-6 socket reaches IPv4 peers and reports them v4-mapped",
      async () => {
        const rx6 = make(6);
        await rx6.bind("::ffff:127.0.0.1", 0);
        assert.equal(rx6.localAddress().family, 6);
        const got6 = collect(rx6);
        const tx4 = await bound(4);
        const got4 = collect(tx4);
        tx4.sendTo(Buffer.from("v4 to v6"), 8, "127.0.0.1", rx6.localAddress().port);
        await waitFor(() => got6.length === 1);
        assert.equal(got6[0]!.address, "::ffff:127.0.0.1");
        assert.equal(got6[0]!.port, tx4.localAddress().port);
        // Reply with a plain IPv4 literal: the family-6 socket maps it.
        rx6.sendTo(Buffer.from("back"), 4, "127.0.0.1", tx4.localAddress().port);
        await waitFor(() => got4.length === 1);
        assert.equal(got4[0]!.bytes.toString(), "back");
        assert.equal(got4[0]!.address, "127.0.0.1");
      },
    ],
    [
      "drains a burst in order with non-decreasing receive times (copy what you keep)",
      async () => {
        const rx = await bound(4, { batchSize: 4, receiveBufferSize: 1 << 20 });
        const got = collect(rx);
        const tx = await bound(4);
        await tx.connect("127.0.0.1", rx.localAddress().port);
        const n = 100;
        for (let i = 0; i < n; i++) tx.send(Buffer.from(`packet ${i}`));
        await waitFor(() => got.length === n);
        got.forEach((m, i) => assert.equal(m.bytes.toString(), `packet ${i}`));
        for (let i = 1; i < n; i++) {
          assert.ok(timespecToNs(got[i - 1]!.rx) <= timespecToNs(got[i]!.rx));
        }
      },
    ],
    [
      "close() inside the handler stops callbacks; close() is idempotent",
      async () => {
        const rx = await bound(4);
        let calls = 0;
        rx.onMessage(() => {
          calls++;
          rx.close();
          rx.close();
        });
        const tx = await bound(4);
        await tx.connect("127.0.0.1", rx.localAddress().port);
        for (let i = 0; i < 5; i++) tx.send(Buffer.from([i]));
        await waitFor(() => calls > 0);
        await sleep(100);
        assert.equal(calls, 1);
        rx.close();
        assert.throws(() => rx.sendTo(Buffer.from([1]), 1, "127.0.0.1", 9), {
          code: "ERR_SOCKET_CLOSED",
        });
        assert.throws(() => rx.localAddress(), { code: "ERR_SOCKET_CLOSED" });
        await assertCode(rx.bind("127.0.0.1", 0), "ERR_SOCKET_CLOSED");
      },
    ],
    [
      "close() from outside stops callbacks",
      async () => {
        const rx = await bound(4);
        const got = collect(rx);
        const tx = await bound(4);
        const port = rx.localAddress().port;
        tx.sendTo(Buffer.from("one"), 3, "127.0.0.1", port);
        await waitFor(() => got.length === 1);
        rx.close();
        tx.sendTo(Buffer.from("two"), 3, "127.0.0.1", port);
        await sleep(50);
        assert.equal(got.length, 1);
      },
    ],
    [
      "onMessage(null) drops datagrams until a handler is set again",
      async () => {
        const rx = await bound(4);
        rx.onMessage(null);
        const tx = await bound(4);
        await tx.connect("127.0.0.1", rx.localAddress().port);
        tx.send(Buffer.from("dropped"));
        await sleep(50);
        const got = collect(rx);
        tx.send(Buffer.from("kept"));
        await waitFor(() => got.length === 1);
        await sleep(20);
        assert.deepEqual(
          got.map((m) => m.bytes.toString()),
          ["kept"],
        );
      },
    ],
    [
      "bind/connect reject with Node-style codes",
      async () => {
        const a = await bound(4);
        const b = make(4);
        await assert.rejects(b.bind("127.0.0.1", a.localAddress().port), (e: UdpError) => {
          assert.equal(e.code, "EADDRINUSE");
          assert.equal(e.syscall, "bind");
          assert.equal(typeof e.errno, "number");
          return true;
        });
        await assertCode(make(4).bind("localhost", 0), "ERR_INVALID_ARG_VALUE");
        await assertCode(make(4).bind("::1", 0), "ERR_INVALID_ARG_VALUE");
        await assertCode(make(4).bind("127.0.0.1", 70000), "ERR_SOCKET_BAD_PORT");
        await assertCode(make(6).connect("no.such.literal", 123), "ERR_INVALID_ARG_VALUE");
      },
    ],
    [
      "invalid send arguments throw synchronously",
      async () => {
        const s = await bound(4);
        const data = Buffer.from("abc");
        assert.throws(() => s.sendTo(data, 4, "127.0.0.1", 9), { code: "ERR_OUT_OF_RANGE" });
        assert.throws(() => s.sendTo(data, 1, "example.org", 9), {
          code: "ERR_INVALID_ARG_VALUE",
        });
        assert.throws(() => s.sendTo(data, 1, "127.0.0.1", -1), { code: "ERR_SOCKET_BAD_PORT" });
        assert.throws(() => s.send(data), { code: "EDESTADDRREQ" });
      },
    ],
    [
      "a connected send to a closed port reports ECONNREFUSED",
      async () => {
        const gone = await bound(4);
        const port = gone.localAddress().port;
        gone.close();
        const tx = await bound(4);
        const errors: UdpError[] = [];
        tx.onError((e) => errors.push(e));
        await tx.connect("127.0.0.1", port);
        const deadline = Date.now() + 2000;
        while (errors.length === 0 && Date.now() < deadline) {
          try {
            tx.send(Buffer.from("anyone?"));
          } catch (e) {
            errors.push(e as UdpError); // the addon may report it on the next send
          }
          await sleep(10);
        }
        assert.ok(errors.length > 0, "no error reported");
        assert.equal(errors[0]!.code, "ECONNREFUSED");
        // The socket still works: the peer comes back and its datagram arrives.
        const got = collect(tx);
        const back = make(4);
        await back.bind("127.0.0.1", port);
        back.sendTo(Buffer.from("back"), 4, "127.0.0.1", tx.localAddress().port);
        await waitFor(() => got.length === 1);
        assert.equal(got[0]!.bytes.toString(), "back");
      },
    ],
    [
      "setReceiveBufferSize works before and after bind",
      async () => {
        const s = make(4, { receiveBufferSize: 1 << 16 });
        s.setReceiveBufferSize(1 << 17);
        await s.bind("127.0.0.1", 0);
        s.setReceiveBufferSize(1 << 18);
        assert.throws(() => s.setReceiveBufferSize(-1), { code: "ERR_OUT_OF_RANGE" });
      },
    ],
  ];

  void describe(name, { skip: opts.skip ?? false }, () => {
    afterEach(() => {
      for (const s of open.splice(0)) s.close();
    });
    for (const [title, fn, caseOpts] of cases) {
      void it(title, { skip: caseOpts?.skip ?? false, timeout: 10_000 }, fn);
    }
  });
}
