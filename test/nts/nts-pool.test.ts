// An NTS pool on loopback, every part ours and a separate daemon: two back
// ends (NTP + NTS-KE servers accepting the pool's token, 127.0.0.1 and
// 127.0.0.2, each with its own cookie keys), a pool front
// ([[nts-pool-ke-server]]) listing them and a dead third one (127.0.0.3),
// and clients:
//   - an `nts-pool` source (count 2) through the front: two distinct back
//     ends, authenticated NTS replies from both (their NTP servers accept the
//     cookies the front relayed);
//   - our KE client straight at the front: a denied back end is not handed
//     out again, the dead one never is;
//   - an `nts-pool` and an `nts` source with SRV resolution through the test
//     DNS responder (NTPD_TS_TEST_DNS_SERVER), and an `nts` source whose SRV
//     answer is not DNSSEC-validated (refused, falls back to the name).
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { readObservation } from "../../src/cli/observation-client.js";
import { performKeyExchange, TrustStore } from "../../src/daemon/nts-ke-client.js";
import { DAEMON_ENTRY, startDaemon } from "../daemon/run-daemon.js";
import { startDnsResponder } from "../helpers/dns-responder.js";
import { keyExchanges, waitForNtsMeasurements } from "../helpers/nts-daemon.js";
import { makeTestPki } from "../helpers/pki.js";
import { freePort, freeUdpPort } from "../helpers/ports.js";
import { spawnProcess, which, type Spawned } from "../helpers/process.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitFor, waitForTcpPort, waitForUdpBound } from "../helpers/wait.js";

const root = new URL("../..", import.meta.url).pathname;
const TOKEN = "pool-token-for-tests";

function backendConfig(o: {
  address: string;
  ntpPort: number;
  kePort: number;
  chainPath: string;
  keyPath: string;
}): string {
  return `[observability]
log-level = "info"

[[server]]
listen = "${o.address}:${o.ntpPort}"

[[nts-ke-server]]
listen = "${o.address}:${o.kePort}"
certificate-chain-path = "${o.chainPath}"
private-key-path = "${o.keyPath}"
ntp-server = "${o.address}"
ntp-port = ${o.ntpPort}
accepted-pool-authentication-tokens = ["${TOKEN}"]

[synchronization]
local-stratum = 1
reference-id = "TEST"
`;
}

test("an NTS pool front hands clients on to two back ends", async (t) => {
  if (skipIfMissing(t, which("openssl") ? undefined : "openssl is not installed")) return;
  const dir = await makeTempDir();
  const started: Spawned[] = [];
  t.after(async () => {
    for (const p of started.reverse()) await p.stop();
    await dir.cleanup();
  });
  const pki = await makeTestPki(dir);
  const backends = [
    { address: "127.0.0.1", name: "a.pool.test" },
    { address: "127.0.0.2", name: "b.pool.test" },
  ];
  const running: { address: string; ntpPort: number; kePort: number; name: string }[] = [];
  for (const b of backends) {
    const cert = await pki.issue(b.name, [b.address, b.name]);
    const ntpPort = await freeUdpPort(b.address);
    const kePort = await freePort(b.address);
    const config = backendConfig({
      address: b.address,
      ntpPort,
      kePort,
      chainPath: cert.chainPath,
      keyPath: cert.keyPath,
    });
    started.push(await startDaemon(dir, `backend-${b.address}`, config));
    running.push({ ...b, ntpPort, kePort });
  }
  for (const [i, b] of running.entries()) {
    await started[i]!.waitForOutput(/serving NTS-KE/, 60_000);
    await waitForUdpBound(b.ntpPort, b.address);
    await waitForTcpPort(b.kePort, b.address);
  }
  const deadPort = await freePort("127.0.0.3");

  const frontCert = await pki.issue("front", ["127.0.0.1"]);
  const frontPort = await freePort();
  const front = await startDaemon(
    dir,
    "front",
    `[observability]
log-level = "info"
observation-path = "${dir.file("front.observe")}"

[[nts-pool-ke-server]]
listen = "127.0.0.1:${frontPort}"
certificate-chain-path = "${frontCert.chainPath}"
private-key-path = "${frontCert.keyPath}"
certificate-authority = "${pki.caCertPath}"
key-exchange-servers = [
  { address = "127.0.0.3:${deadPort}", authentication-token = "${TOKEN}" },
  { address = "127.0.0.1:${running[0]!.kePort}", authentication-token = "${TOKEN}" },
  { address = "127.0.0.2:${running[1]!.kePort}", authentication-token = "${TOKEN}" },
]
`,
  );
  started.push(front);
  await front.waitForOutput(/serving NTS pool key exchange/, 60_000);
  await waitForTcpPort(frontPort);

  const ntpServers = new Set(running.map((b) => `${b.address}:${b.ntpPort}`));

  await t.test("an nts-pool source with count 2 gets both back ends and NTS replies", async () => {
    const client = await startDaemon(
      dir,
      "client",
      `[observability]
log-level = "info"

[[source]]
mode = "nts-pool"
address = "127.0.0.1:${frontPort}"
certificate-authority = "${pki.caCertPath}"
count = 2
poll-interval-limits = { min = 0, max = 0 }

[synchronization]
minimum-agreeing-sources = 1
`,
    );
    started.push(client);
    const measured = await waitFor(
      () => {
        const seen = new Set<string>();
        for (const m of waitable(client)) seen.add(m);
        return seen.size >= 2 ? seen : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 200, what: "NTS measurements from both back ends" },
    ).catch((e: unknown) => {
      throw new Error(`${(e as Error).message}\n${client.output()}\n${front.output()}`, {
        cause: e,
      });
    });
    assert.deepEqual(measured, ntpServers);
    const exchanged = keyExchanges(client.output()).map(
      (l) => /ntp_server=(\S+)/.exec(l.line)?.[1],
    );
    assert.deepEqual(new Set(exchanged.slice(0, 2)), ntpServers, client.output());
    assert.ok(!/127\.0\.0\.3/.test(client.output()), "the dead back end is never handed out");
    await client.stop();
  });

  await t.test("a denied back end is not handed out again; the dead one is skipped", async () => {
    const trust = await TrustStore.fromFile(pki.caCertPath);
    const ke = (denyServers: string[]) =>
      performKeyExchange({ host: "127.0.0.1", port: frontPort, trust, denyServers });
    for (let i = 0; i < 4; i++) {
      const r = await ke(["127.0.0.1"]);
      assert.equal(r.ntpServer, "127.0.0.2");
      assert.equal(r.ntpPort, running[1]!.ntpPort);
      assert.equal(r.cookies.length, 8);
    }
    for (let i = 0; i < 4; i++) assert.equal((await ke(["127.0.0.2"])).ntpServer, "127.0.0.1");
    const seen = new Set<string>();
    for (let i = 0; i < 6; i++) seen.add((await ke([])).ntpServer);
    assert.deepEqual(seen, new Set(["127.0.0.1", "127.0.0.2"]));
    assert.match(front.output(), /NTS pool back end unusable, trying the next.*127\.0\.0\.3/);
    assert.doesNotMatch(front.output(), /could not serve a client/);
  });

  await t.test("the observation counts what the front did", async () => {
    const o = await readObservation(dir.file("front.observe"));
    const [pool] = o.nts_pool_ke_servers ?? [];
    assert.ok(pool, Object.keys(o).join(","));
    assert.equal(pool.address, `127.0.0.1:${frontPort}`);
    assert.equal(pool.backends, 3);
    // The two subtests above: 14 key exchanges here, at least 2 by the nts-pool source.
    assert.ok(pool.stats.delegated >= 16, JSON.stringify(pool));
    assert.ok(pool.stats.connections >= pool.stats.delegated, JSON.stringify(pool));
    assert.deepEqual([pool.stats.rejected, pool.stats.failed], [0, 0]);
    assert.ok(pool.stats.backend_failures >= 1, "the dead back end was tried");
  });

  await t.test("SRV resolution: validated answers name the KE servers", async (tt) => {
    const dns = await startDnsResponder({
      srv: {
        "_ntske._tcp.pool.test": running.map((b) => ({
          priority: 1,
          weight: 1,
          port: b.kePort,
          target: b.name,
        })),
        "_ntske._tcp.one.test": [
          { priority: 1, weight: 1, port: running[1]!.kePort, target: running[1]!.name },
        ],
        "_ntske._tcp.unsigned.test": [
          { priority: 1, weight: 1, port: running[0]!.kePort, target: running[0]!.name },
        ],
      },
      a: Object.fromEntries(running.map((b) => [b.name, [b.address]])),
      insecure: ["_ntske._tcp.unsigned.test"],
    });
    tt.after(() => dns.close());
    const config = dir.file("srv-client.toml");
    await writeFile(
      config,
      `[observability]
log-level = "info"

[[source]]
mode = "nts-pool"
address = "pool.test"
enable-srv-resolution = true
certificate-authority = "${pki.caCertPath}"
count = 2
poll-interval-limits = { min = 0, max = 0 }

[[source]]
mode = "nts"
address = "one.test"
enable-srv-resolution = true
certificate-authority = "${pki.caCertPath}"
poll-interval-limits = { min = 0, max = 0 }

[[source]]
mode = "nts"
address = "unsigned.test"
enable-srv-resolution = true
certificate-authority = "${pki.caCertPath}"

[synchronization]
minimum-agreeing-sources = 1
`,
    );
    const client = await spawnProcess(
      process.execPath,
      ["--import", "tsx", DAEMON_ENTRY, "-c", config, "--no-clock-control"],
      {
        cwd: root,
        name: "srv-client",
        env: {
          ...process.env,
          NTPD_TS_FORBID_CLOCK_CONTROL: "1",
          NTPD_TS_TEST_DNS_SERVER: `127.0.0.1:${dns.port}`,
        },
      },
    );
    started.push(client);
    await waitForNtsMeasurements(client, 6, 90_000);
    const one = keyExchanges(client.output()).filter((l) =>
      l.line.includes("source=one.test:4460"),
    );
    assert.match(
      one[0]?.line ?? "",
      new RegExp(`ntp_server=127\\.0\\.0\\.2:${running[1]!.ntpPort}`),
    );
    const exchanged = keyExchanges(client.output())
      .filter((l) => l.line.includes("source=pool.test:4460"))
      .map((l) => /ntp_server=(\S+)/.exec(l.line)?.[1]);
    assert.deepEqual(new Set(exchanged), ntpServers, client.output());
    assert.ok(dns.queries.includes("_ntske._tcp.pool.test SRV"), dns.queries.join("\n"));
    await client.waitForOutput(/no usable SRV records.*not DNSSEC-validated/, 30_000);
    await client.stop();
  });
});

/** "address" of each NTS measurement line of `proc` so far. */
function waitable(proc: Spawned): string[] {
  if (proc.exitStatus()) throw new Error(`${proc.name} exited:\n${proc.output()}`);
  return proc
    .output()
    .split("\n")
    .filter((l) => / measurement .*nts=true/.test(l))
    .map((l) => /address=(\S+)/.exec(l)?.[1] ?? "");
}
