// Errors: position (line:column), key path and message for wrong types, bad values, unknown
// and missing keys, aliases and syntax errors.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic } from "./diagnostics.js";
import type { ConfigDiagnostic } from "./diagnostics.js";
import { parseConfig } from "./parse.js";

function errors(text: string, ungated = false): ConfigDiagnostic[] {
  const r = parseConfig(text, "ntp.toml", ungated ? { unimplemented: [] } : {});
  assert.equal(r.ok, false, "expected errors");
  return r.ok ? [] : r.errors;
}

function formatted(text: string, ungated = false): string[] {
  return errors(text, ungated).map(formatDiagnostic);
}

test("the two examples of the design notes", () => {
  const lines = [
    "# ntp.toml", // 1
    "[observability]", // 2
    'log-level = "info"', // 3
    "", // 4
    "[[source]]", // 5
    'mode = "pool"', // 6
    'address = "pool.example.com"', // 7
    "", // 8
    "[[server]]", // 9
    'listen = "[::]:123"', // 10
    "", // 11
    "[[source]]", // 12
    'mode = "nts"', // 13
    'certificate-autority = "/etc/ca.pem"', // 14
    'address = "nts.example.com"', // 15
  ];
  assert.deepEqual(formatted(lines.join("\n"), true), [
    'ntp.toml:14:1: [[source]] mode "nts": unknown key "certificate-autority" (did you mean "certificate-authority"?)',
  ]);
  assert.deepEqual(formatted('[[server]]\n\nlisten = "abc"\n'), [
    'ntp.toml:3:10: [[server]].listen: expected a socket address like "[::]:123" or "0.0.0.0:123", got "abc": missing port',
  ]);
});

interface TypeCase {
  /** Lines before the bad one (a header, required keys). */
  before: string[];
  line: string;
  path: string;
  message: string;
  /** Column of the reported value when it is not right after `key = `. */
  column?: number;
}

const SRC = ["[[source]]", 'mode = "server"', 'address = "a.example"'];
const POOL = ["[[source]]", 'mode = "pool"', 'address = "p.example"'];
const NTS = ["[[source]]", 'mode = "nts"', 'address = "n.example"'];
const SOCK = ["[[source]]", 'mode = "sock"', 'path = "/s"'];
const PPS = ["[[source]]", 'mode = "pps"', 'path = "/dev/pps0"', "precision = 1e-6"];
const CSPTP = ["[[source]]", 'mode = "csptp"', 'address = "c.example"'];
const SERVER = ["[[server]]", 'listen = "0.0.0.0:123"'];
const CSPTP_SERVER = ["[[csptp-server]]"];
const CSPTP_SECTION = ["[csptp]"];
const KE = [
  "[[nts-ke-server]]",
  'listen = "[::]:4460"',
  'certificate-chain-path = "c"',
  'private-key-path = "k"',
];
const OBS = ["[observability]"];
const SYNC = ["[synchronization]"];
const ALG = ["[synchronization.algorithm]"];

const TYPE_CASES: TypeCase[] = [
  {
    before: OBS,
    line: 'log-level = "verbose"',
    path: "observability.log-level",
    message:
      '[observability].log-level: expected one of "trace", "debug", "info", "warn" or "error", got "verbose"',
  },
  {
    before: OBS,
    line: 'log-level = "Info"',
    path: "observability.log-level",
    message:
      '[observability].log-level: expected one of "trace", "debug", "info", "warn" or "error", got "Info" (did you mean "info"?)',
  },
  {
    before: OBS,
    line: "log-path = 5",
    path: "observability.log-path",
    message: "[observability].log-path: expected a non-empty file path, got 5",
  },
  {
    before: OBS,
    line: 'ansi-colors = "yes"',
    path: "observability.ansi-colors",
    message: '[observability].ansi-colors: expected true or false, got "yes"',
  },
  {
    before: OBS,
    line: "observation-permissions = 4294967296",
    path: "observability.observation-permissions",
    message:
      "[observability].observation-permissions: expected an integer from 0 to 4294967295, got 4294967296",
  },
  {
    before: OBS,
    line: 'metrics-exporter-listen = "localhost:9975"',
    path: "observability.metrics-exporter-listen",
    message:
      '[observability].metrics-exporter-listen: expected a socket address like "[::]:123" or "0.0.0.0:123", got "localhost:9975": "localhost" is not an IP address',
  },
  {
    before: ["[daemon]"],
    line: "server-threads = 0",
    path: "daemon.server-threads",
    message: '[daemon].server-threads: expected an integer from 1 to 256, or "auto", got 0',
  },
  {
    before: ["[daemon]"],
    line: 'server-threads = "all"',
    path: "daemon.server-threads",
    message: '[daemon].server-threads: expected an integer from 1 to 256, or "auto", got "all"',
  },
  {
    before: ["[daemon]"],
    line: "server-threads = 2.0",
    path: "daemon.server-threads",
    message: '[daemon].server-threads: expected an integer from 1 to 256, or "auto", got 2.0',
  },
  {
    before: ["[keyset]"],
    line: "stale-key-count = -1",
    path: "keyset.stale-key-count",
    message: "[keyset].stale-key-count: expected a non-negative integer, got -1",
  },
  {
    before: ["[keyset]"],
    line: "key-rotation-interval = 1.5",
    path: "keyset.key-rotation-interval",
    message: "[keyset].key-rotation-interval: expected a non-negative integer, got 1.5",
  },
  {
    before: ["[keyset]"],
    line: 'key-storage-path = ""',
    path: "keyset.key-storage-path",
    message: '[keyset].key-storage-path: expected a non-empty file path, got ""',
  },
  {
    before: SYNC,
    line: 'minimum-agreeing-sources = "3"',
    path: "synchronization.minimum-agreeing-sources",
    message: '[synchronization].minimum-agreeing-sources: expected a non-negative integer, got "3"',
  },
  {
    before: SYNC,
    line: "single-step-panic-threshold = -1",
    path: "synchronization.single-step-panic-threshold",
    message:
      '[synchronization].single-step-panic-threshold: expected a number of seconds (0 or more) or "inf", or a table { forward = ..., backward = ... } of those, got -1',
  },
  {
    before: SYNC,
    line: 'startup-step-panic-threshold = { forward = "x" }',
    path: "synchronization.startup-step-panic-threshold.forward",
    message:
      '[synchronization].startup-step-panic-threshold.forward: expected a number of seconds (0 or more) or "inf", got "x"',
    column: 44,
  },
  {
    before: SYNC,
    line: 'accumulated-step-panic-threshold = "inf"',
    path: "synchronization.accumulated-step-panic-threshold",
    message:
      '[synchronization].accumulated-step-panic-threshold: "inf" is not accepted here, expected a finite number of seconds (0 or more); use 0 or leave the key out to disable this limit',
  },
  {
    before: SYNC,
    line: "warn-on-jump = 1",
    path: "synchronization.warn-on-jump",
    message: "[synchronization].warn-on-jump: expected true or false, got 1",
  },
  {
    before: SYNC,
    line: "local-stratum = 256",
    path: "synchronization.local-stratum",
    message: "[synchronization].local-stratum: expected an integer from 1 to 16, got 256",
  },
  {
    before: SYNC,
    line: 'reference-id = "ABCDE"',
    path: "synchronization.reference-id",
    message:
      '[synchronization].reference-id: expected up to 4 ASCII characters, like "GPS" or "XNON", got "ABCDE"',
  },
  {
    before: ALG,
    line: 'step-threshold = "x"',
    path: "synchronization.algorithm.step-threshold",
    message: '[synchronization.algorithm].step-threshold: expected a finite number, got "x"',
  },
  {
    before: ALG,
    line: "delay-outlier-threshold = nan",
    path: "synchronization.algorithm.delay-outlier-threshold",
    message:
      "[synchronization.algorithm].delay-outlier-threshold: expected a finite number, got nan",
  },
  {
    before: ALG,
    line: "precision-hysteresis = 1.5",
    path: "synchronization.algorithm.precision-hysteresis",
    message:
      "[synchronization.algorithm].precision-hysteresis: expected an integer from -2147483648 to 2147483647, got 1.5",
  },
  {
    before: ALG,
    line: 'ignore-server-dispersion = "no"',
    path: "synchronization.algorithm.ignore-server-dispersion",
    message:
      '[synchronization.algorithm].ignore-server-dispersion: expected true or false, got "no"',
  },
  {
    before: ALG,
    line: "meddling-threshold = inf",
    path: "synchronization.algorithm.meddling-threshold",
    message:
      '[synchronization.algorithm].meddling-threshold: "inf" is not accepted here, expected a finite number of seconds (0 or more)',
  },
  {
    before: ["[source-defaults]"],
    line: "poll-interval-limits = { min = 4 }",
    path: "source-defaults.poll-interval-limits",
    message: '[source-defaults].poll-interval-limits: missing required key "max"',
  },
  {
    before: ["[source-defaults]"],
    line: "initial-poll-interval = 200",
    path: "source-defaults.initial-poll-interval",
    message:
      "[source-defaults].initial-poll-interval: expected an integer from -128 to 127, got 200",
  },
  {
    before: ["[[source]]", 'mode = "server"'],
    line: "address = 5",
    path: "source[0].address",
    message:
      '[[source]].address: expected an address like "time.example.com", "time.example.com:123" or "[2001:db8::1]:123", got 5',
  },
  {
    before: SRC,
    line: "poll-interval-limits = { min = 200 }",
    path: "source[0].poll-interval-limits.min",
    message: "[[source]].poll-interval-limits.min: expected an integer from -128 to 127, got 200",
    column: 32,
  },
  {
    before: SRC,
    line: "ntp-version = 3",
    path: "source[0].ntp-version",
    message: '[[source]].ntp-version: expected 4, 5 or "auto", got 3',
  },
  {
    before: SRC,
    line: 'initial-poll-interval = "4"',
    path: "source[0].initial-poll-interval",
    message: '[[source]].initial-poll-interval: expected an integer from -128 to 127, got "4"',
  },
  {
    before: POOL,
    line: "count = 4.0",
    path: "source[0].count",
    message: "[[source]].count: expected a non-negative integer, got 4.0",
  },
  {
    before: POOL,
    line: 'ignore = ["192.0.2.1", "not-an-ip"]',
    path: "source[0].ignore[1]",
    message:
      '[[source]].ignore[1]: expected an IP address like "192.0.2.1" or "2001:db8::1", got "not-an-ip": not an IPv4 or IPv6 address',
    column: 24,
  },
  {
    before: NTS,
    line: 'certificate-authority = ""',
    path: "source[0].certificate-authority",
    message: '[[source]].certificate-authority: expected a non-empty file path, got ""',
  },
  {
    before: NTS,
    line: 'enable-srv-resolution = "yes"',
    path: "source[0].enable-srv-resolution",
    message: '[[source]].enable-srv-resolution: expected true or false, got "yes"',
  },
  {
    before: SOCK,
    line: "precision = 0",
    path: "source[0].precision",
    message: "[[source]].precision: expected a finite number greater than 0, got 0",
  },
  {
    before: PPS,
    line: "period = -1",
    path: "source[0].period",
    message: "[[source]].period: expected a finite number greater than 0, got -1",
  },
  {
    before: CSPTP,
    line: "domain = 100",
    path: "source[0].domain",
    message: "[[source]].domain: expected an integer from 128 to 239, got 100",
  },
  {
    before: CSPTP_SERVER,
    line: 'interface = "eth0"',
    path: "csptp-server[0].interface",
    message: '[[csptp-server]].interface: expected "any", got "eth0"',
  },
  {
    before: CSPTP_SECTION,
    line: "priority_1 = 256",
    path: "csptp.priority_1",
    message: "[csptp].priority_1: expected an integer from 0 to 255, got 256",
  },
  {
    before: CSPTP_SECTION,
    line: "event_port = 0",
    path: "csptp.event_port",
    message: "[csptp].event_port: expected an integer from 1 to 65535, got 0",
  },
  {
    before: CSPTP_SECTION,
    line: 'clock_quality = { clock_class = 6, clock_accuracy = "us1", offset_scaled_log_variance = 1 }',
    path: "csptp.clock_quality.clock_accuracy",
    message:
      '[csptp].clock_quality.clock_accuracy: expected an accuracy name ("US1", "MS10", "Unknown", ...) or { ProfileSpecific = 0..125 }, got "us1" (did you mean "US1"?)',
    column: 53,
  },
  {
    before: ["[[server]]"],
    line: 'listen = "[::1]"',
    path: "server[0].listen",
    message:
      '[[server]].listen: expected a socket address like "[::]:123" or "0.0.0.0:123", got "[::1]": missing port',
  },
  {
    before: SERVER,
    line: "rate-limiting-cache-size = -5",
    path: "server[0].rate-limiting-cache-size",
    message: "[[server]].rate-limiting-cache-size: expected a non-negative integer, got -5",
  },
  {
    // The server core's table would be larger than it allocates (400 MiB at most).
    before: SERVER,
    line: "rate-limiting-cache-size = 16777217",
    path: "server[0].rate-limiting-cache-size",
    message:
      "[[server]].rate-limiting-cache-size: expected a non-negative integer of at most 16777216, got 16777217",
  },
  {
    before: SERVER,
    line: 'allowlist = { filter = "10.0.0.0/8", action = "deny" }',
    path: "server[0].allowlist.filter",
    message:
      '[[server]].allowlist.filter: expected an array of subnets like ["192.168.1.0/24", "2001:db8::/32"], got "10.0.0.0/8"',
    column: 24,
  },
  {
    before: SERVER,
    line: 'denylist = { filter = [], action = "drop" }',
    path: "server[0].denylist.action",
    message: '[[server]].denylist.action: expected "ignore" or "deny", got "drop"',
    column: 36,
  },
  {
    before: SERVER,
    line: 'require-nts = "yes"',
    path: "server[0].require-nts",
    message: '[[server]].require-nts: expected true, false, "ignore" or "deny", got "yes"',
  },
  {
    before: POOL,
    line: 'ignore = "192.0.2.1"',
    path: "source[0].ignore",
    message:
      '[[source]].ignore: expected an array of IP addresses like ["192.0.2.1"], got "192.0.2.1"',
  },
  {
    before: SERVER,
    line: "rate-limiting-cutoff-ms = 18446744073709551615",
    path: "server[0].rate-limiting-cutoff-ms",
    message:
      "[[server]].rate-limiting-cutoff-ms: expected a non-negative integer of at most 9007199254740991, got 18446744073709551615",
  },
  {
    before: SERVER,
    line: "accept-ntp-versions = 4",
    path: "server[0].accept-ntp-versions",
    message: "[[server]].accept-ntp-versions: expected an array of NTP versions (3, 4 or 5), got 4",
  },
  {
    before: SERVER,
    line: "accept-ntp-versions = [2]",
    path: "server[0].accept-ntp-versions[0]",
    message: "[[server]].accept-ntp-versions[0]: expected 3, 4 or 5, got 2",
    column: 24,
  },
  {
    before: KE,
    line: "ntp-port = 70000",
    path: "nts-ke-server[0].ntp-port",
    message: "[[nts-ke-server]].ntp-port: expected an integer from 0 to 65535, got 70000",
  },
  {
    before: KE,
    line: "accept-ntp-versions = [4, 3]",
    path: "nts-ke-server[0].accept-ntp-versions[1]",
    message:
      "[[nts-ke-server]].accept-ntp-versions[1]: NTP version 3 does not support NTS; use 4 or 5",
    column: 27,
  },
  {
    before: KE,
    line: 'concurrent-connections = "many"',
    path: "nts-ke-server[0].concurrent-connections",
    message:
      '[[nts-ke-server]].concurrent-connections: expected a non-negative integer, got "many"',
  },
  {
    before: KE,
    line: "accepted-pool-authentication-tokens = [1]",
    path: "nts-ke-server[0].accepted-pool-authentication-tokens[0]",
    message: "[[nts-ke-server]].accepted-pool-authentication-tokens[0]: expected a string, got 1",
    column: 40,
  },
  {
    before: ["[clock]"],
    line: 'timestamp-mode = "kernel"',
    path: "clock.timestamp-mode",
    message:
      '[clock].timestamp-mode: expected one of "software", "kernel-recv", "kernel-all" or "hardware", got "kernel"',
  },
];

test("each key's type and range errors: line, column, path and message", () => {
  for (const c of TYPE_CASES) {
    const text = ["# test", ...c.before, c.line, ""].join("\n");
    const found = errors(text, true);
    const line = c.before.length + 2;
    const column = c.column ?? c.line.indexOf(" = ") + 4;
    assert.deepEqual(
      found,
      [{ file: "ntp.toml", line, column, path: c.path, message: c.message }],
      c.line,
    );
  }
});

test("unknown keys everywhere, with suggestions, at the key", () => {
  const text = [
    "[[sources]]", // 1
    "[observability]", // 2
    'log_level = "info"', // 3
    "[synchronization]", // 4
    "single-step-panic-threshold = { forwards = 1 }", // 5
    "[synchronization.algorithm]", // 6
    "step-treshold = 0.1", // 7
    "[[server]]", // 8
    'listen = "[::]:123"', // 9
    'allowlist = { filter = [], acton = "deny" }', // 10
    "frobnicate = true", // 11
    "[keyset]", // 12
    "  stale-key-cont = 1", // 13
  ].join("\n");
  assert.deepEqual(formatted(text), [
    'ntp.toml:1:1: unknown top-level key "sources" (did you mean "source"?)',
    'ntp.toml:3:1: [observability]: unknown key "log_level" (did you mean "log-level"?)',
    'ntp.toml:5:33: [synchronization].single-step-panic-threshold: unknown key "forwards" (did you mean "forward"?)',
    'ntp.toml:7:1: [synchronization.algorithm]: unknown key "step-treshold" (did you mean "step-threshold"?)',
    // The typo also leaves "action" missing: both are reported.
    'ntp.toml:10:13: [[server]].allowlist: missing required key "action"',
    'ntp.toml:10:28: [[server]].allowlist: unknown key "acton" (did you mean "action"?)',
    'ntp.toml:11:1: [[server]]: unknown key "frobnicate"',
    'ntp.toml:13:3: [keyset]: unknown key "stale-key-cont" (did you mean "stale-key-count"?)',
  ]);
});

test("keys of another source mode are named as such", () => {
  const text =
    '[[source]]\nmode = "server"\naddress = "a"\ncount = 2\ncertificate-authority = "/ca.pem"\n';
  assert.deepEqual(formatted(text), [
    'ntp.toml:4:1: [[source]] mode "server": unknown key "count" (only valid with mode "pool" or "nts-pool")',
    'ntp.toml:5:1: [[source]] mode "server": unknown key "certificate-authority" (only valid with mode "nts" or "nts-pool")',
  ]);
  const sock =
    '[[source]]\nmode = "sock"\npath = "/s"\nprecision = 1\nmeasurement-noise-estimate = 1\n';
  assert.deepEqual(formatted(sock, true), [
    'ntp.toml:5:1: [[source]] mode "sock": unknown key "measurement-noise-estimate" (did you mean "measurement_noise_estimate"?)',
  ]);
});

test("mode: missing, misspelt, wrong type", () => {
  assert.deepEqual(formatted('\n[[source]]\naddress = "a"\n'), [
    'ntp.toml:2:1: [[source]]: missing required key "mode" (one of "server", "pool", "nts", "nts-pool", "sock", "pps", "csptp")',
  ]);
  assert.deepEqual(formatted('[[source]]\nmode = "servr"\naddress = "a"\n'), [
    'ntp.toml:2:8: [[source]].mode: expected one of "server", "pool", "nts", "nts-pool", "sock", "pps" or "csptp", got "servr" (did you mean "server"?)',
  ]);
  assert.deepEqual(formatted("[[source]]\nmode = 1\n"), [
    'ntp.toml:2:8: [[source]].mode: expected one of "server", "pool", "nts", "nts-pool", "sock", "pps" or "csptp", got 1',
  ]);
});

test("missing required keys point at the table", () => {
  assert.deepEqual(
    formatted('[[source]]\nmode = "server"\n\n[[server]]\nrate-limiting-cache-size = 1\n'),
    [
      'ntp.toml:1:1: [[source]] mode "server": missing required key "address"',
      'ntp.toml:4:1: [[server]]: missing required key "listen"',
    ],
  );
  assert.deepEqual(formatted('[[server]]\nlisten = "[::]:123"\nallowlist = { filter = [] }\n'), [
    'ntp.toml:3:13: [[server]].allowlist: missing required key "action"',
  ]);
  assert.deepEqual(
    formatted('[[server]]\nlisten = "[::]:123"\n[server.denylist]\naction = "deny"\n'),
    ['ntp.toml:3:1: [[server]].denylist: missing required key "filter"'],
  );
});

test("sock/pps: precision or the legacy measurement_noise_estimate, exactly one", () => {
  assert.deepEqual(formatted('[[source]]\nmode = "sock"\npath = "/s"\n', true), [
    'ntp.toml:1:1: [[source]] mode "sock": missing required key "precision"',
  ]);
  assert.deepEqual(
    formatted(
      '[[source]]\nmode = "pps"\npath = "/p"\nprecision = 0.25\nmeasurement_noise_estimate = 0.0625\n',
      true,
    ),
    [
      'ntp.toml:5:1: [[source]] mode "pps": give either "precision" or the deprecated "measurement_noise_estimate", not both',
    ],
  );
});

test("key-exchange-listen is an alias of listen in [[nts-ke-server]]; both is an error", () => {
  const base = 'certificate-chain-path = "c.pem"\nprivate-key-path = "k.pem"\n';
  const r = parseConfig(
    `[[nts-ke-server]]\nkey-exchange-listen = "0.0.0.0:4460"\n${base}`,
    "ntp.toml",
    {
      unimplemented: [],
    },
  );
  assert.ok(r.ok);
  if (r.ok)
    assert.deepEqual(r.config.ntsKeServers[0]?.listen, {
      address: "0.0.0.0",
      port: 4460,
      family: 4,
    });

  const both = `[[nts-ke-server]]\nlisten = "[::]:4460"\n${base}key-exchange-listen = "0.0.0.0:4460"\n`;
  assert.deepEqual(formatted(both, true), [
    'ntp.toml:5:1: [[nts-ke-server]]: "key-exchange-listen" and "listen" are the same setting; give only one',
  ]);
  const bad = `[[nts-ke-server]]\nkey-exchange-listen = "x"\n${base}`;
  assert.deepEqual(
    errors(bad, true).map((e) => e.path),
    ["nts-ke-server[0].key-exchange-listen"],
  );
});

test("tables where arrays of tables belong, and the reverse", () => {
  assert.deepEqual(formatted('[source]\nmode = "server"\n'), [
    "ntp.toml:1:1: [[source]]: expected an array of tables ([[source]]), got a table",
  ]);
  assert.deepEqual(formatted("[[synchronization]]\n"), [
    "ntp.toml:1:1: [synchronization]: expected a table, got an array",
  ]);
  assert.deepEqual(formatted("source = [1]\n"), [
    "ntp.toml:1:11: [[source]]: expected a [[source]] table, got 1",
  ]);
});

test("all errors are collected and sorted by position", () => {
  const text = [
    "[[server]]",
    'listen = "nope"', // 2
    "rate-limiting-cutoff-ms = -1", // 3
    "[synchronization]",
    "local-stratum = 300", // 5
    "[[source]]", // 6
    'mode = "pool"',
    'address = "p"',
    "count = -4", // 9
  ].join("\n");
  const found = errors(text);
  assert.deepEqual(
    found.map((e) => [e.line, e.path]),
    [
      [2, "server[0].listen"],
      [3, "server[0].rate-limiting-cutoff-ms"],
      [5, "synchronization.local-stratum"],
      [9, "source[0].count"],
    ],
  );
});

test("TOML syntax errors come back as FILE:LINE:COL: message", () => {
  assert.deepEqual(formatted('[observability]\nlog-level = = "info"\n'), [
    "ntp.toml:2:13: invalid TOML: invalid value",
  ]);
  assert.deepEqual(formatted("[observability\n"), [
    "ntp.toml:1:15: invalid TOML: illegal character in key",
  ]);
  const dup = errors("[keyset]\nstale-key-count = 1\nstale-key-count = 2\n");
  assert.equal(dup.length, 1);
  assert.equal(dup[0]?.line, 3);
  assert.equal(dup[0]?.path, "");
  assert.match(dup[0]?.message ?? "", /^invalid TOML: /);
});

test("an unterminated string is reported at its opening quote, not as a control character", () => {
  assert.deepEqual(formatted('[[source]]\nmode = "server"\naddress = "time.example\n'), [
    'ntp.toml:3:11: invalid TOML: the string that starts here is not closed: add the closing " before the end of the line',
  ]);
  assert.deepEqual(formatted("[[source]]\nmode = 'server'\naddress = 'time.example\r\n"), [
    "ntp.toml:3:11: invalid TOML: the string that starts here is not closed: add the closing ' before the end of the line",
  ]);
  // An escaped quote does not close it; one string closed before it on the line is skipped.
  assert.deepEqual(formatted('[[source]]\nmode = "server"\naddress = ["a", "b\\"c]\n'), [
    'ntp.toml:3:17: invalid TOML: the string that starts here is not closed: add the closing " before the end of the line',
  ]);
  // A real control character inside a closed string keeps smol-toml's message.
  assert.match(
    formatted('[observability]\nlog-level = "in\u0001fo"\n')[0] ?? "",
    /control characters/,
  );
});

test("[[peer]], the old name of [[source]], gets a suggestion", () => {
  assert.deepEqual(formatted('[[peer]]\nmode = "server"\naddress = "time.example"\n'), [
    'ntp.toml:1:1: unknown top-level key "peer" (did you mean "[[source]]"? "[[peer]]" is its old name)',
  ]);
  assert.match(
    formatted('[[peers]]\nmode = "server"\naddress = "a"\n')[0] ?? "",
    /did you mean "\[\[source\]\]"/,
  );
});

test("a byte order mark does not shift columns", () => {
  assert.deepEqual(
    formatted('\uFEFF[[server]]\nlisten = "x"\n').map((s) => s.slice(0, 14)),
    ["ntp.toml:2:10:"],
  );
  assert.equal(parseConfig("\uFEFF[keyset]\nstale-key-count = 1\n", "f").ok, true);
});

test("formatDiagnostic: whole-file diagnostics have no position", () => {
  const d = { file: "/etc/ntpd-rs/ntp.toml", line: 0, column: 0, path: "", message: "cannot read" };
  assert.equal(formatDiagnostic(d), "/etc/ntpd-rs/ntp.toml: cannot read");
  assert.equal(
    formatDiagnostic({ ...d, line: 2, column: 5 }),
    "/etc/ntpd-rs/ntp.toml:2:5: cannot read",
  );
});
