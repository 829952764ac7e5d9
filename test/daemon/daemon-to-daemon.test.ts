// Two real ntp-daemon processes on loopback: one serves time as a stratum-1
// server, the other measures it. Both share this machine's clock, so the
// measured offset must be near zero and the delay small.
import { test } from "node:test";
import assert from "node:assert/strict";
import { freeUdpPort } from "../helpers/ports.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitForUdpBound } from "../helpers/wait.js";
import { clientConfig, parseMeasurement, primaryServerConfig, startDaemon } from "./run-daemon.js";
import { assertLoopbackOffset } from "../helpers/loopback-offset.js";

test("a client daemon measures a server daemon on loopback", { timeout: 60_000 }, async () => {
  const dir = await makeTempDir();
  const port = await freeUdpPort();
  const server = await startDaemon(dir, "server", primaryServerConfig(port));
  try {
    await server.waitForOutput(/serving NTP/, 20_000);
    await waitForUdpBound(port);
    const client = await startDaemon(dir, "client", clientConfig(`127.0.0.1:${port}`, 0));
    try {
      const newSource = await client.waitForOutput(/new source/, 20_000);
      assert.match(newSource, /address=127\.0\.0\.1:\d+/);
      assert.match(newSource, new RegExp(`source=127\\.0\\.0\\.1:${port}`));

      // Three measurements, about a second apart (poll 2^0 s).
      const deadline = Date.now() + 30_000;
      let lines: string[] = [];
      while (lines.length < 3 && Date.now() < deadline) {
        lines = client
          .output()
          .split("\n")
          .filter((l) => l.includes("measurement") && l.includes(`:${port}`));
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(lines.length >= 3, `expected 3 measurements, got:\n${client.output()}`);
      for (const line of lines.slice(0, 3)) {
        const m = parseMeasurement(line);
        assert.ok(m, `unparseable measurement line: ${line}`);
        // Same clock on both ends: what remains is timestamping error.
        assertLoopbackOffset(m.offset, m.delay, line);
        assert.ok(m.delay >= 0 && m.delay < 0.05, `delay out of range: ${line}`);
        assert.match(line, /stratum=1/);
      }
    } finally {
      const status = await client.stop();
      assert.equal(status.code, 0, `client exit: ${client.output()}`);
    }
  } finally {
    await server.stop();
    await dir.cleanup();
  }
});

test("a pool source resolves its name and measures each member", { timeout: 60_000 }, async () => {
  const dir = await makeTempDir();
  const port = await freeUdpPort();
  const server = await startDaemon(dir, "server", primaryServerConfig(port));
  try {
    await server.waitForOutput(/serving NTP/, 20_000);
    await waitForUdpBound(port);
    // "localhost" comes from /etc/hosts through the system resolver.
    const client = await startDaemon(
      dir,
      "pool-client",
      `[[source]]
mode = "pool"
address = "localhost:${port}"
count = 2
poll-interval-limits = { min = 0, max = 0 }
`,
    );
    try {
      const newSource = await client.waitForOutput(/new source/, 20_000);
      assert.match(newSource, new RegExp(`source=localhost:${port}`));
      assert.match(newSource, /address=(127\.0\.0\.1|\[::1\]):\d+/);
      const line = await client.waitForOutput(/measurement/, 20_000);
      const m = parseMeasurement(line);
      assert.ok(m, `bad measurement: ${line}`);
      assertLoopbackOffset(m.offset, m.delay, line);
    } finally {
      await client.stop();
    }
  } finally {
    await server.stop();
    await dir.cleanup();
  }
});
