// A [[server]] on a real loopback socket: bad requests get no reply and are
// counted, and the server keeps answering good ones. Runs on the addon's
// socket when it is built and on node:dgram otherwise.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket, type Socket } from "node:dgram";
import type { ServerConfig } from "../proto/config/types.js";
import { serverPolicy } from "../proto/server/policy.js";
import { cidrs } from "../../test/helpers/cidr.js";
import { decodeHeader } from "../proto/packet/header.js";
import { initialSystemState, SystemStateCell } from "../proto/system/system-state.js";
import { createLogger, MemorySink } from "./log.js";
import { ServerBindError, ServerTask } from "./server-task.js";
import {
  createUdpSocket,
  type ErrorHandler,
  type RequestHandler,
  type TimestampedUdpSocket,
} from "./native/udp.js";
import { systemWallClock, type WallClock } from "./wall-clock.js";

function serverConfig(overrides: Partial<ServerConfig> = {}): ServerConfig {
  return { listen: { address: "127.0.0.1", port: 0, family: 4 }, ...serverPolicy(overrides) };
}

async function startServer(config: ServerConfig, clock: WallClock = systemWallClock) {
  const system = new SystemStateCell(initialSystemState({ localStratum: 1, referenceId: "TEST" }));
  const task = new ServerTask(config, clock, system, createLogger("error", new MemorySink()));
  await task.start();
  return task;
}

/** The bound port: the task binds port 0, so ask its socket. */
function boundPort(task: ServerTask): number {
  const socket = (task as unknown as { socket: { localAddress(): { port: number } } }).socket;
  return socket.localAddress().port;
}

/** Sends `request` and waits up to `ms` for one reply (null if none). */
function exchange(client: Socket, port: number, request: Uint8Array, ms = 300) {
  return new Promise<Buffer | null>((resolve) => {
    const timer = setTimeout(() => {
      client.off("message", onMessage);
      resolve(null);
    }, ms);
    const onMessage = (msg: Buffer) => {
      clearTimeout(timer);
      client.off("message", onMessage);
      resolve(msg);
    };
    client.on("message", onMessage);
    client.send(request, port, "127.0.0.1");
  });
}

function clientRequest(firstByte = 0x23, length = 48): Uint8Array {
  const request = new Uint8Array(length);
  request[0] = firstByte;
  // The transmit timestamp, where the request is long enough to hold one.
  if (length >= 48) request.set([0xde, 0xad, 0xbe, 0xef, 0x01, 0x02, 0x03, 0x04], 40);
  return request;
}

async function withServer(
  config: ServerConfig,
  fn: (task: ServerTask, client: Socket, port: number) => Promise<void>,
  clock?: WallClock,
) {
  const task = await startServer(config, clock);
  const client = createSocket("udp4");
  await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", resolve));
  try {
    await fn(task, client, boundPort(task));
  } finally {
    client.close();
    task.stop();
  }
}

test("a good request is answered with the server's time", async () => {
  await withServer(serverConfig(), async (task, client, port) => {
    const reply = await exchange(client, port, clientRequest());
    assert.ok(reply, "no reply");
    assert.equal(reply.length, 48);
    const header = decodeHeader(reply);
    assert.equal(header.mode, 4);
    assert.equal(header.version, 4);
    assert.equal(header.stratum, 1);
    assert.equal(header.originTimestamp.seconds, 0xdeadbeef);
    assert.equal(task.core.stats.acceptedPackets, 1);
  });
});

test("bad requests get no reply, are counted, and the server keeps answering", async () => {
  await withServer(serverConfig(), async (task, client, port) => {
    const oversized = clientRequest(0x23, 1200); // above what the socket reads
    const garbageField = clientRequest(0x23, 80);
    garbageField.set([0x01, 0x04, 0xff, 0xf0], 48); // field length runs past the packet
    const bad: [string, Uint8Array][] = [
      ["truncated", clientRequest(0x23, 40)],
      ["not a multiple of 4", clientRequest(0x23, 50)],
      ["mode 6 (control)", clientRequest(0x26)],
      ["mode 4 (server)", clientRequest(0x24)],
      ["version 2", clientRequest(0x13)],
      ["garbage extension field", garbageField],
      ["oversized", oversized],
    ];
    for (const [what, request] of bad) {
      const reply = await exchange(client, port, request, 150);
      assert.equal(reply, null, `${what}: must not be answered`);
    }
    // The addon's socket drops the oversized datagram unread; task.stats brings
    // it in (the core drops it itself on node:dgram): every one is counted.
    const stats = task.stats;
    assert.equal(stats.receivedPackets, bad.length);
    assert.equal(stats.ignoredPackets, bad.length, `ignored ${stats.ignoredPackets}`);
    assert.equal(stats.ignoredByReason.malformed, 4);
    assert.equal(stats.ignoredByReason["wrong-mode"], 2);
    assert.equal(stats.ignoredByReason["version-not-accepted"], 1);
    assert.equal(stats.acceptedPackets, 0);

    const reply = await exchange(client, port, clientRequest());
    assert.ok(reply, "a good request after the bad ones is answered");
    assert.equal(stats.acceptedPackets, 1);
  });
});

test("a denylisted client with action deny gets a DENY kiss-o'-death", async () => {
  const config = serverConfig({
    denylist: { filter: cidrs("127.0.0.0/8"), action: "deny" },
  });
  await withServer(config, async (task, client, port) => {
    const reply = await exchange(client, port, clientRequest());
    assert.ok(reply);
    const header = decodeHeader(reply);
    assert.equal(header.stratum, 0);
    assert.equal(Buffer.from(reply.subarray(12, 16)).toString("latin1"), "DENY");
    assert.equal(header.originTimestamp.seconds, 0xdeadbeef);
    assert.equal(task.core.stats.deniedPackets, 1);
  });
});

test("the parsed [[server]] table is the server core's policy, CIDRs as parsed", () => {
  const config = serverConfig({
    denylist: { filter: cidrs("192.0.2.0/24"), action: "deny" },
    rateLimitingCacheSize: 1024,
    rateLimitingCutoffMs: 500,
    requireNts: "ignore",
    acceptNtpVersions: [4],
  });
  const system = new SystemStateCell(initialSystemState({ localStratum: 1, referenceId: "TEST" }));
  const task = new ServerTask(
    config,
    systemWallClock,
    system,
    createLogger("error", new MemorySink()),
  );
  const { listen: _listen, ...policy } = config;
  assert.deepEqual(task.core.policy, policy);
  assert.equal(task.core.policy.denylist.filter[0], config.denylist.filter[0], "not copied");
});

test("T3 is never before T2, even when the clock reads earlier than the receive time", async () => {
  // A clock 10 s behind the one that stamps datagrams: as if stepped back in between.
  const behind: WallClock = { now: () => systemWallClock.now().addSeconds(-10) };
  await withServer(
    serverConfig(),
    async (_task, client, port) => {
      const reply = await exchange(client, port, clientRequest());
      assert.ok(reply, "no reply");
      const header = decodeHeader(reply);
      assert.ok(header.transmitTimestamp.diffSeconds(header.receiveTimestamp) >= 0);
      assert.ok(header.transmitTimestamp.equals(header.receiveTimestamp));
    },
    behind,
  );
  // With the right clock T3 follows T2 by the time it took to build the reply.
  await withServer(serverConfig(), async (_task, client, port) => {
    const reply = await exchange(client, port, clientRequest());
    assert.ok(reply, "no reply");
    const header = decodeHeader(reply);
    const processing = header.transmitTimestamp.diffSeconds(header.receiveTimestamp);
    assert.ok(processing >= 0 && processing < 0.5, `T3 - T2 = ${processing} s`);
  });
});

test("failed replies are counted as send errors, receive errors are not", async () => {
  let onRequest: RequestHandler | null = null;
  let onError: ErrorHandler | null = null;
  const fake = {
    implementation: "dgram",
    family: 4,
    kernelTimestamps: false,
    bind: () => Promise.resolve(),
    onRequest: (handler: RequestHandler) => {
      onRequest = handler;
    },
    onError: (handler: ErrorHandler | null) => {
      onError = handler;
    },
    close: () => {},
  } as unknown as TimestampedUdpSocket;
  const system = new SystemStateCell(initialSystemState({ localStratum: 1, referenceId: "TEST" }));
  const task = new ServerTask(
    serverConfig(),
    systemWallClock,
    system,
    createLogger("debug", new MemorySink()),
    undefined,
    () => fake,
  );
  await task.start();
  const request = clientRequest();
  const now = systemWallClock.now();
  const n = onRequest!(Buffer.from(request), 48, "127.0.0.1", 123, now.seconds - 2208988800, 0);
  assert.equal(n, 48, "the handler returns the reply length");
  assert.equal(onRequest!(Buffer.from(clientRequest(0x24)), 48, "127.0.0.1", 123, 0, 0), 0);
  const errno = (syscall: string) =>
    Object.assign(new Error(`${syscall} EAGAIN`), {
      code: "EAGAIN",
      syscall,
      address: "127.0.0.1",
    });
  onError!(errno("sendmmsg"));
  onError!(errno("sendto"));
  onError!(errno("send")); // dgram
  onError!(errno("recvmmsg"));
  assert.equal(task.core.stats.responseSendErrors, 3);
  task.stop();
});

test("a listen address in use is a clear ServerBindError, and no retry is left running", async () => {
  const holder = createSocket("udp4");
  await new Promise<void>((resolve) => holder.bind(0, "127.0.0.1", resolve));
  const port = holder.address().port;
  let sockets = 0;
  const system = new SystemStateCell(initialSystemState({ localStratum: 1, referenceId: "TEST" }));
  const task = new ServerTask(
    serverConfig({ listen: { address: "127.0.0.1", port, family: 4 } }),
    systemWallClock,
    system,
    createLogger("error", new MemorySink()),
    undefined,
    (family) => {
      sockets++;
      return createUdpSocket(family, { maxDatagramSize: 1024 });
    },
  );
  try {
    await assert.rejects(task.start(), (error: unknown) => {
      assert.ok(error instanceof ServerBindError, String(error));
      assert.equal(
        error.message,
        `cannot listen on 127.0.0.1:${port} (UDP): the address is in use by another program (another NTP server?)`,
      );
      return true;
    });
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(sockets, 1, "no second bind attempt");
  } finally {
    task.stop();
    holder.close();
  }
});
