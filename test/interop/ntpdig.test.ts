// NTPsec's ntpdig (an independent SNTP client) against our server on
// 127.0.0.1:123, the only port ntpdig speaks to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runNtpdig, ntpdigUnavailable } from "../helpers/ntpdig.js";
import { isUdpPortFree } from "../helpers/ports.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitForUdpBound } from "../helpers/wait.js";
import { primaryServerConfig, startDaemon } from "../daemon/run-daemon.js";

test("ntpdig gets time from our server on 127.0.0.1:123", { timeout: 60_000 }, async (t) => {
  if (skipIfMissing(t, ntpdigUnavailable())) return;
  if (process.getuid?.() !== 0) {
    t.skip("binding port 123 needs root here (CI runs as root)");
    return;
  }
  if (!(await isUdpPortFree(123))) {
    t.skip("UDP 127.0.0.1:123 is in use by another program on this machine");
    return;
  }
  const dir = await makeTempDir();
  const server = await startDaemon(dir, "server", primaryServerConfig(123));
  try {
    await server.waitForOutput(/serving NTP/, 20_000);
    await waitForUdpBound(123);
    const result = await runNtpdig({ host: "127.0.0.1", samples: 1 });
    assert.ok(result.ok, `ntpdig failed: ${result.stdout}\n${result.stderr}`);
    assert.equal(result.sample?.stratum, 1);
    assert.equal(result.sample?.leap, "no-leap");
    const offset = result.sample?.offset ?? NaN;
    assert.ok(Math.abs(offset) < 0.005, `offset ${offset}`);
  } finally {
    await server.stop();
    await dir.cleanup();
  }
});
