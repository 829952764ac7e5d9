// Booting without a real-time clock (`no-certificate-time-check`): over real
// NTS-KE connections on loopback, with certificates made for the test whose
// validity is in the future or the past of this machine's clock. The key
// exchange accepts a chain out of its dates only when asked, and still checks
// the chain, the name and the signatures; the policy checks the dates again
// after the configured number of clock updates, against a simulated clock
// (this machine's clock is never changed), keeping or dropping the source.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { NtsKeServerConfig, NtsSourceConfig } from "../proto/config/types.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { makeTestPki, type Issued, type TestPki } from "../../test/helpers/pki.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { waitFor } from "../../test/helpers/wait.js";
import { CertificateTimePolicy } from "./certificate-time-policy.js";
import { createLogger, MemorySink } from "./log.js";
import { NtsKeServer } from "./nts-ke-server.js";
import { performKeyExchange, TrustStore } from "./nts-ke-client.js";
import { NtsSpawner } from "./nts-spawner.js";
import type { SourceTask } from "./source-task.js";
import type { SpawnerContext } from "./spawners.js";

const DAY = 86_400_000;
const T0 = Date.now();
let pki: TestPki;
let other: TestPki;
/** Valid from 2 to 10 days from now: in the future of this clock, inside the CA's 30 days. */
let future: Issued;
let expired: Issued;
let good: Issued;
let futureWrongName: Issued;
let expiredOtherCa: Issued;
const servers: NtsKeServer[] = [];

before(async () => {
  pki = await makeTestPki(await makeTempDir("ntpd-ts-pki-rtc-"));
  other = await makeTestPki(await makeTempDir("ntpd-ts-pki-rtc-other-"));
  const validity = { from: new Date(T0 + 2 * DAY), until: new Date(T0 + 10 * DAY) };
  future = await pki.issue("future", ["localhost"], { validity });
  expired = await pki.issue("expired", ["localhost"], { expired: true });
  good = await pki.issue("good", ["localhost"], { days: 20 });
  futureWrongName = await pki.issue("wrong-name", ["other.example"], { validity });
  expiredOtherCa = await other.issue("other-ca", ["localhost"], { expired: true });
});
after(async () => {
  for (const server of servers) server.stop();
  await pki.dir.cleanup();
  await other.dir.cleanup();
});

function keConfig(issued: Issued): NtsKeServerConfig {
  return {
    listen: { address: "127.0.0.1", port: 0, family: 4 },
    certificateChainPath: issued.chainPath,
    privateKeyPath: issued.keyPath,
    keyExchangeTimeoutMs: 5000,
    concurrentConnections: 8,
    longlivedConnections: 1,
    ntpPort: null,
    ntpServer: null,
    acceptNtpVersions: [4],
    acceptedPoolAuthenticationTokens: [],
  };
}

async function serve(issued: Issued): Promise<number> {
  const keyset = KeySet.generate((n) => new Uint8Array(n));
  const server = new NtsKeServer(
    keConfig(issued),
    { current: () => keyset },
    createLogger("error", new MemorySink()),
  );
  await server.start();
  servers.push(server);
  return server.port;
}

async function exchange(issued: Issued, ignoreCertificateDates: boolean) {
  const port = await serve(issued);
  const trust = await TrustStore.fromFile(pki.caCertPath);
  return performKeyExchange({ host: "localhost", port, trust, ignoreCertificateDates });
}

describe("the NTS-KE client with certificate dates ignored", { timeout: 120_000 }, () => {
  test("a certificate valid only in the future: refused by default, accepted when asked", async () => {
    await assert.rejects(exchange(future, false), /is not valid before/);
    const result = await exchange(future, true);
    assert.ok(result.cookies.length > 0);
    const validity = result.uncheckedValidity;
    assert.ok(validity, "marked as accepted out of its dates");
    assert.equal(Math.round((validity.notBefore - T0) / DAY), 2);
    assert.equal(Math.round((validity.notAfter - T0) / DAY), 10);
  });

  test("an expired certificate: accepted when asked, its window in the past", async () => {
    await assert.rejects(exchange(expired, false), /expired on 2020-02-01/);
    const result = await exchange(expired, true);
    assert.equal(result.uncheckedValidity?.notAfter, Date.parse("2020-02-01T00:00:00Z"));
  });

  test("a certificate within its dates is not marked", async () => {
    const result = await exchange(good, true);
    assert.equal(result.uncheckedValidity, undefined);
  });

  test("the name is still checked", async () => {
    await assert.rejects(exchange(futureWrongName, true), /does not match the server name/);
  });

  test("the chain is still checked: an expired certificate of an unknown CA is refused", async () => {
    await assert.rejects(exchange(expiredOtherCa, true), /not trusted/);
  });
});

/** An NtsSpawner whose tasks do nothing, with the policy in its context. */
function spawnerFor(port: number, policy: CertificateTimePolicy, sink: MemorySink) {
  const started: SourceTask[] = [];
  const stopped: SourceTask[] = [];
  let ids = 0;
  const log = createLogger("info", sink);
  const context: SpawnerContext = {
    resolve: () => Promise.resolve([{ address: "127.0.0.1", family: 4 }]),
    createTask: (_config, name, address, taskPort) => {
      const task = {
        id: ++ids,
        name,
        address,
        port: taskPort,
        addressText: `${address.address}:${taskPort}`,
        stopped: false,
        start: () => {},
        stop: () => void ((task as { stopped: boolean }).stopped = true),
        source: { snapshot: () => ({ lastMeasurement: null }) },
      };
      return task as unknown as SourceTask;
    },
    log,
    certificateTimes: policy,
    onTaskStarted: (task) => void started.push(task),
    onTaskStopped: (task) => void stopped.push(task),
  };
  const config = {
    mode: "nts",
    address: { host: "localhost", port },
    certificateAuthority: pki.caCertPath,
  } as NtsSourceConfig;
  return { spawner: new NtsSpawner(config, context), started, stopped };
}

describe("checking the dates again after the clock updates", { timeout: 120_000 }, () => {
  test("the simulated clock moves into the window: the source is kept", async () => {
    const sink = new MemorySink();
    let now = T0;
    const policy = new CertificateTimePolicy(2, () => now, createLogger("info", sink));
    const { spawner, started, stopped } = spawnerFor(await serve(future), policy, sink);
    spawner.start();
    try {
      const task = await waitFor(() => started[0], { timeoutMs: 30_000, what: "a source" });
      assert.ok(spawner.datesUnchecked(task.id));
      assert.match(
        sink.lines.join(""),
        /WARN.*NTS certificate accepted although.*clock_updates=0 clock_updates_needed=2/,
      );
      policy.clockUpdated();
      assert.ok(spawner.datesUnchecked(task.id), "one update of two: not checked yet");
      now = T0 + 5 * DAY; // the first updates set the clock five days ahead
      policy.clockUpdated();
      assert.ok(!spawner.datesUnchecked(task.id));
      assert.deepEqual(stopped, []);
      assert.match(sink.lines.join(""), /within its validity dates by the updated clock/);
      assert.equal(policy.datesIgnored, false);
    } finally {
      spawner.stop();
    }
  });

  test("the clock stays outside the window: the source is dropped, the next exchange checks dates", async () => {
    const sink = new MemorySink();
    const policy = new CertificateTimePolicy(1, () => T0, createLogger("info", sink));
    const { spawner, started, stopped } = spawnerFor(await serve(future), policy, sink);
    spawner.start();
    try {
      const task = await waitFor(() => started[0], { timeoutMs: 30_000, what: "a source" });
      policy.clockUpdated();
      assert.deepEqual(stopped, [task]);
      assert.ok((task as unknown as { stopped: boolean }).stopped, "its socket closed");
      const text = () => sink.lines.join("");
      assert.match(
        text(),
        /ERROR.*outside its validity dates by the updated clock: source dropped.*not valid before/,
      );
      assert.match(
        text(),
        /NTS source needs a new key exchange.*certificate out of its validity dates/,
      );
      await waitFor(() => matchLine(text(), /NTS key exchange failed.*not valid before/), {
        timeoutMs: 30_000,
        what: "the next key exchange, with dates checked, to fail",
      });
      assert.equal(started.length, 1, "no new source");
    } finally {
      spawner.stop();
    }
  });

  test("without the opt-in, or once its count is used up, dates are checked at once", async () => {
    const sink = new MemorySink();
    const policy = new CertificateTimePolicy(0, () => T0, createLogger("info", sink));
    const { spawner, started } = spawnerFor(await serve(expired), policy, sink);
    spawner.start();
    try {
      await waitFor(
        () => matchLine(sink.lines.join(""), /NTS key exchange failed.*expired on 2020/),
        {
          timeoutMs: 30_000,
          what: "the key exchange to fail",
        },
      );
      assert.equal(started.length, 0);
    } finally {
      spawner.stop();
    }
  });
});

function matchLine(text: string, pattern: RegExp): string | undefined {
  return text.split("\n").find((line) => pattern.test(line));
}
