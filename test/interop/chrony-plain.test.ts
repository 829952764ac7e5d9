// Plain NTP interop with chrony, both directions, on loopback. chronyd runs
// with -x and without CAP_SYS_TIME (see test/helpers/chrony.ts), so neither
// side ever touches the clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chronyUnavailable, startChronyClient, startChronyServer } from "../helpers/chrony.js";
import { freeUdpPort } from "../helpers/ports.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitForUdpBound } from "../helpers/wait.js";
import {
  clientConfig,
  parseMeasurement,
  primaryServerConfig,
  startDaemon,
} from "../daemon/run-daemon.js";
import { assertLoopbackOffset, assertOffsetWithin } from "../helpers/loopback-offset.js";

test("chrony as a client of our server accepts and selects it", { timeout: 90_000 }, async (t) => {
  if (skipIfMissing(t, chronyUnavailable())) return;
  const dir = await makeTempDir();
  const port = await freeUdpPort();
  const server = await startDaemon(dir, "server", primaryServerConfig(port));
  try {
    await server.waitForOutput(/serving NTP/, 20_000);
    await waitForUdpBound(port);
    const chrony = await startChronyClient({ serverPort: port });
    try {
      const selected = await chrony.waitForSelected(40_000);
      assert.equal(selected.state, "*", "chrony selected our server");
      assert.equal(selected.stratum, 1);
      // chrony's offset is local minus source: same clock, so near zero.
      assertOffsetWithin(
        selected.measuredOffset,
        selected.error,
        `chronyc sources: ${JSON.stringify(selected)}`,
      );
      const data = await chrony.ntpdata();
      assert.equal(data[0]?.stratum, 1);
      assert.equal(data[0]?.referenceId, "54455354", "reference id TEST"); // "TEST" in hex
    } finally {
      await chrony.stop();
    }
  } finally {
    await server.stop();
    await dir.cleanup();
  }
});

test("our client measures a chrony server", { timeout: 90_000 }, async (t) => {
  if (skipIfMissing(t, chronyUnavailable())) return;
  const dir = await makeTempDir();
  const port = await freeUdpPort();
  const chrony = await startChronyServer({ port, stratum: 1 });
  try {
    const client = await startDaemon(dir, "client", clientConfig(`127.0.0.1:${port}`, 0));
    try {
      const line = await client.waitForOutput(/measurement .*stratum=1/, 30_000);
      const m = parseMeasurement(line);
      assert.ok(m, `unparseable: ${line}`);
      assertLoopbackOffset(m.offset, m.delay, line);
      assert.ok(m.delay >= 0 && m.delay < 0.05, `delay out of range: ${line}`);
    } finally {
      await client.stop();
    }
  } finally {
    await chrony.stop();
    await dir.cleanup();
  }
});
