// The ntpd-rs guide's own NTS walk-through (docs/development/ca.md of
// ntpd-rs), automated: a private CA and a server certificate made with
// exactly the guide's openssl commands (only -passout/-passin and -subj
// added, to make them non-interactive), the guide's /etc/hosts line, the
// guide's server config (with its older `key-exchange-listen` key) and NTS
// client config, on unprivileged loopback ports instead of 123/4460.
//
// Then the server is restarted with the same config and key file: the client
// must go on measuring with the cookies it got before the restart, without a
// new key exchange, which is what `[keyset] key-storage-path` is for.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { ensureLoopbackName, GUIDE_HOST } from "../helpers/hosts.js";
import {
  keyExchanges,
  measurementOf,
  ntsClientConfig,
  ntsMeasurements,
  waitForNtsMeasurements,
} from "../helpers/nts-daemon.js";
import { freePort, freeUdpPort } from "../helpers/ports.js";
import { describeExit, runCommand, which, type Spawned } from "../helpers/process.js";
import { skipIfMissing } from "../helpers/skip.js";
import { makeTempDir } from "../helpers/tmp.js";
import { sleep, waitForTcpPort, waitForUdpBound } from "../helpers/wait.js";
import { startDaemon } from "../daemon/run-daemon.js";
import { assertLoopbackOffset } from "../helpers/loopback-offset.js";

/** How long the server stays stopped during the restart. */
const DOWN_MS = 2500;
const PASSPHRASE = "ntpd-rs guide test CA"; // the guide asks for one interactively

async function sh(cwd: string, command: string, args: string[]): Promise<void> {
  const r = await runCommand(command, args, { cwd, timeoutMs: 60_000 });
  if (r.timedOut || r.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${r.timedOut ? "timed out" : describeExit(r)}):\n${r.stderr}${r.stdout}`,
    );
  }
}

/** The guide's section "Root certificate" and "Server certificate", command by command. */
async function guidePki(ca: string): Promise<void> {
  const pass = `pass:${PASSPHRASE}`;
  // genrsa takes the key size last, so -passout goes before it.
  await sh(ca, "openssl", ["genrsa", "-des3", "-out", "ca.key", "-passout", pass, "2048"]);
  await sh(ca, "openssl", [
    ...["req", "-x509", "-new", "-nodes", "-key", "ca.key", "-sha256", "-days", "1825"],
    ...["-out", "ca.pem", "-passin", pass, "-subj", "/CN=ntpd-rs guide test CA"],
  ]);
  await sh(ca, "openssl", ["genrsa", "-out", "ntpd-rs.test.key", "2048"]);
  await sh(ca, "openssl", [
    ...["req", "-new", "-key", "ntpd-rs.test.key", "-out", "ntpd-rs.test.csr"],
    ...["-subj", "/CN=ntpd-rs.test"],
  ]);
  await writeFile(
    `${ca}/ntpd-rs.ext`,
    [
      "authorityKeyIdentifier=keyid,issuer",
      "basicConstraints=CA:FALSE",
      "keyUsage = keyEncipherment",
      "subjectAltName = @alt_names",
      "",
      "[alt_names]",
      "DNS.1 = ntpd-rs.test",
      "",
    ].join("\n"),
  );
  await sh(ca, "openssl", [
    ...["x509", "-req", "-in", "ntpd-rs.test.csr", "-CA", "ca.pem", "-CAkey", "ca.key"],
    ...["-CAcreateserial", "-out", "ntpd-rs.test.crt", "-days", "1825", "-sha256"],
    ...["-extfile", "ntpd-rs.ext", "-passin", pass],
  ]);
  await sh(ca, "sh", ["-c", "cat ntpd-rs.test.crt ca.pem > ntpd-rs.test.chain.pem"]);
}

/** The guide's server: `[[nts-ke-server]] key-exchange-listen`, chain and key. */
function guideServerConfig(ca: string, ntpPort: number, kePort: number, keys: string): string {
  return `[observability]
log-level = "debug"

[[server]]
listen = "127.0.0.1:${ntpPort}"

[[nts-ke-server]]
key-exchange-listen = "127.0.0.1:${kePort}"
certificate-chain-path = "${ca}/ntpd-rs.test.chain.pem"
private-key-path = "${ca}/ntpd-rs.test.key"
ntp-port = ${ntpPort}

[keyset]
key-storage-path = "${keys}"

# The guide's server has upstream sources; this one serves its own clock.
[synchronization]
local-stratum = 1
`;
}

function countMatching(output: string, pattern: RegExp): number {
  return output.split("\n").filter((l) => pattern.test(l)).length;
}

test(
  "the ntpd-rs guide's NTS walk-through works, and a server restart keeps the client's cookies valid",
  { timeout: 150_000 },
  async (t) => {
    if (skipIfMissing(t, which("openssl") ? undefined : "openssl is not installed")) return;
    const hosts = await ensureLoopbackName(GUIDE_HOST);
    if (skipIfMissing(t, hosts.ok ? undefined : hosts.reason)) return;

    const dir = await makeTempDir("ntpd-ts-guide-");
    const procs: Spawned[] = [];
    try {
      const ca = dir.file("ca-data");
      await sh(dir.path, "mkdir", [ca]);
      await guidePki(ca);
      assert.match(
        await readFile(`${ca}/ca.key`, "utf8"),
        /ENCRYPTED/,
        "the CA key has a passphrase",
      );
      const chain = await readFile(`${ca}/ntpd-rs.test.chain.pem`, "utf8");
      assert.equal(chain.match(/BEGIN CERTIFICATE/g)?.length, 2, "chain = server cert + CA");

      const ntpPort = await freeUdpPort();
      const kePort = await freePort();
      const keys = dir.file("nts-keys");
      const serverToml = guideServerConfig(ca, ntpPort, kePort, keys);
      const startServer = async (name: string) => {
        const s = await startDaemon(dir, name, serverToml);
        procs.push(s);
        await s.waitForOutput(/serving NTS-KE/, 30_000);
        await s.waitForOutput(/ntp-daemon started/, 30_000);
        await waitForUdpBound(ntpPort);
        await waitForTcpPort(kePort);
        return s;
      };

      const server1 = await startServer("server");
      assert.match(server1.output(), /starting with new set/, "first start makes the key file");

      const client = await startDaemon(
        dir,
        "client",
        ntsClientConfig(`${GUIDE_HOST}:${kePort}`, `${ca}/ca.pem`, 1),
      );
      procs.push(client);
      const ke = await client.waitForOutput(/NTS key exchange succeeded/, 30_000);
      assert.match(ke, new RegExp(`source=${GUIDE_HOST}:${kePort} `));
      assert.match(ke, new RegExp(`ntp_server=[^ ]*:${ntpPort}\\b`), "NTP port from the KE server");
      assert.match(ke, /cookies=8\b/);

      const before = await waitForNtsMeasurements(client, 3, 30_000);
      for (const l of before) {
        const m = measurementOf(l);
        assertLoopbackOffset(m.offset, m.delay, l.line);
        assert.ok(m.delay >= 0 && m.delay < 0.05, `delay out of range: ${l.line}`);
        assert.equal(m.stratum, 1, l.line);
      }
      assert.equal(keyExchanges(client.output()).length, 1);
      assert.equal(countMatching(server1.output(), /NTS-KE key exchange/), 1);

      // Restart the server: same config, same key file. It stays down for
      // a few of the client's 2 s polls, which go unanswered (each costs the
      // client a cookie, well short of its 8 and of the 8 polls, 16 s, after
      // which it would call the source unreachable: a loaded machine may take
      // several seconds to start the server again).
      const keyFile = await readFile(keys);
      const down = Date.now();
      const stopStatus = await server1.stop();
      assert.equal(
        stopStatus.code,
        0,
        `server exit (${describeExit(stopStatus)}):\n${server1.output()}`,
      );
      await sleep(DOWN_MS);
      const server2 = await startServer("server");
      const up = Date.now();
      assert.match(server2.output(), /loaded nts server keys/, "restart reads the stored keys");
      assert.doesNotMatch(server2.output(), /starting with new set/);
      assert.ok((await readFile(keys)).equals(keyFile), "the key file is unchanged");

      // Measurements answered by the restarted server (polls while it was
      // down just went unanswered), still with the first key exchange's keys.
      const after = await waitForNtsMeasurements(client, 3, 40_000, up);
      for (const l of after) {
        const m = measurementOf(l);
        assertLoopbackOffset(m.offset, m.delay, l.line);
        assert.equal(m.stratum, 1, l.line);
      }
      const lastBefore = ntsMeasurements(client.output())
        .filter((m) => m.at < down)
        .at(-1)!;
      assert.ok(
        after[0]!.at - lastBefore.at >= DOWN_MS,
        `a gap in the measurements while the server was down:\n${lastBefore.line}\n${after[0]!.line}`,
      );
      const out = client.output();
      assert.equal(
        keyExchanges(out).length,
        1,
        `no new key exchange after the restart (server down ${up - down} ms):\n${out}`,
      );
      assert.doesNotMatch(out, /needs a new key exchange|not-acknowledge|NTS key exchange failed/);
      assert.equal(
        countMatching(server2.output(), /NTS-KE key exchange/),
        0,
        `the restarted server did no key exchange:\n${server2.output()}`,
      );
      t.diagnostic(`server down for ${up - down} ms during the restart`);

      const clientStatus = await client.stop();
      assert.equal(clientStatus.code, 0, `client exit:\n${client.output()}`);
    } finally {
      for (const p of procs.reverse()) await p.stop();
      await dir.cleanup();
    }
  },
);
