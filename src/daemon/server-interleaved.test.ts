// A [[server]] in interleaved mode on real loopback sockets (the addon's): the
// T3 an interleaved reply carries is the kernel's TX timestamp of the reply it
// names: after the T3 that reply carried in basic mode, before its arrival at
// the client. Requests that do not qualify get correct basic replies, and bad
// ones are dropped and counted as in basic mode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeHeader } from "../proto/packet/header.js";
import type { NtpHeader } from "../proto/packet/types.js";
import { serverPolicy } from "../proto/server/policy.js";
import { initialSystemState, SystemStateCell } from "../proto/system/system-state.js";
import { NtpTimestamp } from "../proto/time.js";
import { getAddon, loadAddon } from "./native/addon.js";
import { createUdpSocket, type TimestampedUdpSocket } from "./native/udp.js";
import { createLogger, MemorySink } from "./log.js";
import { ServerTask } from "./server-task.js";
import { systemWallClock } from "./wall-clock.js";
import { clientRequest } from "../../test/helpers/ntp-request.js";

const noAddon =
  getAddon() === null ? `the native addon is not loaded: ${loadAddon().reason}` : undefined;

const request = clientRequest;

interface Reply {
  header: NtpHeader;
  /** The client's kernel receive time. */
  t4: NtpTimestamp;
}

/** Sends `bytes` from a connected client socket; the reply, or null after 500 ms. */
function ask(client: TimestampedUdpSocket, bytes: Uint8Array): Promise<Reply | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      client.onMessage(null);
      resolve(null);
    }, 500);
    client.onMessage((data, length, _address, _port, sec, nsec) => {
      clearTimeout(timer);
      client.onMessage(null);
      resolve({
        header: decodeHeader(data.subarray(0, length)),
        t4: NtpTimestamp.fromUnix(sec, nsec),
      });
    });
    client.send(bytes);
  });
}

let nonce = 1;
const random = (): NtpTimestamp => new NtpTimestamp(0x5a5a0000 + nonce++, 0x12345678 + nonce);

test(
  "the interleaved T3 is the wire time of the reply named: after its basic T3, before its arrival",
  { skip: noAddon },
  async () => {
    const system = new SystemStateCell(
      initialSystemState({ localStratum: 1, referenceId: "TEST" }),
    );
    const task = new ServerTask(
      { listen: { address: "127.0.0.1", port: 0, family: 4 }, ...serverPolicy({}) },
      systemWallClock,
      system,
      createLogger("error", new MemorySink()),
    );
    await task.start();
    const client = createUdpSocket(4, { implementation: "addon" });
    try {
      assert.equal(task.core.interleaved, true, "the kernel gives reply TX timestamps");
      await client.bind("127.0.0.1", 0);
      await client.connect("127.0.0.1", task.port);

      // 1: basic. 2: names reply 1 (not stamped): basic, but stamped.
      const one = await ask(client, request({ transmitTimestamp: random() }));
      assert.ok(one);
      const xmt2 = random();
      const two = await ask(
        client,
        request({
          originTimestamp: one.header.receiveTimestamp,
          receiveTimestamp: random(),
          transmitTimestamp: xmt2,
        }),
      );
      assert.ok(two);
      assert.ok(two.header.originTimestamp.equals(xmt2), "reply 2 is basic");
      assert.equal(task.stats.interleavedPackets, 0);

      // 3: names reply 2: interleaved, with reply 2's wire time.
      const token = random();
      const named = {
        originTimestamp: two.header.receiveTimestamp,
        receiveTimestamp: token,
        transmitTimestamp: random(),
      };
      const three = await ask(client, request(named));
      assert.ok(three);
      assert.ok(three.header.originTimestamp.equals(token), "reply 3 is interleaved");
      const wire = three.header.transmitTimestamp;
      const basic = two.header.transmitTimestamp;
      const sendPath = wire.diffSeconds(basic);
      assert.ok(sendPath >= 0, `wire T3 ${sendPath} s before the basic T3`);
      assert.ok(sendPath < 0.01, `wire T3 ${sendPath} s after the basic T3`);
      const flight = two.t4.diffSeconds(wire);
      assert.ok(flight >= 0 && flight < 0.01, `reply 2 arrived ${flight} s after its wire T3`);
      assert.equal(task.stats.interleavedPackets, 1);

      // The same request again: that T3 was given; a basic reply.
      const again = await ask(client, request(named));
      assert.ok(again);
      assert.ok(again.header.originTimestamp.equals(named.transmitTimestamp), "basic again");
      assert.ok(again.header.transmitTimestamp.diffSeconds(again.header.receiveTimestamp) >= 0);

      // A truncated request in interleaved form: dropped and counted as malformed.
      const malformedBefore = task.stats.ignoredByReason.malformed;
      const short = request({
        originTimestamp: three.header.receiveTimestamp,
        receiveTimestamp: random(),
        transmitTimestamp: random(),
      }).subarray(0, 47);
      assert.equal(await ask(client, short), null);
      assert.equal(task.stats.ignoredByReason.malformed, malformedBefore + 1);
      // An extension field that does not fit: the same.
      const long = new Uint8Array(56);
      long.set(
        request({
          originTimestamp: three.header.receiveTimestamp,
          receiveTimestamp: random(),
          transmitTimestamp: random(),
        }),
      );
      long.set([0x01, 0x04, 0x00, 0x40], 48);
      assert.equal(await ask(client, long), null);
      assert.equal(task.stats.ignoredByReason.malformed, malformedBefore + 2);
      // The entry of reply 3 is still there for a proper request.
      const token5 = random();
      const five = await ask(
        client,
        request({
          originTimestamp: three.header.receiveTimestamp,
          receiveTimestamp: token5,
          transmitTimestamp: random(),
        }),
      );
      assert.ok(five?.header.originTimestamp.equals(token5), "reply 5 is interleaved");
      assert.equal(task.stats.interleavedPackets, 2);
    } finally {
      client.close();
      task.stop();
    }
  },
);

test(
  "IPv6: the TX timestamps of replies are found too (the reply is parsed past its IPv6 header)",
  { skip: noAddon },
  async (t) => {
    const task = new ServerTask(
      { listen: { address: "::1", port: 0, family: 6 }, ...serverPolicy({}) },
      systemWallClock,
      new SystemStateCell(initialSystemState({ localStratum: 1, referenceId: "TEST" })),
      createLogger("error", new MemorySink()),
    );
    try {
      await task.start();
    } catch (error) {
      t.skip(`no IPv6 loopback: ${(error as Error).message}`);
      return;
    }
    const client = createUdpSocket(6, { implementation: "addon" });
    try {
      await client.bind("::1", 0);
      await client.connect("::1", task.port);
      let previous = NtpTimestamp.ZERO;
      let interleaved = 0;
      for (let i = 0; i < 5; i++) {
        const token = random();
        const reply = await ask(
          client,
          request({
            originTimestamp: previous,
            receiveTimestamp: token,
            transmitTimestamp: random(),
          }),
        );
        assert.ok(reply);
        if (reply.header.originTimestamp.equals(token)) interleaved++;
        previous = reply.header.receiveTimestamp;
      }
      // The first names nothing, the second a reply that was not stamped.
      assert.equal(interleaved, 3);
      assert.equal(task.stats.interleavedPackets, 3);
    } finally {
      client.close();
      task.stop();
    }
  },
);
