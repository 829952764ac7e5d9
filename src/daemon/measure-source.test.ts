// measureSource against scripted servers on loopback: it sends its requests one
// after the other through the daemon's SourceTask and socket, keeps the usable
// measurements, gives up on silence, stops at a RATE kiss, and says why nothing
// came back.

import assert from "node:assert/strict";
import { after, test } from "node:test";
import { startFakeNtpServer, type FakeAnswer } from "../../test/helpers/fake-ntp-server.js";
import type { NetworkSourceCommon } from "../proto/config/types.js";
import { getAddon } from "./native/addon.js";
import { createUdpSocket } from "./native/udp.js";
import { leastDelay, measureSource, type SourceSample } from "./measure-source.js";

const CONFIG: NetworkSourceCommon = {
  address: { host: "127.0.0.1", port: 123 },
  pollIntervalLimits: { min: 4, max: 10 },
  initialPollInterval: 4,
  ntpVersion: 4,
  interleaved: false,
};

const servers: { close(): Promise<void> }[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function measureAgainst(
  answer: (n: number) => FakeAnswer,
  exchanges = 3,
  localStratum = 16,
): Promise<{ sample: SourceSample; requests: number }> {
  const server = await startFakeNtpServer(answer);
  servers.push(server);
  const sample = await measureSource({
    config: CONFIG,
    localStratum,
    name: "fake",
    address: { address: "127.0.0.1", family: 4 },
    port: server.port,
    exchanges,
    exchangeTimeoutMs: 300,
    timeLimitMs: 5_000,
  });
  return { sample, requests: server.requests };
}

test("every request answered: one measurement each, the server's offset", async () => {
  const { sample, requests } = await measureAgainst(() => ({ kind: "time", offsetSeconds: 100 }));
  assert.equal(requests, 3);
  assert.equal(sample.measurements.length, 3);
  assert.equal(sample.problem, null);
  for (const m of sample.measurements) assert.ok(Math.abs(m.offset - 100) < 0.1, `${m.offset}`);
  const best = leastDelay(sample.measurements);
  assert.ok(best);
  assert.equal(Math.min(...sample.measurements.map((m) => m.delay)), best.delay);
  assert.equal(sample.kernelTimestamps, getAddon() !== null);
});

test("a silent request is given up and the next one sent", async () => {
  const { sample, requests } = await measureAgainst((n) =>
    n === 0 ? { kind: "silence" } : { kind: "time", offsetSeconds: -30 },
  );
  assert.equal(requests, 3);
  assert.equal(sample.measurements.length, 2);
  assert.equal(sample.problem, "no answer");
  assert.ok(Math.abs(leastDelay(sample.measurements)!.offset + 30) < 0.1);
});

test("a server that never answers: no measurement, 'no answer'", async () => {
  const { sample, requests } = await measureAgainst(() => ({ kind: "silence" }));
  assert.equal(requests, 3);
  assert.deepEqual(sample.measurements, []);
  assert.equal(sample.problem, "no answer");
});

test("a RATE kiss stops the measuring at once", async () => {
  const { sample, requests } = await measureAgainst(() => ({ kind: "kiss", code: "RATE" }));
  assert.equal(requests, 1);
  assert.deepEqual(sample.measurements, []);
  assert.equal(sample.problem, "kiss-o'-death RATE");
});

test("a kiss that asks for nothing (NTSN, INIT...) fails that request only", async () => {
  const { sample, requests } = await measureAgainst((n) =>
    n === 0 ? { kind: "kiss", code: "INIT" } : { kind: "time", offsetSeconds: 2 },
  );
  assert.equal(requests, 3);
  assert.equal(sample.measurements.length, 2);
  assert.equal(sample.problem, "kiss-o'-death INIT");
});

test("unsynchronized replies (leap indicator 3) are not measurements", async () => {
  const { sample, requests } = await measureAgainst(() => ({
    kind: "time",
    offsetSeconds: 5,
    unsynchronized: true,
  }));
  assert.equal(requests, 3);
  assert.deepEqual(sample.measurements, []);
  assert.equal(sample.problem, "the server is not synchronized");
});

test("a stratum not below local-stratum is unusable, as in the daemon", async () => {
  // The fake server is stratum 2.
  const { sample } = await measureAgainst(() => ({ kind: "time", offsetSeconds: 0 }), 1, 2);
  assert.deepEqual(sample.measurements, []);
  assert.equal(sample.problem, "the server's stratum 2 is not below local-stratum 2");
});

test("more exchanges than a new source may leave unanswered: it ends unreachable", async () => {
  const { sample, requests } = await measureAgainst(() => ({ kind: "silence" }), 5);
  // NtpSource gives up after 3 unanswered polls at start-up, as in the daemon.
  assert.equal(requests, 3);
  assert.equal(sample.problem, "no answer");
});

test("a request that cannot be sent: the socket's error is the problem", async () => {
  let sends = 0;
  const sample = await measureSource({
    config: CONFIG,
    localStratum: 16,
    name: "unsendable",
    address: { address: "127.0.0.1", family: 4 },
    port: 9,
    exchanges: 3,
    exchangeTimeoutMs: 300,
    timeLimitMs: 5_000,
    createSocket: (family, options) => {
      const socket = createUdpSocket(family, options);
      socket.send = () => {
        sends++;
        throw Object.assign(new Error("send ENETUNREACH 127.0.0.1:9"), { code: "ENETUNREACH" });
      };
      return socket;
    },
  });
  assert.equal(sends, 3);
  assert.deepEqual(sample.measurements, []);
  assert.equal(sample.problem, "send ENETUNREACH 127.0.0.1:9");
});
