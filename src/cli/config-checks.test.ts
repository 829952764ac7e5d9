import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../proto/config/index.js";
import { makeTestPki, type Issued, type TestPki } from "../../test/helpers/pki.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { machineWarnings } from "./config-checks.js";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { storeKeySet } from "../daemon/keyset-store.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";

let pki: TestPki;
let expired: Issued;
let good: Issued;

before(async () => {
  pki = await makeTestPki(await makeTempDir("ntpd-ts-pki-checks-"));
  expired = await pki.issue("expired", ["localhost"], { expired: true });
  good = await pki.issue("good", ["localhost"], { days: 90 });
});
after(async () => {
  await pki.dir.cleanup();
});

function warningsFor(issued: Issued): string[] {
  const toml = `[[nts-ke-server]]\nlisten = "127.0.0.1:4460"\ncertificate-chain-path = "${issued.chainPath}"\nprivate-key-path = "${issued.keyPath}"\n`;
  const result = parseConfig(toml, "ntp.toml");
  assert.ok(result.ok);
  return machineWarnings(result.config, "ntp.toml").map((d) => d.message);
}

test("validate: an expired NTS-KE certificate is a warning naming the file and the date", () => {
  const [warning, ...rest] = warningsFor(expired);
  assert.equal(rest.length, 0);
  assert.match(
    warning ?? "",
    /certificate-chain-path: the certificate in .*expired\.chain\.pem expired on 2020-02-01T00:00:00Z/,
  );
  assert.deepEqual(warningsFor(good), []);
});

test("validate: a follower's key file must be there and valid; the primary's only creatable", async () => {
  const dir = await makeTempDir("ntpd-ts-follower-checks-");
  try {
    const warnings = (role: string, path: string) => {
      const toml = `[keyset]\nrole = "${role}"\nkey-storage-path = "${path}"\n`;
      const result = parseConfig(toml, "ntp.toml");
      assert.ok(result.ok);
      return machineWarnings(result.config, "ntp.toml").map((d) => d.message);
    };
    const missing = dir.file("nts-keys");
    assert.deepEqual(warnings("primary", missing), [], "the primary creates a missing file");
    assert.match(
      warnings("follower", missing).join(""),
      /cannot read .*nts-keys.*a follower does not start without the key file its primary writes/,
    );
    writeFileSync(missing, "garbage");
    assert.match(warnings("follower", missing).join(""), /is not a valid key file/);
    storeKeySet(
      missing,
      KeySet.generate((n) => randomBytes(n)),
      1_800_000_000,
    );
    assert.deepEqual(warnings("follower", missing), []);
  } finally {
    await dir.cleanup();
  }
});
