// NTS interop with chrony (4.3, GnuTLS), both directions, on loopback. A
// test PKI (test/helpers/pki.ts) issues the server certificate for
// ntpd-rs.test, which /etc/hosts maps to 127.0.0.1 (test/helpers/hosts.ts).
// chronyd runs with -x and without CAP_SYS_TIME (test/helpers/chrony.ts),
// and our daemon with --no-clock-control: nothing touches the clock.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { startChronyClient } from "../helpers/chrony.js";
import { GUIDE_HOST } from "../helpers/hosts.js";
import {
  keyExchanges,
  measurementOf,
  chronyNtsPrerequisites,
  ntsClientConfig,
  startChronyNtsServer,
  startOurNtsServer,
  waitForNtsMeasurements,
} from "../helpers/nts-daemon.js";
import { makeTestPki } from "../helpers/pki.js";
import { remove, stop, testScope } from "../helpers/scope.js";
import { makeTempDir } from "../helpers/tmp.js";
import { waitFor } from "../helpers/wait.js";
import { startDaemon } from "../daemon/run-daemon.js";
import { assertLoopbackOffset, assertOffsetWithin } from "../helpers/loopback-offset.js";

/** Skips (or fails under CI) unless chrony, openssl and the hosts entry are there. */
const prerequisites = (t: TestContext): Promise<boolean> => chronyNtsPrerequisites(t);

// At debug, our server answers the key exchange in TypeScript (and logs it); at info, the
// GnuTLS listener's fast path answers it without JavaScript (docs/nts.md).
for (const logLevel of ["debug", "info"] as const)
  test(
    `chrony as an NTS client of our server: NTS-KE, authenticated and selected (log level ${logLevel})`,
    { timeout: 90_000 },
    async (t) => {
      if (!(await prerequisites(t))) return;
      const scope = testScope(t);
      const dir = scope.own(await makeTempDir("ntpd-ts-nts-chrony-"), remove);
      const { pki, ntpPort, kePort, server } = await startOurNtsServer(dir, {
        keyStoragePath: dir.file("nts-keys"),
        logLevel,
      });
      scope.own(server, stop);
      // `port` is only the fallback: our NTS-KE server names the NTP port.
      const chrony = scope.own(
        await startChronyClient({
          serverHost: GUIDE_HOST,
          sourceOptions: `iburst nts ntsport ${kePort} port ${ntpPort} minpoll 0 maxpoll 0`,
          extraConfig: [`ntstrustedcerts ${pki.caCertPath}`],
        }),
        stop,
      );
      const selected = await chrony.waitForSelected(40_000, GUIDE_HOST);
      assert.equal(selected.stratum, 1);
      assertOffsetWithin(
        selected.measuredOffset,
        selected.error,
        `chronyc sources: ${JSON.stringify(selected)}`,
      );

      // The stash refills to chrony's 8 cookies once a reply or two have come.
      const auth = await waitFor(
        async () => {
          const a = (await chrony.authdata()).find((r) => r.name === GUIDE_HOST);
          return a && a.cookies === 8 ? a : undefined;
        },
        { timeoutMs: 15_000, intervalMs: 250, what: "chrony to hold 8 NTS cookies" },
      ).catch(async (e: unknown) => {
        throw new Error(
          `${(e as Error).message}\n${await chrony.chronyc(["-N", "authdata"])}\nlog:\n${await chrony.log()}`,
          { cause: e },
        );
      });
      assert.equal(auth.mode, "NTS");
      assert.equal(auth.naks, 0, "no NTS NAK");
      assert.equal(auth.attempts, 0, "no failed NTS-KE attempt since the last success");
      assert.ok(auth.cookieLength > 0);
      assert.ok(auth.keyLength > 0);

      const all = await chrony.ntpdata();
      assert.equal(all.length, 1, `one source: ${JSON.stringify(all)}`);
      const data = all[0]!;
      assert.equal(data.remoteAddress, "127.0.0.1");
      assert.equal(data.authenticated, true, "Authenticated: Yes");
      assert.equal(data.remotePort, ntpPort, "NTP on the port our NTS-KE server named");
      assert.equal(data.stratum, 1);
      assert.equal(data.referenceId, "54455354", "reference id TEST");
      assert.ok(data.totalValidRx > 0);

      if (logLevel === "debug") {
        const kes = server
          .output()
          .split("\n")
          .filter((l) => /NTS-KE key exchange/.test(l));
        assert.equal(kes.length, 1, `one NTS-KE with our server:\n${server.output()}`);
      }
    },
  );

test(
  "our NTS client of a chrony NTS server: key exchange and authenticated measurements",
  { timeout: 90_000 },
  async (t) => {
    if (!(await prerequisites(t))) return;
    const scope = testScope(t);
    const dir = scope.own(await makeTempDir("ntpd-ts-nts-chrony-"), remove);
    const pki = await makeTestPki(dir);
    const { ntpPort, kePort, chrony } = await startChronyNtsServer(
      await pki.issue("server", [GUIDE_HOST]),
    );
    scope.own(chrony, stop);
    const client = scope.own(
      await startDaemon(
        dir,
        "client",
        ntsClientConfig(`${GUIDE_HOST}:${kePort}`, pki.caCertPath, 0),
      ),
      stop,
    );
    const ke = await client.waitForOutput(/NTS key exchange succeeded/, 30_000);
    assert.match(ke, new RegExp(`source=${GUIDE_HOST}:${kePort} `));
    assert.match(ke, new RegExp(`ntp_server=[^ ]*:${ntpPort}\\b`), "chrony names its NTP port");
    assert.match(ke, /cookies=8\b/);
    const ms = await waitForNtsMeasurements(client, 3, 30_000);
    for (const l of ms) {
      const m = measurementOf(l);
      assertLoopbackOffset(m.offset, m.delay, l.line);
      assert.ok(m.delay >= 0 && m.delay < 0.05, `delay out of range: ${l.line}`);
      assert.equal(m.stratum, 1, l.line);
      assert.match(l.line, new RegExp(`address=127\\.0\\.0\\.1:${ntpPort} `));
    }
    assert.equal(keyExchanges(client.output()).length, 1);
    assert.doesNotMatch(client.output(), /not-acknowledge|NTS key exchange failed/);

    // chrony's side: it counted our key exchange and authenticated requests.
    const stats = await chrony.serverstats();
    // (One more connection is the helper's own readiness probe of the port.)
    assert.ok(Number(stats["NTS-KE connections accepted"]) >= 1, JSON.stringify(stats));
    assert.ok(Number(stats["Authenticated NTP packets"]) >= 3, JSON.stringify(stats));
  },
);
