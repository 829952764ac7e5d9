import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../proto/config/index.js";
import { makeTestPki, type Issued, type TestPki } from "../../test/helpers/pki.js";
import { makeTempDir } from "../../test/helpers/tmp.js";
import { machineWarnings } from "./config-checks.js";
import { randomBytes } from "node:crypto";
import { storeKeySet } from "../daemon/keyset-store.js";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { leapFileText } from "../proto/leap/leap-file-builder.js";
import { NTP_UNIX_OFFSET_SECONDS } from "../proto/time.js";

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

function syncWarnings(keys: string): string[] {
  const result = parseConfig(`[synchronization]\n${keys}\n`, "ntp.toml");
  assert.ok(result.ok);
  return machineWarnings(result.config, "ntp.toml").map((d) => d.message);
}

test("validate: the leap-seconds file must be readable, valid and not expired", async () => {
  const dir = await makeTempDir("ntpd-ts-leap-checks-");
  try {
    const now = Math.floor(Date.now() / 1000) + NTP_UNIX_OFFSET_SECONDS;
    const good = join(dir.path, "good.list");
    writeFileSync(
      good,
      leapFileText({ updated: now - 86_400, expires: now + 86_400 * 90, entries: [] }),
    );
    const old = join(dir.path, "old.list");
    writeFileSync(
      old,
      leapFileText({ updated: now - 86_400 * 300, expires: now - 86_400, entries: [] }),
    );
    const broken = join(dir.path, "broken.list");
    writeFileSync(broken, "#$ 1\n#@ 2\n2272060800 10\n");
    assert.deepEqual(syncWarnings(`leap-seconds-file = "${good}"`), []);
    assert.match(syncWarnings(`leap-seconds-file = "${old}"`)[0] ?? "", /old\.list:3: expired on/);
    assert.match(syncWarnings(`leap-seconds-file = "${broken}"`)[0] ?? "", /no #h \(hash\) line/);
    assert.match(syncWarnings(`leap-seconds-file = "${dir.path}/none"`)[0] ?? "", /no such file/);
  } finally {
    await dir.cleanup();
  }
});

test("validate: the drift file's directory must exist and be writable; a corrupt file is named", async () => {
  const dir = await makeTempDir("ntpd-ts-drift-checks-");
  try {
    assert.deepEqual(
      syncWarnings(`drift-file = "${dir.path}/ntp.drift"`),
      [],
      "not there yet: fine",
    );
    assert.match(
      syncWarnings(`drift-file = "${dir.path}/nope/ntp.drift"`)[0] ?? "",
      /drift-file .*: its directory .*nope: no such file/,
    );
    writeFileSync(join(dir.path, "bad.drift"), "x y\n");
    assert.match(
      syncWarnings(`drift-file = "${dir.path}/bad.drift"`)[0] ?? "",
      /bad\.drift:1: expected two numbers/,
    );
    if (process.getuid?.() !== 0) {
      const locked = join(dir.path, "locked");
      mkdirSync(locked, { mode: 0o500 });
      assert.match(
        syncWarnings(`drift-file = "${locked}/ntp.drift"`)[0] ?? "",
        /not writable by this user/,
      );
    }
  } finally {
    await dir.cleanup();
  }
});
