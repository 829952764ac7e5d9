// NTS interop with NTPsec (1.2.2, OpenSSL), both directions. NTPsec's ports
// are fixed (NTP 123, NTS-KE 4460 on every address), so each test makes a
// private network namespace with only a loopback (test/helpers/netns.ts) and
// runs NTPsec and our daemon inside it (`ip netns exec NS ...`); the
// namespace and everything in it goes when the test ends. NTPsec comes from
// the Debian package unpacked by .ci/run (it conflicts with chrony as a
// package) and runs without CAP_SYS_TIME and with `disable ntp` / `disable
// kernel`; our daemon with --no-clock-control (test/helpers/ntpsec.ts).
//
// NTPsec as a server has no local reference clock: it is configured as an
// orphan-mode server (`tos orphan 1 orphanwait 0`), so it serves stratum 1
// at once instead of stratum 16, and our client's usual measurement lines
// (not "response not usable" ones) are the proof of authenticated replies.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { ensureLoopbackName, GUIDE_HOST } from "../helpers/hosts.js";
import { createNetns, netnsUnavailable, type Netns } from "../helpers/netns.js";
import {
  keyExchanges,
  measurementOf,
  ntsClientConfig,
  ntsServerConfig,
  startDaemonInNetns,
  waitForNtsMeasurements,
} from "../helpers/nts-daemon.js";
import {
  ntpsecUnavailable,
  startNtpsec,
  type Ntpsec,
  type NtpsecAssociation,
} from "../helpers/ntpsec.js";
import { makeTestPki } from "../helpers/pki.js";
import { which, type Spawned } from "../helpers/process.js";
import { skipIfMissing } from "../helpers/skip.js";
import { remove, stop, testScope } from "../helpers/scope.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { assertLoopbackOffset } from "../helpers/loopback-offset.js";

/** Inside the private namespace every port is free: the ones PEERS.md uses. */
const OUR_NTP_PORT = 11123;
const OUR_KE_PORT = 14460;

/** Skips (or fails under CI) unless everything is there; then makes the namespace. */
async function setUp(t: TestContext): Promise<Netns | undefined> {
  if (skipIfMissing(t, which("openssl") ? undefined : "openssl is not installed")) return;
  if (skipIfMissing(t, netnsUnavailable())) return;
  if (skipIfMissing(t, await ntpsecUnavailable())) return;
  const hosts = await ensureLoopbackName(GUIDE_HOST);
  if (skipIfMissing(t, hosts.ok ? undefined : hosts.reason)) return;
  try {
    return await createNetns("ntpdts-ntpsec");
  } catch (e) {
    skipIfMissing(t, `cannot make a private network namespace: ${(e as Error).message}`);
    return undefined;
  }
}

async function withLog<T>(ntpsec: Ntpsec, what: Promise<T>): Promise<T> {
  try {
    return await what;
  } catch (e) {
    throw new Error(`${(e as Error).message}\nNTPsec log:\n${await ntpsec.log()}`, { cause: e });
  }
}

test(
  "NTPsec as an NTS client of our server: NTS-KE, authenticated association, selected",
  { timeout: 120_000 },
  async (t) => {
    const ns = await setUp(t);
    if (!ns) return;
    const scope = testScope(t);
    scope.own(ns, (n) => n.delete());
    const dir = scope.own(await makeTempDir("ntpd-ts-nts-ntpsec-"), remove);
    const pki = await makeTestPki(dir);
    const cert = await pki.issue("server", [GUIDE_HOST]);
    const server = await startDaemonInNetns(
      ns,
      dir,
      "server",
      ntsServerConfig({
        ntpPort: OUR_NTP_PORT,
        kePort: OUR_KE_PORT,
        chainPath: cert.chainPath,
        keyPath: cert.keyPath,
        keyStoragePath: dir.file("nts-keys"),
        // info: the key exchange is answered by the GnuTLS listener's fast path.
        logLevel: "info",
      }),
    );
    scope.own(server, stop);
    await server.waitForOutput(/serving NTS-KE/, 30_000);
    await server.waitForOutput(/ntp-daemon started/, 30_000);

    const ntpsec = await startNtpsec({
      netns: ns,
      dir,
      config: [
        `server ${GUIDE_HOST}:${OUR_KE_PORT} nts ca ${pki.caCertPath} iburst minpoll 0 maxpoll 0`,
        "tos minsane 1 minclock 1",
      ],
    });
    scope.own(ntpsec, stop);
    const got = await ntpsec.waitForLog(/NTSc: Got \d+ cookies/, 30_000);
    assert.match(got, /Got 8 cookies/);
    assert.match(await ntpsec.log(), new RegExp(`NTSc: Using port ${OUR_NTP_PORT}\\b`));

    // The association: authenticated (NTS), reachable and chosen.
    let last: NtpsecAssociation[] = [];
    const assoc = await withLog(
      ntpsec,
      waitFor(
        async () => {
          last = await ntpsec.associations();
          return last.find((a) => a.auth === "ok" && a.condition === "sys.peer");
        },
        { timeoutMs: 45_000, intervalMs: 500, what: "an authenticated sys.peer association" },
      ).catch((e: unknown) => {
        throw new Error(`${(e as Error).message}\nassociations: ${JSON.stringify(last)}`, {
          cause: e,
        });
      }),
    );
    assert.equal(assoc.reach, "yes");
    const vars = await ntpsec.readvars(assoc.assid);
    assert.equal(vars.srchost, `${GUIDE_HOST}:${OUR_KE_PORT}`);
    assert.equal(vars.srcport, String(OUR_NTP_PORT), "NTP on the port our NTS-KE server named");
    assert.equal(vars.stratum, "1");
    assert.equal(vars.refid, "TEST");
    // ntpq prints the flash bits in hex as "00" or "0x0" (both seen): no bit set, no test failed.
    assert.equal(
      Number.parseInt(vars.flash ?? "", 16),
      0,
      `no test failed: ${JSON.stringify(vars)}`,
    );
    assert.ok(Number(vars.ntscookies) > 0, `NTPsec holds cookies: ${JSON.stringify(vars)}`);
    assert.match(
      vars.status ?? "",
      /^f6/,
      "status: configured, authenb, auth, reachable, sys.peer",
    );
    assert.ok(Math.abs(Number(vars.offset)) < 5, `offset (ms) ${vars.offset}`);

    // Our server logs no exchange at info (the fast path answers it): NTPsec's log counts.
    const ntpsecLog = await ntpsec.log();
    const kes = ntpsecLog.split("\n").filter((l) => /NTSc: Got \d+ cookies/.test(l));
    assert.equal(kes.length, 1, `one NTS-KE with our server:\n${ntpsecLog}`);
  },
);

test(
  "our NTS client of an NTPsec NTS server: key exchange and authenticated measurements",
  { timeout: 120_000 },
  async (t) => {
    const ns = await setUp(t);
    if (!ns) return;
    const scope = testScope(t);
    scope.own(ns, (n) => n.delete());
    const dir = scope.own(await makeTempDir("ntpd-ts-nts-ntpsec-"), remove);
    const pki = await makeTestPki(dir);
    const cert = await pki.issue("server", [GUIDE_HOST]);
    const ntpsec = await startNtpsec({
      netns: ns,
      dir,
      config: [
        "nts enable",
        `nts key ${cert.keyPath}`,
        `nts cert ${cert.chainPath}`,
        `nts cookie ${dir.file("ntpsec-nts-keys")}`,
        // No reference clock: serve as an orphan-mode parent at once.
        "tos orphan 1 orphanwait 0",
      ],
    });
    scope.own(ntpsec, stop);
    await ntpsec.waitForLog(/NTSs: listen4 worked/, 30_000);
    await ntpsec.waitForLog(/Listen normally on \d+ lo 127\.0\.0\.1:123/, 30_000);

    const client: Spawned = await startDaemonInNetns(
      ns,
      dir,
      "client",
      ntsClientConfig(`${GUIDE_HOST}:4460`, pki.caCertPath, 0),
    );
    scope.own(client, stop);
    const ke = await withLog(ntpsec, client.waitForOutput(/NTS key exchange succeeded/, 30_000));
    assert.match(ke, new RegExp(`source=${GUIDE_HOST}:4460 `));
    assert.match(ke, /ntp_server=[^ ]*:123\b/, "NTP on 123 (NTPsec sends no Port record)");
    assert.match(ke, /cookies=8\b/);
    const ms = await withLog(ntpsec, waitForNtsMeasurements(client, 3, 40_000));
    for (const l of ms) {
      const m = measurementOf(l);
      assertLoopbackOffset(m.offset, m.delay, l.line);
      assert.ok(m.delay >= 0 && m.delay < 0.05, `delay out of range: ${l.line}`);
      assert.equal(m.stratum, 1, l.line);
      assert.match(l.line, /address=127\.0\.0\.1:123 /);
    }
    assert.equal(keyExchanges(client.output()).length, 1);
    assert.doesNotMatch(client.output(), /not-acknowledge|NTS key exchange failed/);
    assert.match(await ntpsec.log(), /NTSs: NTS-KE from 127\.0\.0\.1/);
  },
);
