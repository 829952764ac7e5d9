// The accuracy bench's reference server (bench/accuracy/server.ts) on
// loopback: its warm-up exchanges calibrate it and are then forgotten, so the
// run's figures count only the daemons' exchanges.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { loadAddon } from "../../src/daemon/native/addon.js";
import { startReference, TimeBase, WARM_UP_REQUESTS } from "../../bench/accuracy/server.js";

const { addon, reason } = loadAddon();

test(
  "the reference's warm-up exchanges are answered, then forgotten: only later requests count",
  { skip: addon ? false : `addon not loaded: ${reason}`, timeout: 20_000 },
  async () => {
    const server = await startReference({
      address: "127.0.0.1",
      clock: { offset0: 0.025, ppm: 0 },
      path: { forward: 0, back: 0, jitterMean: 0, loss: 0 },
      error: 0,
      seed: 1,
      base: TimeBase.now(),
    });
    const client = createSocket("udp4");
    try {
      await server.warmUp();
      assert.deepEqual(server.stats(), { replies: 0, lost: 0, refused: 0, lateness: [] });
      assert.equal(server.departures.size, 0, "warm-up replies are not in the departures");

      await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", resolve));
      const request = Buffer.alloc(48);
      request[0] = 0x23; // version 4, client
      request.writeUInt32BE(0xabcdef, 44);
      const reply = once(client, "message", { signal: AbortSignal.timeout(5000) });
      client.send(request, server.port, server.address);
      const [data] = (await reply) as [Buffer];
      assert.equal(data.length, 48);
      assert.equal(data[0]! & 7, 4, "a server reply");
      // Its kernel TX time stamp arrives just after the send.
      for (let i = 0; i < 100 && server.stats().lateness.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assert.equal(server.stats().replies, 1);
      assert.equal(server.stats().lateness.length, 1);
      assert.equal(server.departures.size, 1);
      assert.ok(WARM_UP_REQUESTS > 15, "more warm-up replies than the head start's window");
    } finally {
      client.close();
      server.close();
    }
  },
);
