// The feature gate: uses of unimplemented features are errors with their position, and
// removing an entry from UNIMPLEMENTED is all it takes to let the feature through.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic } from "./diagnostics.js";
import { findUnimplemented } from "./feature-gate.js";
import { parseConfig } from "./parse.js";
import { UNIMPLEMENTED } from "./unimplemented.js";

const EVERYTHING = [
  "[observability]", // 1
  'observation-path = "/run/ntpd-rs/observe"', // 2
  'metrics-exporter-listen = "127.0.0.1:9975"', // 3
  'log-path-metrics-exporter = "/var/log/e.log"', // 4
  "", // 5
  "[[source]]", // 6
  'mode = "nts"', // 7
  'address = "nts.example.com"', // 8
  "enable-srv-resolution = true", // 9
  'ntp-version = "auto"', // 10
  "[[source]]", // 11
  'mode = "nts-pool"', // 12
  'address = "pool.example.com"', // 13
  "[[source]]", // 14
  'mode = "sock"', // 15
  'path = "/s"', // 16
  "precision = 1", // 17
  "[[source]]", // 18
  'mode = "pps"', // 19
  'path = "/p"', // 20
  "precision = 1", // 21
  "[[source]]", // 22
  'mode = "csptp"', // 23
  'address = "ptp.example.com"', // 24
  "[[source]]", // 25
  'mode = "server"', // 26
  'address = "a.example.com"', // 27
  "ntp-version = 5", // 28
  "", // 29
  "[[nts-ke-server]]", // 30
  'listen = "[::]:4460"', // 31
  'certificate-chain-path = "c"', // 32
  'private-key-path = "k"', // 33
  "", // 34
  "[clock]", // 35
  'timestamp-mode = "software"', // 36
  "[[csptp-server]]", // 37
  'interface = "any"', // 38
  "[csptp]", // 39
  "event_port = 1319", // 40
].join("\n");

test("every feature of ntpd-rs's schema is implemented: nothing is refused by default", () => {
  assert.deepEqual(UNIMPLEMENTED, []);
  const r = parseConfig(EVERYTHING, "ntp.toml");
  assert.equal(r.ok, true, r.ok ? "" : r.errors.map(formatDiagnostic).join("\n"));
});

test("a gated feature is reported where it is used, once per use", () => {
  const gate = [
    { path: "source[].mode", value: "csptp", what: '[[source]] mode "csptp"' },
    { path: "clock", what: "[clock]" },
  ];
  const r = parseConfig(EVERYTHING, "ntp.toml", { unimplemented: gate });
  assert.equal(r.ok, false);
  if (r.ok) return;
  const suffix = " is not implemented yet in this version of ntpd-ts";
  assert.deepEqual(r.errors.map(formatDiagnostic), [
    `ntp.toml:23:1: [[source]] mode "csptp"${suffix}`,
    `ntp.toml:35:1: [clock]${suffix}`,
  ]);
});

test("with an empty list the same file is a valid config", () => {
  const r = parseConfig(EVERYTHING, "ntp.toml", { unimplemented: [] });
  assert.equal(r.ok, true);
});

test("removing one entry lets exactly that feature through", () => {
  const csptp = { path: "source[].mode", value: "csptp", what: '[[source]] mode "csptp"' };
  const pps = { path: "source[].mode", value: "pps", what: '[[source]] mode "pps"' };
  const text = '[[source]]\nmode = "csptp"\naddress = "192.0.2.1"\n';
  assert.equal(parseConfig(text, "ntp.toml", { unimplemented: [csptp, pps] }).ok, false);
  const r = parseConfig(text, "ntp.toml", { unimplemented: [pps] });
  assert.equal(r.ok, true);
  if (r.ok) assert.equal(r.config.sources[0]?.mode, "csptp");
});

test("csptp sources, [[csptp-server]] and [csptp] pass the gate (implemented)", () => {
  const text =
    '[[source]]\nmode = "csptp"\naddress = "192.0.2.1"\n' +
    '[[csptp-server]]\ninterface = "any"\n[csptp]\npriority_1 = 10\n';
  assert.equal(parseConfig(text, "ntp.toml").ok, true);
});

test("sock and pps sources pass the gate (implemented)", () => {
  const sock = '[[source]]\nmode = "sock"\npath = "/run/gpsd.sock"\nprecision = 1e-3\n';
  const pps = '[[source]]\nmode = "pps"\npath = "/dev/pps0"\nprecision = 1e-7\nperiod = 0.1\n';
  for (const text of [sock, pps]) assert.equal(parseConfig(text, "ntp.toml").ok, true, text);
});

test("values that are implemented pass the gate", () => {
  const fine = [
    '[[source]]\nmode = "server"\naddress = "a"\nntp-version = 4\n',
    '[[source]]\nmode = "server"\naddress = "a"\n',
    '[[source]]\nmode = "nts"\naddress = "a"\n',
    '[[source]]\nmode = "nts"\naddress = "a"\nenable-srv-resolution = true\n',
    '[[source]]\nmode = "nts-pool"\naddress = "a"\nenable-srv-resolution = true\ncount = 2\n',
    "[observability]\nobservation-permissions = 0o600\n",
    '[observability]\nobservation-path = "/run/ntpd-rs/observe"\n',
    '[observability]\nmetrics-exporter-listen = "127.0.0.1:9975"\n',
    '[observability]\nlog-path-metrics-exporter = "/var/log/e.log"\n',
  ];
  for (const text of fine) assert.equal(parseConfig(text, "ntp.toml").ok, true, text);
});

test("the gate walks only what is there and matches integers by value", () => {
  assert.deepEqual(findUnimplemented({ source: "not an array" }), []);
  assert.deepEqual(findUnimplemented({ observability: 5 }), []);
  const hits = findUnimplemented({ source: [{ "ntp-version": 5n }, { "ntp-version": 4n }] }, [
    { path: "source[].ntp-version", value: 5, what: "v5" },
  ]);
  assert.deepEqual(
    hits.map((h) => h.path),
    [["source", 0, "ntp-version"]],
  );
  const custom = findUnimplemented({ a: { b: [{ c: true }, { c: false }] } }, [
    { path: "a.b[].c", value: true, what: "c" },
    { path: "a.b[]", what: "b" },
  ]);
  assert.deepEqual(
    custom.map((h) => [h.path, h.at]),
    [
      [["a", "b", 0, "c"], "key"],
      [["a", "b", 0], "table"],
      [["a", "b", 1], "table"],
    ],
  );
});
