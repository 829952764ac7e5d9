// `[synchronization] no-certificate-time-check` end to end: two real daemons
// on loopback. The server's NTS-KE certificate expired long ago by this
// machine's clock (which the test never changes). A client without the
// opt-in refuses it; a client with `no-certificate-time-check = 1` accepts it,
// marks the source, measures through it, and at its first clock update (on
// its virtual clock: --no-clock-control) checks the dates against that clock,
// still outside the window, drops the source and checks the dates in its
// next key exchange, which fails.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { makeTestPki } from "../helpers/pki.js";
import { freePort, freeUdpPort } from "../helpers/ports.js";
import type { Spawned } from "../helpers/process.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { waitForTcpPort, waitForUdpBound } from "../helpers/wait.js";
import { ntsClientConfig, ntsServerConfig } from "../helpers/nts-daemon.js";
import { startDaemon } from "../daemon/run-daemon.js";

describe("an NTS server whose certificate is out of its dates", { timeout: 180_000 }, () => {
  let dir: TempDir;
  let server: Spawned;
  let caPath: string;
  let kePort: number;
  const clients: Spawned[] = [];

  before(async () => {
    dir = await makeTempDir("ntpd-ts-no-rtc-");
    const pki = await makeTestPki(dir);
    caPath = pki.caCertPath;
    const cert = await pki.issue("server", ["localhost"], { expired: true });
    const ntpPort = await freeUdpPort();
    kePort = await freePort();
    server = await startDaemon(
      dir,
      "server",
      ntsServerConfig({ ntpPort, kePort, chainPath: cert.chainPath, keyPath: cert.keyPath }),
    );
    await server.waitForOutput(/serving NTS-KE/, 30_000);
    await waitForUdpBound(ntpPort);
    await waitForTcpPort(kePort);
  });

  after(async () => {
    for (const c of clients) await c.stop();
    await server?.stop();
    await dir?.cleanup();
  });

  test("without no-certificate-time-check the key exchange fails on the dates", async () => {
    const client = await startDaemon(dir, "strict", ntsClientConfig(`localhost:${kePort}`, caPath));
    clients.push(client);
    await client.waitForOutput(/NTS key exchange failed.*expired on 2020-02-01/, 30_000);
    assert.doesNotMatch(client.output(), /NTS key exchange succeeded/);
  });

  test("with it: accepted and marked, measured, then dropped at the first clock update", async () => {
    const toml = ntsClientConfig(`localhost:${kePort}`, caPath).replace(
      "[synchronization]\n",
      "[synchronization]\nno-certificate-time-check = 1\n",
    );
    const client = await startDaemon(dir, "relaxed", toml);
    clients.push(client);
    await client.waitForOutput(/WARN.*NTS certificate accepted although/, 30_000);
    await client.waitForOutput(/INFO.*measurement.*nts=true/, 60_000);
    await client.waitForOutput(
      /ERROR.*outside its validity dates by the updated clock: source dropped.*expired on 2020-02-01/,
      90_000,
    );
    await client.waitForOutput(/NTS key exchange failed.*expired on 2020-02-01/, 60_000);
    const output = client.output();
    const dropped = output.indexOf("source dropped");
    assert.equal(
      output.slice(dropped).match(/NTS key exchange succeeded/g),
      null,
      "no key exchange succeeds once the dates are checked",
    );
  });
});
