// The chrony and ntpdig helpers against the real programs: chrony as a plain
// server answered by ntpdig (port 123), and a chrony client selecting a chrony
// server. Loopback only; chronyd never controls the clock (-x, no CAP_SYS_TIME).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { chronyUnavailable, startChronyClient, startChronyServer, type Chrony } from "./chrony.js";
import { runNtpdig, ntpdigUnavailable } from "./ntpdig.js";
import { freeUdpPort, isUdpPortFree } from "./ports.js";
import { isAlive } from "./process.js";
import { ntpQuery } from "./ntp-probe.js";
import { skipIfMissing } from "./skip.js";

test("chrony as a plain server on 127.0.0.1:123 answers ntpdig", async (t) => {
  if (skipIfMissing(t, chronyUnavailable() ?? ntpdigUnavailable())) return;
  if (!(await isUdpPortFree(123))) {
    t.skip("127.0.0.1:123 is in use by another process, and ntpdig only queries port 123");
    return;
  }
  let server: Chrony;
  try {
    server = await startChronyServer({ port: 123 });
  } catch (e) {
    if (!(await isUdpPortFree(123))) {
      t.skip(`127.0.0.1:123 was taken by another process while chronyd started: ${String(e)}`);
      return;
    }
    throw e;
  }
  try {
    const r = await runNtpdig({ timeoutS: 2 });
    assert.ok(r.ok, `ntpdig failed: code ${r.code}, ${r.stderr}${r.stdout}`);
    assert.equal(r.sample!.stratum, 1);
    assert.equal(r.sample!.leap, "no-leap");
    assert.equal(r.sample!.ip, "127.0.0.1");
    // Same clock on both ends: the offset is ntpdig's own jitter.
    assert.ok(Math.abs(r.sample!.offset) < 0.01, `offset ${r.sample!.offset}`);
    const stats = await server.serverstats();
    assert.ok(Number(stats["NTP packets received"]) >= 1, JSON.stringify(stats));
  } finally {
    await server.stop();
  }
  assert.equal(isAlive(server.pid), false);
  assert.equal(existsSync(server.dir), false);
});

test("runNtpdig reports a failed query without throwing", async (t) => {
  if (skipIfMissing(t, ntpdigUnavailable())) return;
  // Nothing listens on 127.0.0.2:123 (chronyd above binds 127.0.0.1 only): ICMP unreachable.
  if (!(await isUdpPortFree(123, "127.0.0.2"))) {
    t.skip("something listens on 127.0.0.2:123");
    return;
  }
  const r = await runNtpdig({ host: "127.0.0.2", timeoutS: 1 });
  assert.equal(r.ok, false);
  assert.equal(r.sample, undefined);
});

test("chrony client selects a chrony server within 20 s", async (t) => {
  if (skipIfMissing(t, chronyUnavailable())) return;
  const port = await freeUdpPort();
  const server = await startChronyServer({ port });
  let client: Chrony | undefined;
  try {
    const probe = await ntpQuery(port, "127.0.0.1", 1000);
    assert.ok(probe, "server did not answer a probe");
    assert.equal(probe.mode, 4);
    assert.equal(probe.stratum, 1);

    client = await startChronyClient({ serverPort: port });
    const t0 = Date.now();
    const selected = await client.waitForSelected(20000, "127.0.0.1");
    t.diagnostic(`selected after ${Date.now() - t0} ms`);
    assert.equal(selected.mode, "^");
    assert.equal(selected.stratum, 1);
    assert.ok(Math.abs(selected.measuredOffset) < 1e-3, `offset ${selected.measuredOffset}`);

    const [nd] = await client.ntpdata();
    assert.ok(nd, "no ntpdata");
    assert.equal(nd.remoteAddress, "127.0.0.1");
    assert.equal(nd.remotePort, port);
    assert.equal(nd.mode, "Server");
    assert.equal(nd.stratum, 1);
    assert.equal(nd.authenticated, false);
    assert.equal(nd.leapStatus, "Normal");
    assert.ok(nd.totalValidRx >= 1);
    assert.ok(Math.abs(nd.offset) < 1e-3, `offset ${nd.offset}`);

    const [ss] = await client.sourcestats();
    assert.equal(ss?.name, "127.0.0.1");
    assert.ok(ss.samples >= 1);

    const [ad] = await client.authdata();
    assert.equal(ad?.mode, "-");

    const tracking = await client.tracking();
    assert.equal(tracking["Stratum"], "2");
    assert.equal(tracking["Leap status"], "Normal");
  } finally {
    await client?.stop();
    await server.stop();
  }
  assert.equal(isAlive(server.pid), false);
  if (client) assert.equal(isAlive(client.pid), false);
});

test("startChronyServer refuses a port in use (chronyd would share it via SO_REUSEPORT)", async (t) => {
  if (skipIfMissing(t, chronyUnavailable())) return;
  const port = await freeUdpPort();
  const first = await startChronyServer({ port });
  try {
    await assert.rejects(startChronyServer({ port, name: "second" }), /already in use/);
  } finally {
    await first.stop();
  }
});

test("startChrony reports a chronyd that exits during startup, with its log", async (t) => {
  if (skipIfMissing(t, chronyUnavailable())) return;
  const port = await freeUdpPort();
  await assert.rejects(
    startChronyServer({ port, extraConfig: ["nosuchdirective 1"], name: "broken" }),
    (e: Error) =>
      /broken exited/.test(e.message) &&
      /Invalid directive at line \d+/.test(e.message) &&
      /nosuchdirective 1/.test(e.message),
  );
});
