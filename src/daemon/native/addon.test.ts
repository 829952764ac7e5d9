import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ADDON_PATH, DISABLE_ENV, loadAddon, tryLoad } from "./addon.js";
import { nativeStatus } from "./status.js";
import { ABI_VERSION } from "./types.js";

// A checkout without a compiler has no addon: these tests then skip, unless
// NTPD_REQUIRE_ADDON=1 says the addon must be there (CI with a toolchain).
const required = process.env.NTPD_REQUIRE_ADDON === "1";
const built = existsSync(ADDON_PATH);

describe("addon loader", () => {
  it(
    "loads the built addon",
    { skip: built || required ? false : `not built: ${ADDON_PATH}` },
    () => {
      const r = tryLoad(ADDON_PATH, {});
      assert.equal(r.reason, null);
      assert.ok(r.addon);
      assert.equal(r.addon.abiVersion, ABI_VERSION);
      assert.equal(r.addon.CLOCK_REALTIME, 0);
      assert.equal(r.addon.CLOCK_MONOTONIC, 1);
      assert.equal(r.addon.CLOCK_TAI, 11);
    },
  );

  it("says why when disabled, missing or broken, and never throws", () => {
    const disabled = tryLoad(ADDON_PATH, { [DISABLE_ENV]: "1" });
    assert.equal(disabled.addon, null);
    assert.match(disabled.reason, /disabled by NTPD_NO_ADDON=1/);

    const missing = tryLoad("/nonexistent/ntpd_native.node", {});
    assert.equal(missing.addon, null);
    assert.match(missing.reason, /not built: .* does not exist/);

    const dir = mkdtempSync(join(tmpdir(), "ntpd-addon-"));
    try {
      const garbage = join(dir, "ntpd_native.node");
      writeFileSync(garbage, "not an ELF file");
      const broken = tryLoad(garbage, {});
      assert.equal(broken.addon, null);
      assert.match(broken.reason, /failed to load/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("caches one result", () => {
    assert.equal(loadAddon(), loadAddon());
  });
});

describe("native status", () => {
  it("matches the loader and explains itself in one line", () => {
    const s = nativeStatus();
    const r = loadAddon();
    assert.equal(s.inUse, r.addon !== null);
    assert.equal(s.reason, r.reason);
    assert.equal(s.path, ADDON_PATH);
    assert.ok(!s.message.includes("\n"));
    if (!s.inUse) assert.ok(s.message.includes(r.reason!));
  });
});
