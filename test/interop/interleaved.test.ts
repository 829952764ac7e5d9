// Interleaved mode (docs/interleaved.md) between real daemons on loopback: ours
// with ours, and with chrony (4.x, `xleave`) in both directions. chronyd runs
// with -x and without CAP_SYS_TIME (test/helpers/chrony.ts): no clock is touched.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { chronyUnavailable, startChronyClient, startChronyServer } from "../helpers/chrony.js";
import { freeUdpPort } from "../helpers/ports.js";
import { GUIDE_HOST } from "../helpers/hosts.js";
import {
  chronyNtsPrerequisites,
  ntsClientConfig,
  startChronyNtsServer,
  startOurNtsServer,
} from "../helpers/nts-daemon.js";
import { makeTestPki } from "../helpers/pki.js";
import { skipIfMissing } from "../helpers/skip.js";
import type { Spawned } from "../helpers/process.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { remove, stop, testScope, type Scope } from "../helpers/scope.js";
import { sleep, waitFor, waitForUdpBound } from "../helpers/wait.js";
import {
  clientConfig,
  parseMeasurement,
  primaryServerConfig,
  startDaemon,
} from "../daemon/run-daemon.js";
import { assertLoopbackOffset } from "../helpers/loopback-offset.js";
import { getAddon, loadAddon } from "../../src/daemon/native/addon.js";

/** Interleaved mode needs the addon's kernel TX timestamps, on both sides. */
const addonUnavailable = (): string | undefined =>
  getAddon() === null ? `the native addon is not loaded: ${loadAddon().reason}` : undefined;

/** clientConfig with `interleaved = true` on its source. */
function interleavedClientConfig(address: string): string {
  return clientConfig(address, 0).replace(/(address = .*\n)/, "$1interleaved = true\n");
}

/**
 * Our daemon as a client with `config` (stopped when the test ends), and its
 * first measurement matching `pattern`: parsed, with a loopback offset.
 */
async function startClientUntil(
  scope: Scope,
  dir: TempDir,
  config: string,
  pattern: RegExp,
): Promise<{ client: Spawned; line: string; delay: number }> {
  const client = scope.own(await startDaemon(dir, "client", config), stop);
  const line = await client.waitForOutput(pattern, 30_000);
  const m = parseMeasurement(line);
  assert.ok(m, `unparseable: ${line}`);
  assertLoopbackOffset(m.offset, m.delay, line);
  return { client, line, delay: m.delay };
}

test(
  "our client and our server: measurements in interleaved mode from the third reply on",
  { timeout: 90_000 },
  async (t) => {
    if (skipIfMissing(t, addonUnavailable())) return;
    const scope = testScope(t);
    const dir = scope.own(await makeTempDir(), remove);
    const port = await freeUdpPort();
    const server = scope.own(await startDaemon(dir, "server", primaryServerConfig(port)), stop);
    const serving = await server.waitForOutput(/serving NTP/, 20_000);
    assert.match(serving, /interleaved=true/, serving);
    await waitForUdpBound(port);
    const { client, line, delay } = await startClientUntil(
      scope,
      dir,
      interleavedClientConfig(`127.0.0.1:${port}`),
      /measurement .*interleaved=true/,
    );
    assert.ok(delay > 0 && delay < 0.05, `delay out of range: ${line}`);
    // Once interleaved, it stays so: the next measurements are interleaved too.
    const more = await client.waitForOutput(/measurement .*interleaved=true/, 10_000);
    assert.ok(parseMeasurement(more), more);
  },
);

test(
  "chrony (xleave) as a client of our server gets interleaved replies",
  { timeout: 90_000 },
  async (t) => {
    if (skipIfMissing(t, chronyUnavailable() ?? addonUnavailable())) return;
    const scope = testScope(t);
    const dir = scope.own(await makeTempDir(), remove);
    const port = await freeUdpPort();
    const server = scope.own(await startDaemon(dir, "server", primaryServerConfig(port)), stop);
    await server.waitForOutput(/serving NTP/, 20_000);
    await waitForUdpBound(port);
    const chrony = scope.own(
      await startChronyClient({
        serverPort: port,
        sourceOptions: "iburst minpoll 0 maxpoll 0 xleave",
      }),
      stop,
    );
    const selected = await chrony.waitForSelected(40_000);
    assert.equal(selected.state, "*", "chrony selected our server");
    // chrony reports whether the last reply it took was interleaved.
    const deadline = Date.now() + 20_000;
    let data = await chrony.ntpdata();
    while (data[0]?.interleaved !== true && Date.now() < deadline) {
      await sleep(500);
      data = await chrony.ntpdata();
    }
    assert.equal(data[0]?.interleaved, true, JSON.stringify(data[0]?.raw));
    assert.equal(data[0]?.ntpTests, "111 111 1111", JSON.stringify(data[0]?.raw));
    // The response time is wire T3 - T2 of one reply: positive, well under a ms here.
    const response = data[0].responseTime;
    assert.ok(response >= 0 && response < 0.01, `response time ${response}`);
    assertLoopbackOffset(data[0].offset, data[0].peerDelay, JSON.stringify(data[0]?.raw));
  },
);

test(
  "our client (interleaved = true) with a chrony server: interleaved measurements",
  { timeout: 90_000 },
  async (t) => {
    if (skipIfMissing(t, chronyUnavailable() ?? addonUnavailable())) return;
    const scope = testScope(t);
    const dir = scope.own(await makeTempDir(), remove);
    const port = await freeUdpPort();
    const chrony = scope.own(await startChronyServer({ port, stratum: 1 }), stop);
    const { line, delay } = await startClientUntil(
      scope,
      dir,
      interleavedClientConfig(`127.0.0.1:${port}`),
      /measurement .*stratum=1.*interleaved=true/,
    );
    assert.ok(delay > 0 && delay < 0.05, `delay out of range: ${line}`);
    const stats = await chrony.serverstats();
    assert.ok(
      Number(stats["Interleaved NTP packets"]) > 0,
      `chrony answered none interleaved: ${JSON.stringify(stats)}`,
    );
  },
);

// ---- NTS: the same, authenticated (the T3 is inside what the seal covers) ----

/** Skips (or fails under CI) unless chrony, openssl, the addon and the hosts entry are there. */
const ntsPrerequisites = (t: TestContext): Promise<boolean> =>
  chronyNtsPrerequisites(t, addonUnavailable());

/** ntsClientConfig with `interleaved = true` on its source. */
function interleavedNtsClientConfig(address: string, caPath: string): string {
  return ntsClientConfig(address, caPath, 0).replace(/(address = .*\n)/, "$1interleaved = true\n");
}

test(
  "NTS: our client and our server, interleaved and authenticated",
  { timeout: 90_000 },
  async (t) => {
    if (!(await ntsPrerequisites(t))) return;
    const scope = testScope(t);
    const dir = scope.own(await makeTempDir("ntpd-ts-xleave-nts-"), remove);
    const { pki, kePort, server } = await startOurNtsServer(dir);
    scope.own(server, stop);
    const { client } = await startClientUntil(
      scope,
      dir,
      interleavedNtsClientConfig(`${GUIDE_HOST}:${kePort}`, pki.caCertPath),
      /measurement .*nts=true.*interleaved=true/,
    );
    assert.doesNotMatch(client.output(), /not-acknowledge|NTS key exchange failed/);
  },
);

test(
  "NTS: chrony (nts xleave) as a client of our server gets authenticated interleaved replies",
  { timeout: 90_000 },
  async (t) => {
    if (!(await ntsPrerequisites(t))) return;
    const scope = testScope(t);
    const dir = scope.own(await makeTempDir("ntpd-ts-xleave-nts-"), remove);
    const { pki, ntpPort, kePort, server } = await startOurNtsServer(dir);
    scope.own(server, stop);
    const chrony = scope.own(
      await startChronyClient({
        serverHost: GUIDE_HOST,
        sourceOptions: `iburst nts ntsport ${kePort} port ${ntpPort} minpoll 0 maxpoll 0 xleave`,
        extraConfig: [`ntstrustedcerts ${pki.caCertPath}`],
      }),
      stop,
    );
    await chrony.waitForSelected(40_000, GUIDE_HOST);
    const data = await waitFor(
      async () => {
        const d = (await chrony.ntpdata())[0];
        return d?.interleaved === true ? d : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500, what: "chrony to take an interleaved reply" },
    );
    assert.equal(data.authenticated, true, JSON.stringify(data.raw));
    assert.equal(data.ntpTests, "111 111 1111", JSON.stringify(data.raw));
    assertLoopbackOffset(data.offset, data.peerDelay, JSON.stringify(data.raw));
  },
);

test(
  "NTS: our client (interleaved = true) with a chrony NTS server: interleaved measurements",
  { timeout: 90_000 },
  async (t) => {
    if (!(await ntsPrerequisites(t))) return;
    const scope = testScope(t);
    const dir = scope.own(await makeTempDir("ntpd-ts-xleave-nts-"), remove);
    const pki = await makeTestPki(dir);
    const { kePort, chrony } = await startChronyNtsServer(await pki.issue("server", [GUIDE_HOST]));
    scope.own(chrony, stop);
    await startClientUntil(
      scope,
      dir,
      interleavedNtsClientConfig(`${GUIDE_HOST}:${kePort}`, pki.caCertPath),
      /measurement .*nts=true.*interleaved=true/,
    );
    const stats = await chrony.serverstats();
    assert.ok(Number(stats["Interleaved NTP packets"]) > 0, JSON.stringify(stats));
    assert.ok(Number(stats["Authenticated NTP packets"]) > 0, JSON.stringify(stats));
  },
);
