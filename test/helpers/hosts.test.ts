// The /etc/hosts helper, on a scratch file: it appends one line when the name
// is missing, never twice (also when called concurrently), and never touches
// the other lines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { ensureHostsEntry, hostsAddresses } from "./hosts.js";
import { withTempDir } from "./tmp.js";

const ORIGINAL = "127.0.0.1 localhost\n::1 localhost ip6-localhost # v6\n# 10.0.0.1 ntpd-rs.test\n";

test("hostsAddresses reads names and aliases, ignoring comments", () => {
  assert.deepEqual(hostsAddresses(ORIGINAL, "localhost"), ["127.0.0.1", "::1"]);
  assert.deepEqual(hostsAddresses(ORIGINAL, "IP6-LOCALHOST"), ["::1"]);
  assert.deepEqual(hostsAddresses(ORIGINAL, "ntpd-rs.test"), [], "commented out");
  assert.deepEqual(hostsAddresses("127.0.0.1\tvm ntpd-rs.test\n", "ntpd-rs.test"), ["127.0.0.1"]);
});

test("ensureHostsEntry appends once and keeps every other line", async () => {
  await withTempDir(async (dir) => {
    const file = dir.file("hosts");
    await writeFile(file, ORIGINAL.trimEnd()); // no final newline
    assert.deepEqual(await ensureHostsEntry("127.0.0.1", "ntpd-rs.test", file), {
      ok: true,
      added: true,
    });
    assert.equal(await readFile(file, "utf8"), `${ORIGINAL}127.0.0.1 ntpd-rs.test\n`);
    assert.deepEqual(await ensureHostsEntry("127.0.0.1", "ntpd-rs.test", file), {
      ok: true,
      added: false,
    });
    assert.equal(await readFile(file, "utf8"), `${ORIGINAL}127.0.0.1 ntpd-rs.test\n`);
  });
});

test("ensureHostsEntry: concurrent calls add one line", async () => {
  await withTempDir(async (dir) => {
    const file = dir.file("hosts");
    await writeFile(file, ORIGINAL);
    const results = await Promise.all(
      Array.from({ length: 8 }, () => ensureHostsEntry("127.0.0.1", "ntpd-rs.test", file)),
    );
    assert.equal(results.filter((r) => r.ok && r.added).length, 1);
    assert.ok(results.every((r) => r.ok));
    assert.equal(await readFile(file, "utf8"), `${ORIGINAL}127.0.0.1 ntpd-rs.test\n`);
  });
});

test("ensureHostsEntry leaves a conflicting mapping alone and says so", async () => {
  await withTempDir(async (dir) => {
    const file = dir.file("hosts");
    await writeFile(file, "192.0.2.7 ntpd-rs.test\n");
    const r = await ensureHostsEntry("127.0.0.1", "ntpd-rs.test", file);
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.reason : "", /maps ntpd-rs\.test to 192\.0\.2\.7/);
    assert.equal(await readFile(file, "utf8"), "192.0.2.7 ntpd-rs.test\n");
  });
});
