import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDiagnostic } from "../proto/config/index.js";
import { configPermissionProblem, loadConfigFile } from "./config-file.js";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "ntpd-ts-config-"));
  try {
    await body(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("a readable file is parsed, and diagnostics name the file", async () => {
  await withDir(async (dir) => {
    const good = join(dir, "ntp.toml");
    await writeFile(good, '[[server]]\nlisten = "[::]:123"\n');
    const r = await loadConfigFile(good);
    assert.ok(r.ok);
    if (r.ok) assert.equal(r.config.servers[0]?.listen.port, 123);

    const bad = join(dir, "bad.toml");
    await writeFile(bad, '[[server]]\nlisten = "abc"\n');
    const b = await loadConfigFile(bad);
    assert.equal(b.ok, false);
    if (!b.ok)
      assert.match(
        formatDiagnostic(b.errors[0]!),
        new RegExp(`^${bad}:2:10: \\[\\[server\\]\\]\\.listen`),
      );
  });
});

test("a missing file is an error result, not an exception", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "missing.toml");
    const r = await loadConfigFile(path);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.deepEqual(r.errors.map(formatDiagnostic), [
        `${path}: cannot read the configuration file: no such file`,
      ]);
      assert.deepEqual(r.warnings, []);
    }
  });
});

test("a directory is an error result", async () => {
  await withDir(async (dir) => {
    const r = await loadConfigFile(dir);
    assert.equal(r.ok, false);
    if (!r.ok) {
      assert.equal(r.errors[0]?.line, 0);
      assert.equal(r.errors[0]?.message, "cannot read the configuration file: it is a directory");
    }
  });
});

test("invalid UTF-8 is refused rather than silently replaced", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "latin1.toml");
    await writeFile(path, Buffer.from([0x23, 0x20, 0xe9, 0x0a])); // "# é" in Latin-1
    const r = await loadConfigFile(path);
    assert.equal(r.ok, false);
    if (!r.ok) assert.match(r.errors[0]?.message ?? "", /not valid UTF-8/);
  });
});

test("a configuration file others can write is flagged; 0644 and 0600 are fine", () => {
  assert.equal(configPermissionProblem(0o100644), null);
  assert.equal(configPermissionProblem(0o100600), null);
  assert.match(configPermissionProblem(0o100666) ?? "", /changed by everyone \(mode 0666\)/);
  assert.match(configPermissionProblem(0o100664) ?? "", /changed by its group \(mode 0664\)/);
});
