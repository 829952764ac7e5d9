// The nts-pool spawner against a fake pool KE server: NTP Server Deny
// records name the servers in use, duplicates are discarded, members that
// end are replaced, a server that demobilized us stays denied.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { NtsPoolSourceConfig } from "../proto/config/types.js";
import { createLogger, MemorySink } from "./log.js";
import type { KeyExchangeOptions, KeyExchangeResult } from "./nts-ke-client.js";
import { NtsPoolSpawner } from "./nts-pool-spawner.js";
import type { SourceEnd, SourceTask } from "./source-task.js";
import type { SpawnerContext } from "./spawners.js";

const config: NtsPoolSourceConfig = {
  mode: "nts-pool",
  address: { host: "pool.example", port: 4460 },
  pollIntervalLimits: { min: 4, max: 10 },
  initialPollInterval: 4,
  ntpVersion: 4,
  interleaved: false,
  certificateAuthority: null,
  enableSrvResolution: false,
  count: 2,
};

/**
 * A pool that hands out the first of `servers` not denied, or when
 * `ignoreDeny` the first of them whatever the client says.
 */
function fakePool(servers: string[], options: { ignoreDeny?: boolean } = {}) {
  const requests: (readonly string[])[] = [];
  const keyExchange = (o: KeyExchangeOptions): Promise<KeyExchangeResult> => {
    const denied = o.denyServers ?? [];
    requests.push(denied);
    const pick = options.ignoreDeny ? servers[0] : servers.find((s) => !denied.includes(s));
    if (pick === undefined) return Promise.reject(new Error("no server left"));
    return Promise.resolve({
      protocol: 0,
      aead: 15,
      c2s: new Uint8Array(32),
      s2c: new Uint8Array(32),
      cookies: [new Uint8Array(64)],
      ntpServer: pick,
      ntpPort: 123,
    });
  };
  return { keyExchange, requests };
}

function fakeContext() {
  const running = new Map<number, { task: SourceTask; end: (r: SourceEnd) => void }>();
  let ids = 0;
  const sink = new MemorySink();
  const context: SpawnerContext = {
    resolve: (host) => Promise.resolve([{ address: host, family: 4 }]),
    createTask: (_config, name, address, port, onEnd) => {
      const task = {
        id: ++ids,
        name,
        address,
        port,
        addressText: `${address.address}:${port}`,
        start: () => {},
        stop: () => {},
        source: { snapshot: () => ({ lastMeasurement: null }) },
      } as unknown as SourceTask;
      running.set(task.id, { task, end: (reason) => onEnd(task, reason) });
      return task;
    },
    log: createLogger("info", sink),
    onTaskStarted: () => {},
    onTaskStopped: (task) => void running.delete(task.id),
  };
  const addresses = () => [...running.values()].map((r) => r.task.address.address).sort();
  return { context, running, addresses, sink };
}

/** Lets the spawner's promises settle (several awaits per key exchange). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((r) => setImmediate(r));
}

function useFakeTimers(t: TestContext) {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  return (ms: number) => t.mock.timers.tick(ms);
}

test("count members, each request denying the servers already in use", async () => {
  const pool = fakePool(["192.0.2.1", "192.0.2.2", "192.0.2.3"]);
  const { context, addresses } = fakeContext();
  const spawner = new NtsPoolSpawner(config, context, pool.keyExchange);
  spawner.start();
  await settle();
  assert.deepEqual(addresses(), ["192.0.2.1", "192.0.2.2"]);
  assert.deepEqual(pool.requests, [[], ["192.0.2.1"]]);
  assert.equal(spawner.state.size, 2);
  spawner.stop();
  assert.equal(spawner.state.size, 0);
});

test("a server handed out twice is discarded, and asked for again later", async (t) => {
  const tick = useFakeTimers(t);
  const pool = fakePool(["192.0.2.1"], { ignoreDeny: true });
  const { context, addresses, sink } = fakeContext();
  const spawner = new NtsPoolSpawner(config, context, pool.keyExchange);
  spawner.start();
  await settle();
  assert.deepEqual(addresses(), ["192.0.2.1"]);
  assert.match(sink.lines.join("\n"), /already in use, ignored/);
  assert.equal(pool.requests.length, 2);
  tick(1000);
  await settle();
  assert.equal(pool.requests.length, 3, "retried after the back-off");
  assert.deepEqual(addresses(), ["192.0.2.1"]);
  spawner.stop();
});

test("a member that ends is replaced; one that demobilized us stays denied", async (t) => {
  const tick = useFakeTimers(t);
  const pool = fakePool(["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"]);
  const { context, running, addresses } = fakeContext();
  const spawner = new NtsPoolSpawner(config, context, pool.keyExchange);
  spawner.start();
  await settle();
  const first = [...running.values()].find((r) => r.task.address.address === "192.0.2.1")!;
  first.end("demobilized");
  tick(1000);
  await settle();
  assert.deepEqual(addresses(), ["192.0.2.2", "192.0.2.3"]);
  assert.deepEqual(pool.requests.at(-1), ["192.0.2.1", "192.0.2.2"]);
  const second = [...running.values()].find((r) => r.task.address.address === "192.0.2.2")!;
  second.end("unreachable");
  tick(1000);
  await settle();
  // 192.0.2.2 only stopped answering: it may come back; 192.0.2.1 may not.
  assert.deepEqual(pool.requests.at(-1), ["192.0.2.1", "192.0.2.3"]);
  assert.deepEqual(addresses(), ["192.0.2.2", "192.0.2.3"]);
  spawner.stop();
});

test("a failed key exchange ends the round and is retried with the back-off", async (t) => {
  const tick = useFakeTimers(t);
  let fail = true;
  const pool = fakePool(["192.0.2.1", "192.0.2.2"]);
  const keyExchange = (o: KeyExchangeOptions) =>
    fail ? Promise.reject(new Error("connection refused")) : pool.keyExchange(o);
  const { context, addresses, sink } = fakeContext();
  const spawner = new NtsPoolSpawner(config, context, keyExchange);
  spawner.start();
  await settle();
  assert.deepEqual(addresses(), []);
  assert.match(sink.lines.join("\n"), /NTS pool key exchange failed.*connection refused/);
  fail = false;
  tick(1000);
  await settle();
  assert.deepEqual(addresses(), ["192.0.2.1", "192.0.2.2"]);
  spawner.stop();
});
