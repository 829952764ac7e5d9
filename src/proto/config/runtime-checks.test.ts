// `ntp-ctl validate` warnings for the control socket and no-certificate-time-check.
import { test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "./parse.js";

function warnings(toml: string): string[] {
  const r = parseConfig(toml, "ntp.toml");
  assert.ok(r.ok, r.ok ? "" : JSON.stringify(r.errors));
  return r.warnings.map((w) => `${w.line}: ${w.message}`);
}

const NTS = '[[source]]\nmode = "nts"\naddress = "nts.example"\n';
const SYNC = "[synchronization]\nminimum-agreeing-sources = 1\n";

test("control-path and observation-path must differ", () => {
  const w = warnings(
    `${NTS}${SYNC}[observability]\nobservation-path = "/run/s"\ncontrol-path = "/run/s"\n`,
  );
  assert.deepEqual(w, [
    "8: [observability].control-path: the same path as observation-path; the two sockets need a path each",
  ]);
});

test("control-group without control-path does nothing", () => {
  const w = warnings(`${NTS}${SYNC}[observability]\ncontrol-group = "adm"\n`);
  assert.match(w.join("\n"), /control-group: has no effect without control-path/);
  assert.deepEqual(
    warnings(`${NTS}${SYNC}[observability]\ncontrol-path = "/run/c"\ncontrol-group = 4\n`),
    [],
  );
});

test("no-certificate-time-check without any NTS source does nothing", () => {
  const plain = '[[source]]\nmode = "server"\naddress = "a"\n';
  assert.match(
    warnings(
      `${plain}[synchronization]\nminimum-agreeing-sources = 1\nno-certificate-time-check = 1\n`,
    ).join(),
    /no-certificate-time-check: has no effect: there is no NTS source/,
  );
  assert.deepEqual(
    warnings(
      `${NTS}[synchronization]\nminimum-agreeing-sources = 1\nno-certificate-time-check = 1\n`,
    ),
    [],
  );
});

test("the keys' values are checked", () => {
  for (const [toml, pattern] of [
    ['[observability]\ncontrol-group = "bad name"\n', /group name/],
    ["[observability]\ncontrol-group = -1\n", /group name/],
    ['[observability]\ncontrol-path = ""\n', /non-empty file path/],
    ["[synchronization]\nno-certificate-time-check = -1\n", /no-certificate-time-check/],
    ["[synchronization]\nno-certificate-time-check = true\n", /no-certificate-time-check/],
  ] as const) {
    const r = parseConfig(toml, "ntp.toml");
    assert.ok(!r.ok, toml);
    assert.match(r.errors.map((e) => e.message).join("\n"), pattern);
  }
});
