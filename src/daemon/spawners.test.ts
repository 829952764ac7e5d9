import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import type { PoolSourceConfig, ServerSourceConfig } from "../proto/config/types.js";
import { createLogger, MemorySink } from "./log.js";
import type { ResolvedAddress } from "./resolve.js";
import type { SourceEnd, SourceTask } from "./source-task.js";
import { PoolSpawner, ServerSpawner, type SpawnerContext } from "./spawners.js";

interface FakeTask {
  task: SourceTask;
  started: boolean;
  stopped: boolean;
  /** Whether the source ever produced a measurement. */
  measured: boolean;
  end(reason: SourceEnd): void;
}

/** A context whose resolver answers from `answers` and whose tasks do nothing. */
function fakeContext(answers: (ResolvedAddress[] | Error)[]) {
  const tasks: FakeTask[] = [];
  const running = new Set<SourceTask>();
  let lookups = 0;
  const context: SpawnerContext = {
    resolve: (host) => {
      const answer = answers[Math.min(lookups, answers.length - 1)];
      lookups++;
      if (answer instanceof Error || answer === undefined) {
        return Promise.reject(answer ?? new Error(`no answer for ${host}`));
      }
      return Promise.resolve(answer);
    },
    createTask: (_config, name, address, port, onEnd) => {
      const fake: FakeTask = {
        started: false,
        stopped: false,
        measured: false,
        task: undefined as unknown as SourceTask,
        end: (reason) => onEnd(fake.task, reason),
      };
      fake.task = {
        id: tasks.length + 1,
        name,
        address,
        port,
        addressText: `${address.address}:${port}`,
        start: () => void (fake.started = true),
        stop: () => void (fake.stopped = true),
        source: { snapshot: () => ({ lastMeasurement: fake.measured ? {} : null }) },
      } as unknown as SourceTask;
      tasks.push(fake);
      return fake.task;
    },
    log: createLogger("error", new MemorySink()),
    onTaskStarted: (task) => void running.add(task),
    onTaskStopped: (task) => void running.delete(task),
  };
  return { context, tasks, running, lookups: () => lookups };
}

const v4 = (address: string): ResolvedAddress => ({ address, family: 4 });

const serverConfig: ServerSourceConfig = {
  mode: "server",
  address: { host: "time.example", port: 123 },
  pollIntervalLimits: { min: 4, max: 10 },
  initialPollInterval: 4,
  ntpVersion: 4,
  interleaved: false,
};

function poolConfig(count: number, ignore: string[] = []): PoolSourceConfig {
  return {
    ...serverConfig,
    mode: "pool",
    address: { host: "pool.example", port: 123 },
    count,
    ignore,
  };
}

/** Lets resolver promises settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function useFakeTimers(t: TestContext) {
  t.mock.timers.enable({ apis: ["setTimeout"] });
  return (ms: number) => t.mock.timers.tick(ms);
}

test("server: the first resolved address becomes the source", async () => {
  const { context, tasks, running } = fakeContext([[v4("192.0.2.1"), v4("192.0.2.2")]]);
  const spawner = new ServerSpawner(serverConfig, context);
  spawner.start();
  await settle();
  assert.equal(tasks.length, 1);
  assert.equal(tasks[0]!.task.address.address, "192.0.2.1");
  assert.equal(tasks[0]!.task.name, "time.example:123");
  assert.ok(tasks[0]!.started);
  assert.equal(running.size, 1);
  spawner.stop();
  assert.ok(tasks[0]!.stopped);
  assert.equal(running.size, 0);
});

test("server: unreachable → resolved again after a second, the new address is used", async (t) => {
  const tick = useFakeTimers(t);
  const { context, tasks, lookups } = fakeContext([[v4("192.0.2.1")], [v4("192.0.2.9")]]);
  const spawner = new ServerSpawner(serverConfig, context);
  spawner.start();
  await settle();
  tasks[0]!.end("unreachable");
  assert.equal(lookups(), 1);
  tick(999);
  await settle();
  assert.equal(tasks.length, 1, "no respawn before the 1 s wait");
  tick(1);
  await settle();
  assert.equal(lookups(), 2);
  assert.equal(tasks.length, 2);
  assert.equal(tasks[1]!.task.address.address, "192.0.2.9");
  spawner.stop();
});

test("server: a server that never answers is retried ever more slowly (1, 2, 4 s ...)", async (t) => {
  const tick = useFakeTimers(t);
  const { context, tasks } = fakeContext([[v4("192.0.2.1")]]);
  const spawner = new ServerSpawner(serverConfig, context);
  spawner.start();
  await settle();
  for (const wait of [1000, 2000, 4000, 8000]) {
    const before = tasks.length;
    tasks.at(-1)!.end("unreachable");
    tick(wait - 1);
    await settle();
    assert.equal(tasks.length, before, `no respawn before ${wait} ms`);
    tick(1);
    await settle();
    assert.equal(tasks.length, before + 1, `respawned after ${wait} ms`);
  }
  // One that answered for a while is replaced after a second again.
  tasks.at(-1)!.measured = true;
  tasks.at(-1)!.end("unreachable");
  tick(1000);
  await settle();
  assert.equal(tasks.length, 6);
  spawner.stop();
});

test("server: a demobilized source is never respawned", async (t) => {
  const tick = useFakeTimers(t);
  const { context, tasks, running } = fakeContext([[v4("192.0.2.1")]]);
  const spawner = new ServerSpawner(serverConfig, context);
  spawner.start();
  await settle();
  tasks[0]!.end("demobilized");
  tick(120_000);
  await settle();
  assert.equal(tasks.length, 1);
  assert.equal(running.size, 0);
  spawner.stop();
});

test("server: DNS failures are retried with a growing back-off", async (t) => {
  const tick = useFakeTimers(t);
  const failure = new Error("ENOTFOUND");
  const { context, tasks, lookups } = fakeContext([failure, failure, [v4("192.0.2.1")]]);
  const spawner = new ServerSpawner(serverConfig, context);
  spawner.start();
  await settle();
  assert.equal(lookups(), 1);
  tick(1000); // first retry after 1 s
  await settle();
  assert.equal(lookups(), 2);
  tick(1999); // second retry only after 2 s
  await settle();
  assert.equal(lookups(), 2);
  tick(1);
  await settle();
  assert.equal(lookups(), 3);
  assert.equal(tasks.length, 1);
  spawner.stop();
});

test("pool: `count` distinct members, `ignore` respected", async () => {
  const { context, tasks } = fakeContext([
    [v4("192.0.2.1"), v4("192.0.2.2"), v4("192.0.2.3"), v4("192.0.2.4")],
  ]);
  const spawner = new PoolSpawner(poolConfig(2, ["192.0.2.1"]), context);
  spawner.start();
  await settle();
  assert.deepEqual(
    tasks.map((f) => f.task.address.address),
    ["192.0.2.2", "192.0.2.3"],
  );
  spawner.stop();
  assert.ok(tasks.every((f) => f.stopped));
});

test("pool: a member that ends is replaced from the spare addresses", async (t) => {
  const tick = useFakeTimers(t);
  const { context, tasks, running } = fakeContext([
    [v4("192.0.2.1"), v4("192.0.2.2"), v4("192.0.2.3")],
  ]);
  const spawner = new PoolSpawner(poolConfig(2), context);
  spawner.start();
  await settle();
  tasks[0]!.end("unreachable");
  tick(1000);
  await settle();
  assert.equal(running.size, 2);
  const active = [...running].map((task) => task.address.address).sort();
  assert.deepEqual(active, ["192.0.2.2", "192.0.2.3"]);
  spawner.stop();
});

test("pool: an address that demobilized us is never used again", async (t) => {
  const tick = useFakeTimers(t);
  const { context, tasks, running } = fakeContext([[v4("192.0.2.1"), v4("192.0.2.2")]]);
  const spawner = new PoolSpawner(poolConfig(2), context);
  spawner.start();
  await settle();
  assert.equal(running.size, 2);
  tasks[0]!.end("demobilized");
  tick(1000);
  await settle();
  // The resolver still returns 192.0.2.1, but it refused service.
  const active = [...running].map((task) => task.address.address);
  assert.deepEqual(active, ["192.0.2.2"]);
  spawner.stop();
});
