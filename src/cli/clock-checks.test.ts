// `ntp-ctl validate` on this machine: the `[clock]` device must be a clock, the
// interface must exist. No clock device exists here, so the device is checked against
// paths that are not one (missing, a regular file, /dev/null); the interface against
// loopback and a name that does not exist.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { test } from "node:test";
import { parseConfig } from "../proto/config/index.js";
import { withTempDir } from "../../test/helpers/tmp.js";
import { clockWarnings } from "./clock-checks.js";

function config(toml: string) {
  const r = parseConfig(toml, "ntp.toml");
  assert.ok(r.ok);
  return r.config;
}

const messages = (toml: string) => clockWarnings(config(toml), "f").map((w) => w.message);

test("no [clock]: nothing to check", () => {
  assert.deepEqual(messages(""), []);
});

test("a clock path that is not a clock device is warned about, with why", async () => {
  await withTempDir(async (dir) => {
    const file = dir.file("regular");
    await writeFile(file, "x");
    for (const [path, why] of [
      [dir.file("missing"), /no such file/],
      [file, /not a clock device/],
      ["/dev/null", /not a clock device/],
    ] as const) {
      const m = messages(`[clock]\nclock = "${path}"\ntimestamp-mode = "kernel-all"\n`);
      assert.equal(m.length, 1, path);
      assert.match(m[0]!, /^\[clock\] cannot use clock device /);
      assert.match(m[0]!, why);
    }
  });
});

test("the interface must exist here", () => {
  assert.deepEqual(messages('[clock]\ninterface = "lo"\ntimestamp-mode = "kernel-all"\n'), []);
  assert.deepEqual(messages('[clock]\ninterface = "nosuch0"\ntimestamp-mode = "kernel-all"\n'), [
    "[clock] interface nosuch0: no such network interface",
  ]);
});

test("a device that checks out gives no warning", () => {
  const c = config('[clock]\nclock = "/dev/ptp0"\ntimestamp-mode = "kernel-all"\n');
  assert.deepEqual(clockWarnings(c, "f", { checkDevice: () => {} }), []);
});
