import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { afterEach, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { ADDON_PATH, loadAddon } from "./addon.js";
import { readRealtime, timespecToNs } from "./clock.js";
import { createUdpSocket, type TimestampedUdpSocket } from "./udp.js";
import { sleep, udpContract, waitFor } from "./udp.contract.js";

const { addon, reason } = loadAddon();
const noAddon = addon ? false : `addon not loaded: ${reason}`;

udpContract(
  "TimestampedUdpSocket contract: addon",
  (f, o) => createUdpSocket(f, { ...o, implementation: "addon" }),
  {
    skip: noAddon,
    kernelTimestamps: true,
  },
);

udpContract(
  "TimestampedUdpSocket contract: node:dgram fallback",
  (f, o) => createUdpSocket(f, { ...o, implementation: "dgram" }),
  {
    kernelTimestamps: false,
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
