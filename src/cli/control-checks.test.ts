// `ntp-ctl validate` on this machine: the control socket's directory and group.
import { test } from "node:test";
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { parseConfig } from "../proto/config/index.js";
import { withTempDir } from "../../test/helpers/tmp.js";
import { controlSocketWarnings } from "./control-checks.js";

function config(toml: string) {
  const r = parseConfig(toml, "ntp.toml");
  assert.ok(r.ok);
  return r.config;
}

test("a missing directory and an unknown group name are warned about", async () => {
  await withTempDir(async (dir) => {
    const groups = dir.file("group");
    await writeFile(groups, "root:x:0:\nntpadm:x:990:alice\n");
    const ok = config(
      `[observability]\ncontrol-path = "${dir.file("c")}"\ncontrol-group = "ntpadm"\n`,
    );
    assert.deepEqual(controlSocketWarnings(ok, "f", groups), []);
    const numeric = config(
      `[observability]\ncontrol-path = "${dir.file("c")}"\ncontrol-group = 4242\n`,
    );
    assert.deepEqual(controlSocketWarnings(numeric, "f", groups), []);
    const bad = config(
      `[observability]\ncontrol-path = "${dir.file("missing", "c")}"\ncontrol-group = "wheel"\n`,
    );
    const text = controlSocketWarnings(bad, "f", groups)
      .map((w) => w.message)
      .join("\n");
    assert.match(text, /the directory .*missing does not exist/);
    assert.match(text, /no group "wheel" in /);
    assert.deepEqual(controlSocketWarnings(config(""), "f", groups), []);
  });
});
