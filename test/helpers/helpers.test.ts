// Tests of the generic helpers: temp dirs, ports, processes, waiting.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { createServer } from "node:net";
import { stat, writeFile, appendFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { makeTempDir, withTempDir } from "./tmp.js";
import { testScope } from "./scope.js";
import { freePort, freeTcpPort, freeUdpPort, isTcpPortFree, isUdpPortFree } from "./ports.js";
import { isAlive, killPid, runCommand, spawnProcess } from "./process.js";
import {
  isUdpPortBound,
  waitFor,
  waitForLogLine,
  waitForTcpPort,
  waitForUdpBound,
} from "./wait.js";

test("makeTempDir creates a private dir and cleanup removes it", async () => {
  const dir = await makeTempDir();
  const s = await stat(dir.path);
  assert.ok(s.isDirectory());
  assert.equal(s.mode & 0o777, 0o700);
  await writeFile(dir.file("a.txt"), "x");
  await dir.cleanup();
  assert.equal(existsSync(dir.path), false);
  await dir.cleanup(); // idempotent
});

test("withTempDir removes the dir even when the body throws", async () => {
  let path = "";
  await assert.rejects(
    withTempDir(async (d) => {
      path = d.path;
      await Promise.resolve();
      throw new Error("boom");
    }),
    /boom/,
  );
  assert.notEqual(path, "");
  assert.equal(existsSync(path), false);
});

test("free ports are free and in the non-ephemeral range", async () => {
  const u = await freeUdpPort();
  const t = await freeTcpPort();
  const b = await freePort();
  for (const p of [u, t, b]) assert.ok(p >= 20000 && p < 32768, `port ${p}`);
  assert.ok(await isUdpPortFree(u));
  assert.ok(await isTcpPortFree(t));
  assert.ok((await isUdpPortFree(b)) && (await isTcpPortFree(b)));

  const sock = createSocket("udp4");
  await new Promise<void>((r) => sock.bind(u, "127.0.0.1", r));
  try {
    assert.equal(await isUdpPortFree(u), false);
    assert.equal(await isUdpPortBound(u), true);
    await waitForUdpBound(u, "127.0.0.1", 1000);
  } finally {
    await new Promise<void>((r) => sock.close(r));
  }
  assert.equal(await isUdpPortBound(u), false);

  const server = createServer();
  await new Promise<void>((r) => server.listen(t, "127.0.0.1", r));
  try {
    assert.equal(await isTcpPortFree(t), false);
    await waitForTcpPort(t, "127.0.0.1", 1000);
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

test("spawnProcess captures output and stop() ends it with SIGTERM", async () => {
  const p = await spawnProcess("sh", ["-c", "echo hello; echo oops >&2; exec sleep 30"]);
  try {
    assert.equal(await p.waitForOutput(/hel+o/, 5000), "hello");
    await p.waitForOutput("oops", 5000);
    assert.match(p.stdout(), /hello/);
    assert.match(p.stderr(), /oops/);
    assert.ok(isAlive(p.pid));
  } finally {
    const s = await p.stop(2000);
    assert.equal(s.signal, "SIGTERM");
  }
  assert.equal(isAlive(p.pid), false);
});

test("stop() falls back to SIGKILL when SIGTERM is ignored", async () => {
  const p = await spawnProcess("sh", ["-c", "trap '' TERM; echo ready; exec sleep 30"]);
  try {
    await p.waitForOutput("ready", 5000);
    const t0 = Date.now();
    const s = await p.stop(300);
    assert.equal(s.signal, "SIGKILL");
    assert.ok(Date.now() - t0 >= 300);
  } finally {
    await killPid(p.pid, 100);
  }
});

test("waitForOutput fails fast when the process exits first", async () => {
  const p = await spawnProcess("sh", ["-c", "echo bye; exit 3"]);
  await assert.rejects(p.waitForOutput("never", 5000), /exited \(code 3\)/);
});

test("spawnProcess rejects for a missing program", async () => {
  await assert.rejects(spawnProcess("/nonexistent/program", []), /could not start/);
});

test("runCommand returns output and kills at its deadline", async () => {
  const ok = await runCommand("sh", ["-c", "echo out; echo err >&2; exit 2"]);
  assert.deepEqual([ok.code, ok.stdout, ok.stderr, ok.timedOut], [2, "out\n", "err\n", false]);
  const t0 = Date.now();
  const slow = await runCommand("sleep", ["30"], { timeoutMs: 200 });
  assert.equal(slow.timedOut, true);
  assert.ok(Date.now() - t0 < 5000);
});

test("runCommand pins to a CPU with taskset", async () => {
  const r = await runCommand("sh", ["-c", "grep Cpus_allowed_list /proc/self/status"], {
    cpus: "0",
  });
  assert.match(r.stdout, /Cpus_allowed_list:\s+0$/m);
});

test("waitFor times out with a clear message, and waitForLogLine sees appended lines", async () => {
  await assert.rejects(
    waitFor(() => false, { timeoutMs: 100, what: "godot" }),
    /timed out after 100 ms waiting for godot/,
  );
  await withTempDir(async (d) => {
    const log = d.file("x.log");
    const timer = setTimeout(() => void appendFile(log, "one\nserver ready on 5\n"), 100);
    try {
      assert.equal(await waitForLogLine(log, /ready on \d/, 3000), "server ready on 5");
    } finally {
      clearTimeout(timer);
    }
  });
});

// testScope: releases run after the test, last acquired first, and a failing
// release does not keep the others from running. Checked by the next test,
// which runs after this one's after-hooks.
const released: string[] = [];
test("testScope registers releases (checked by the next test)", (t) => {
  const scope = testScope(t);
  const dir = scope.own({ name: "dir" }, (d) => {
    released.push(d.name);
  });
  scope.defer(() => {
    released.push("server");
  });
  scope.own("client", (c) => {
    released.push(c);
  });
  assert.equal(dir.name, "dir", "own returns the value");
  assert.deepEqual(released, [], "nothing is released while the test runs");
});

test("testScope released in reverse order once the test ended", () => {
  assert.deepEqual(released, ["client", "server", "dir"]);
});
