import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { afterEach, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { ADDON_PATH, loadAddon } from "./addon.js";
import { readRealtime, timespecToNs } from "./clock.js";
import { REPLY_FINISH_BYTES } from "./reply-finish.js";
import { createUdpSocket, type TimestampedUdpSocket, type UdpError } from "./udp.js";
import { sleep, udpContract, waitFor } from "./udp.contract.js";

const { addon, reason } = loadAddon();
const noAddon = addon ? false : `addon not loaded: ${reason}`;

udpContract(
  "TimestampedUdpSocket contract: addon",
  (f, o) => createUdpSocket(f, { ...o, implementation: "addon" }),
  {
    skip: noAddon,
    kernelTimestamps: true,
    txTimestamps: true,
  },
);

udpContract(
  "TimestampedUdpSocket contract: node:dgram fallback",
  (f, o) => createUdpSocket(f, { ...o, implementation: "dgram" }),
  {
    kernelTimestamps: false,
    txTimestamps: false,
  },
);

describe("createUdpSocket", () => {
  it("picks the addon when it is loaded, else dgram", () => {
    const s = createUdpSocket(4);
    try {
      assert.equal(s.implementation, addon ? "addon" : "dgram");
    } finally {
      s.close();
    }
  });

  it("rejects a bad family", () => {
    assert.throws(() => createUdpSocket(5 as 4), { code: "ERR_INVALID_ARG_VALUE" });
  });
});

describe("addon UDP specifics", { skip: noAddon }, () => {
  const open: TimestampedUdpSocket[] = [];
  const make = (options = {}) => {
    const s = createUdpSocket(4, { ...options, implementation: "addon" });
    open.push(s);
    return s;
  };
  afterEach(() => {
    for (const s of open.splice(0)) s.close();
  });

  it("stamps in the kernel: a blocked event loop does not delay the receive time", async () => {
    const rx = make();
    await rx.bind("127.0.0.1", 0);
    let gap = -1;
    rx.onMessage((_d, _l, _a, _p, sec, nsec) => {
      gap = Number(timespecToNs(readRealtime()) - timespecToNs({ sec, nsec }));
    });
    const tx = make();
    await tx.bind("127.0.0.1", 0);
    await tx.connect("127.0.0.1", rx.localAddress().port);
    tx.send(Buffer.from("x"));
    const until = Date.now() + 30;
    while (Date.now() < until) {
      // block the loop for 30 ms after the datagram arrived
    }
    await waitFor(() => gap >= 0);
    assert.ok(gap >= 20e6, `receive time only ${gap} ns before the handler`);
  });

  it("hands out reused slot Buffers of maxDatagramSize and drops longer datagrams", async () => {
    const rx = make({ maxDatagramSize: 64, batchSize: 2 });
    await rx.bind("127.0.0.1", 0);
    const seen: { data: Buffer; text: string }[] = [];
    rx.onMessage((data, length) => {
      seen.push({ data, text: data.subarray(0, length).toString() });
    });
    const tx = make();
    await tx.bind("127.0.0.1", 0);
    await tx.connect("127.0.0.1", rx.localAddress().port);
    tx.send(Buffer.from("a"));
    await waitFor(() => seen.length === 1);
    tx.send(Buffer.from("b"));
    await waitFor(() => seen.length === 2);
    tx.send(Buffer.alloc(65, 0x41)); // one byte too long: dropped
    tx.send(Buffer.from("c"));
    await waitFor(() => seen.length === 3);
    await sleep(20);
    assert.deepEqual(
      seen.map((s) => s.text),
      ["a", "b", "c"],
    );
    assert.equal(seen[0]!.data.length, 64);
    // "a" and "b" both landed in slot 0 on separate wakeups: the same Buffer, which
    // by now holds the truncated 65-byte datagram that was dropped.
    assert.equal(seen[0]!.data, seen[1]!.data);
    assert.equal(seen[0]!.data[0], 0x41);
  });

  it("rejects bad options", () => {
    assert.throws(() => make({ batchSize: 0 }), { code: "ERR_OUT_OF_RANGE" });
    assert.throws(() => make({ maxDatagramSize: 1 << 20 }), { code: "ERR_OUT_OF_RANGE" });
    assert.throws(() => make({ sendBatchSize: 0 }), { code: "ERR_OUT_OF_RANGE" });
    assert.throws(() => make({ sendBatchSize: 1025 }), { code: "ERR_OUT_OF_RANGE" });
  });

  it("the addon checks every argument, with a Node-style code", () => {
    const a = addon!;
    const code = (c: string) => ({ code: c });
    assert.throws(() => new a.UdpSocket(4, "x" as never), code("ERR_INVALID_ARG_TYPE"));
    assert.throws(
      () => new a.UdpSocket(4, { txTimestamps: 1 as never }),
      code("ERR_INVALID_ARG_TYPE"),
    );
    // A number argument that is no number at all is out of range, as on node:dgram.
    assert.throws(() => new a.UdpSocket(4, { batchSize: "8" as never }), code("ERR_OUT_OF_RANGE"));
    const s = new a.UdpSocket(4);
    try {
      s.bind("127.0.0.1", 0);
      const data = Buffer.from("x");
      assert.throws(
        () => s.sendTo(data, 1, "127.0.0.1", "9" as never),
        code("ERR_SOCKET_BAD_PORT"),
      );
      assert.throws(() => s.sendTo(data, 1, 9 as never, 9), code("ERR_INVALID_ARG_TYPE"));
      assert.throws(() => s.sendTo(data, 1.5, "127.0.0.1", 9), code("ERR_OUT_OF_RANGE"));
      assert.throws(() => s.sendTo("x" as never, 1, "127.0.0.1", 9), code("ERR_INVALID_ARG_TYPE"));
      assert.throws(() => s.send(data, 1, new Float64Array(1)), code("ERR_INVALID_ARG_TYPE"));
      const reply = new Uint8Array(48);
      const finish = new Uint8Array(REPLY_FINISH_BYTES);
      const handler = () => 0;
      assert.throws(
        () => s.setOnMessage(handler, new Uint16Array(24) as never),
        code("ERR_INVALID_ARG_TYPE"),
      );
      assert.throws(() => s.setOnMessage(handler, undefined, finish), code("ERR_INVALID_ARG_TYPE"));
      assert.throws(
        () => s.setOnMessage(handler, reply, finish.subarray(1)),
        code("ERR_INVALID_ARG_TYPE"),
      );
      s.setOnMessage(handler, reply, finish);
      assert.throws(() => s.setOnMessage(5 as never), code("ERR_INVALID_ARG_TYPE"));
      assert.throws(() => s.setOnError(5 as never), code("ERR_INVALID_ARG_TYPE"));
      assert.throws(() => s.setOnTxTimestamp(5 as never), code("ERR_INVALID_ARG_TYPE"));
      assert.throws(() => s.setReceiveBufferSize(1.5), code("ERR_OUT_OF_RANGE"));
    } finally {
      s.close();
    }
    assert.throws(() => a.tcpListen(4, "127.0.0.1", 0, 0), code("ERR_OUT_OF_RANGE"));
    assert.throws(() => a.tcpListen(4, 1 as never, 0, 16), code("ERR_INVALID_ARG_TYPE"));
    assert.throws(() => a.tcpListen(4, "127.0.0.1", 65536, 16), code("ERR_SOCKET_BAD_PORT"));
  });

  /** A client connected to `server`, collecting what it receives as text. */
  const clientOf = async (server: TimestampedUdpSocket) => {
    const client = make();
    await client.bind("127.0.0.1", 0);
    const got: string[] = [];
    client.onMessage((d, l) => {
      got.push(d.subarray(0, l).toString());
    });
    await client.connect("127.0.0.1", server.localAddress().port);
    return { client, got };
  };

  it("reply mode: queued replies fail with syscall sendmmsg, longer than a slot with sendto", async () => {
    const server = make({ maxDatagramSize: 65535, sendBatchSize: 4 });
    await server.bind("127.0.0.1", 0);
    const errors: UdpError[] = [];
    server.onError((e) => errors.push(e));
    const reply = new Uint8Array(65535);
    server.onRequest((data, length) => {
      reply.set(data.subarray(0, length));
      return data[0] === 0x62 /* "b" */ ? 65520 : length;
    }, reply);
    const { client, got } = await clientOf(server);
    for (const text of ["a", "b1", "c", "b2", "d"]) client.send(Buffer.from(text));
    await waitFor(() => got.length === 3 && errors.length === 2);
    assert.deepEqual(got, ["a", "c", "d"]);
    assert.deepEqual(
      errors.map((e) => [e.code, e.syscall, e.address, e.port]),
      [
        ["EMSGSIZE", "sendmmsg", "127.0.0.1", client.localAddress().port],
        ["EMSGSIZE", "sendmmsg", "127.0.0.1", client.localAddress().port],
      ],
    );

    // Slots of 64 bytes: a longer reply is sent at once (sendto), and fails as such.
    const small = make({ maxDatagramSize: 64 });
    await small.bind("127.0.0.1", 0);
    const smallErrors: UdpError[] = [];
    small.onError((e) => smallErrors.push(e));
    small.onRequest((data) => (data[0] === 0x62 ? 65520 : 100), reply.fill(0x78));
    const other = await clientOf(small);
    other.client.send(Buffer.from("long"));
    other.client.send(Buffer.from("b"));
    await waitFor(() => other.got.length === 1 && smallErrors.length === 1);
    assert.equal(other.got[0], "x".repeat(100));
    assert.equal(smallErrors[0]!.syscall, "sendto");
  });

  it("reply mode: close() in a handler still sends the replies queued before it", async () => {
    const server = make({ batchSize: 16 });
    await server.bind("127.0.0.1", 0);
    const reply = new Uint8Array(64);
    const handled: string[] = [];
    server.onRequest((data, length) => {
      const text = data.subarray(0, length).toString();
      handled.push(text);
      reply.set(data.subarray(0, length));
      if (text === "close") server.close();
      return length;
    }, reply);
    const { client, got } = await clientOf(server);
    // Sent in one go, so they arrive in one receive batch.
    for (const text of ["a", "b", "close", "after"]) client.send(Buffer.from(text));
    await waitFor(() => got.length === 2);
    await sleep(50);
    assert.deepEqual(handled, ["a", "b", "close"]);
    assert.deepEqual(got, ["a", "b"]);
  });

  it("reply mode: a bad reply length is an uncaught RangeError; later datagrams are answered", () => {
    const script = `
      const a = require(${JSON.stringify(ADDON_PATH)});
      const errors = [], got = [];
      process.on("uncaughtException", (e) => { errors.push(e.code); });
      const rx = new a.UdpSocket(4); rx.bind("127.0.0.1", 0);
      const reply = Buffer.from("pong");
      rx.setOnMessage((d, l) => {
        const t = d.subarray(0, l).toString();
        return t === "too long" ? 5 : t === "fraction" ? 1.5 : t === "text" ? "4" : 4;
      }, reply);
      const tx = new a.UdpSocket(4); tx.bind("127.0.0.1", 0);
      tx.setOnMessage((d, l) => { got.push(d.subarray(0, l).toString()); });
      tx.connect("127.0.0.1", rx.localAddress().port);
      for (const t of ["too long", "fraction", "text", "fine"]) tx.send(Buffer.from(t));
      setTimeout(() => { console.log(JSON.stringify({ errors, got })); rx.close(); tx.close(); }, 200);
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), {
      errors: ["ERR_OUT_OF_RANGE", "ERR_OUT_OF_RANGE", "ERR_OUT_OF_RANGE"],
      got: ["pong"],
    });
  });

  it("a throwing handler is an uncaught exception; later datagrams still arrive", () => {
    // In a child process, so the uncaught exception does not hit this test runner.
    const script = `
      const a = require(${JSON.stringify(ADDON_PATH)});
      let uncaught = 0, delivered = [];
      process.on("uncaughtException", (e) => { uncaught++; });
      const rx = new a.UdpSocket(4); rx.bind("127.0.0.1", 0);
      rx.setOnMessage((d, l) => {
        const t = d.subarray(0, l).toString(); delivered.push(t);
        if (t === "boom") throw new Error("handler bug");
      });
      const tx = new a.UdpSocket(4); tx.bind("127.0.0.1", 0);
      tx.connect("127.0.0.1", rx.localAddress().port);
      tx.send(Buffer.from("boom")); tx.send(Buffer.from("after"));
      const t = setTimeout(() => { console.log(JSON.stringify({ uncaught, delivered })); rx.close(); tx.close(); }, 200);
    `;
    const r = spawnSync(process.execPath, ["-e", script], { encoding: "utf8", timeout: 10_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { uncaught: 1, delivered: ["boom", "after"] });
  });

  it("reply mode: the replies of a short receive batch leave alone, those of a full batch share sendmmsg calls", async () => {
    const server = make({ batchSize: 8, sendBatchSize: 4, receiveBufferSize: 1 << 20 });
    await server.bind("127.0.0.1", 0);
    const reply = new Uint8Array(16);
    server.onRequest((data, length) => {
      reply.set(data.subarray(0, length));
      return length;
    }, reply);
    const calls = () => (server as unknown as { sendCalls: number }).sendCalls;
    const client = make({ receiveBufferSize: 1 << 20 });
    await client.bind("127.0.0.1", 0);
    let got = 0;
    client.onMessage(() => {
      got++;
    });
    await client.connect("127.0.0.1", server.localAddress().port);
    // Three queued before the server's loop turn: one short batch (3 of 8), nothing
    // else waiting, so each reply leaves at once in a sendmmsg of its own.
    for (let i = 1; i <= 3; i++) client.send(Buffer.from(`short ${i}`));
    await waitFor(() => got === 3);
    assert.equal(calls(), 3);
    // 64 requests queued before the server's loop turn: full batches of 8, whose
    // replies go four to a call (the last, short batch finds nothing: EAGAIN).
    for (let i = 0; i < 64; i++) client.send(Buffer.from(`burst ${i}`));
    await waitFor(() => got === 67);
    assert.equal(calls() - 3, 16, `sendmmsg calls for 64 replies: ${calls() - 3}`);
  });

  it("a socket left open in a worker is closed when the worker ends", async () => {
    const code = `
      const { parentPort } = require("node:worker_threads");
      const a = require(${JSON.stringify(ADDON_PATH)});
      const s = new a.UdpSocket(4); s.bind("127.0.0.1", 0);
      s.setOnMessage(() => {});
      parentPort.postMessage(s.localAddress().port);
    `;
    const worker = new Worker(code, { eval: true });
    const port = await new Promise<number>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();
    await sleep(10);
    const again = make();
    await again.bind("127.0.0.1", port); // EADDRINUSE if the worker's fd leaked
  });
});
