// Certificate validity dates, both sides of NTS-KE: the server warns about its
// own certificate (start, reload, and ahead of expiry); the client says whose
// certificate is out of date and since when.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import type { NtsKeServerConfig } from "../proto/config/types.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { makeTestPki, type Issued, type TestPki } from "../../test/helpers/pki.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { certificateDateProblem, expiryWarningLead } from "./certificate-dates.js";
import { createLogger, MemorySink } from "./log.js";
import { NtsKeServer } from "./nts-ke-server.js";
import { performKeyExchange, TrustStore } from "./nts-ke-client.js";
import { CredentialsWatcher } from "./tls-credentials.js";

const DAY = 86_400_000;
let pki: TestPki;
let expired: Issued;
let future: Issued;
let good: Issued;

before(async () => {
  pki = await makeTestPki(await makeTempDir("ntpd-ts-pki-dates-"));
  expired = await pki.issue("expired", ["localhost"], { expired: true });
  future = await pki.issue("future", ["localhost"], { notYetValid: true });
  good = await pki.issue("good", ["localhost"], { days: 90 });
});
after(async () => {
  await pki.dir.cleanup();
});

const leafOf = (issued: Issued) => new X509Certificate(readFileSync(issued.certPath));

function keConfig(issued: Issued): NtsKeServerConfig {
  return {
    listen: { address: "127.0.0.1", port: 0, family: 4 },
    certificateChainPath: issued.chainPath,
    privateKeyPath: issued.keyPath,
    keyExchangeTimeoutMs: 1000,
    concurrentConnections: 8,
    longlivedConnections: 1,
    ntpPort: null,
    ntpServer: null,
    acceptNtpVersions: [4],
    acceptedPoolAuthenticationTokens: [],
  };
}

test("the expiry warning comes 14 days ahead, or a third of a short lifetime", () => {
  assert.equal(expiryWarningLead(90 * DAY), 14 * DAY);
  assert.equal(expiryWarningLead(6 * DAY), 2 * DAY);
});

test("certificateDateProblem: expired, not yet valid, expiring soon, fine", () => {
  const leaf = leafOf(good);
  const notAfter = Date.parse(leaf.validTo);
  const notBefore = Date.parse(leaf.validFrom);
  assert.equal(certificateDateProblem(leaf, notBefore + DAY), null);
  assert.match(
    certificateDateProblem(leaf, notAfter - 3 * DAY) ?? "",
    /expires in 3 days, on \d{4}-\d\d-\d\dT/,
  );
  assert.match(certificateDateProblem(leaf, notAfter + 1000) ?? "", /expired on \d{4}-/);
  assert.match(certificateDateProblem(leaf, notBefore - 1000) ?? "", /not valid before \d{4}-/);
});

test("server: an expired or not yet valid certificate is a warning at start", async () => {
  for (const [issued, pattern] of [
    [expired, /WARN.*NTS-KE certificate.*expired on 2020-02-01T00:00:00Z/],
    [future, /WARN.*NTS-KE certificate.*not valid before 2090-01-01T00:00:00Z/],
  ] as const) {
    const sink = new MemorySink();
    const keyset = KeySet.generate((n) => new Uint8Array(n));
    const server = new NtsKeServer(
      keConfig(issued),
      { current: () => keyset },
      createLogger("info", sink),
    );
    await server.start();
    try {
      const text = sink.lines.join("");
      assert.match(text, pattern);
      assert.match(text, new RegExp(issued.chainPath.replace(/[.]/g, "\\.")));
      assert.equal(
        server.certificateNotAfter?.toISOString(),
        new Date(leafOf(issued).validTo).toISOString(),
      );
    } finally {
      server.stop();
    }
  }
});

test("server: a reload to an expired certificate warns; the daily check warns ahead of expiry", () => {
  const sink = new MemorySink();
  let now = Date.now();
  const watcher = new CredentialsWatcher(
    expired.chainPath,
    expired.keyPath,
    () => {},
    createLogger("info", sink),
    5_000,
    () => now,
  );
  assert.ok(watcher.reload("test"));
  assert.match(sink.lines.join(""), /WARN.*expired on 2020-02-01/);

  const fresh = new MemorySink();
  const daily = new CredentialsWatcher(
    good.chainPath,
    good.keyPath,
    () => {},
    createLogger("info", fresh),
    5_000,
    () => now,
  );
  assert.ok(daily.reload("test"));
  assert.doesNotMatch(fresh.lines.join(""), /WARN/);
  now = Date.parse(leafOf(good).validTo) - 5 * DAY;
  daily.checkDates();
  assert.match(fresh.lines.join(""), /WARN.*expires in 5 days/);
});

test("client: an expired server certificate names the server and the date, once", async () => {
  const keyset = KeySet.generate((n) => new Uint8Array(n));
  const server = new NtsKeServer(
    keConfig(expired),
    { current: () => keyset },
    createLogger("error", new MemorySink()),
  );
  await server.start();
  try {
    const trust = await TrustStore.fromFile(pki.caCertPath);
    await assert.rejects(
      performKeyExchange({ host: "localhost", port: server.port, trust }),
      (error: Error) => {
        assert.match(
          error.message,
          new RegExp(`certificate of localhost:${server.port} expired on 2020-02-01T00:00:00Z`),
        );
        assert.equal(error.message.match(/expired/g)?.length, 1, error.message);
        return true;
      },
    );
  } finally {
    server.stop();
  }
});
