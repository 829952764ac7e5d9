// Every section and key of the ntpd-rs 1.9 schema: defaults and explicit values.
import { test } from "node:test";
import assert from "node:assert/strict";
import { defaultConfig, parseConfig } from "./parse.js";
import type { Config } from "./types.js";

/** An IPv4 address as a parsed CIDR holds it (::ffff:a.b.c.d). */
const v4 = (address: number): Uint32Array => Uint32Array.of(0, 0, 0xffff, address);

function ok(text: string): Config {
  const r = parseConfig(text, "ntp.toml");
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("\n"));
  return r.config;
}

test("an empty file is the documented default configuration", () => {
  const c = ok("");
  assert.deepEqual(c, defaultConfig());
  assert.deepEqual(c.sources, []);
  assert.deepEqual(c.servers, []);
  assert.deepEqual(c.ntsKeServers, []);
  assert.equal(c.clock, null);
  assert.deepEqual(c.sourceDefaults, {
    pollIntervalLimits: { min: 4, max: 10 },
    initialPollInterval: 4,
  });
  assert.deepEqual(c.keyset, {
    staleKeyCount: 7,
    keyRotationInterval: 86400,
    keyStoragePath: null,
    role: "primary",
  });
  assert.deepEqual(c.observability, {
    logLevel: "info",
    logPath: null,
    logPathMetricsExporter: null,
    ansiColors: null,
    observationPath: null,
    observationPermissions: 0o666,
    controlPath: null,
    controlGroup: null,
    metricsExporterListen: { address: "127.0.0.1", port: 9975, family: 4 },
  });
  const s = c.synchronization;
  assert.equal(s.minimumAgreeingSources, 3);
  assert.deepEqual(s.singleStepPanicThreshold, { forward: 1000, backward: 1000 });
  assert.deepEqual(s.startupStepPanicThreshold, { forward: Infinity, backward: 86400 });
  assert.equal(s.accumulatedStepPanicThreshold, null);
  assert.equal(s.warnOnJump, true);
  assert.equal(s.localStratum, 16);
  assert.equal(s.referenceId, "XNON");
  assert.equal(s.noCertificateTimeCheck, 0);
  // ntpd-rs 1.9's AlgorithmConfig defaults, written out independently of the schema.
  assert.deepEqual(s.algorithm, {
    precisionLowProbability: 1 / 3,
    precisionHighProbability: 2 / 3,
    precisionHysteresis: 16,
    precisionMinimumWeight: 0.1,
    pollIntervalLowWeight: 0.4,
    pollIntervalHighWeight: 0.6,
    pollIntervalHysteresis: 16,
    pollIntervalStepThreshold: 1e-6,
    delayOutlierThreshold: 5,
    initialWander: 1e-8,
    initialFrequencyUncertainty: 100e-6,
    maximumSourceUncertainty: 0.25,
    rangeStatisticalWeight: 2,
    rangeDelayWeight: 0.25,
    steerOffsetThreshold: 2,
    steerOffsetLeftover: 1,
    steerFrequencyThreshold: 0,
    steerFrequencyLeftover: 0,
    stepThreshold: 0.01,
    slewMaximumFrequencyOffset: 200e-6,
    slewMinimumDuration: 8,
    maximumFrequencySteer: 495e-6,
    ignoreServerDispersion: false,
    meddlingThreshold: 5,
  });
});

test("empty section tables give the same defaults as absent ones", () => {
  const c = ok(
    "[source-defaults]\n[observability]\n[keyset]\n[synchronization]\n[synchronization.algorithm]\n",
  );
  assert.deepEqual(c, defaultConfig());
});

test("defaultConfig() returns a fresh object each time", () => {
  const a = defaultConfig();
  a.synchronization.singleStepPanicThreshold.forward = 1;
  a.servers.push({} as never);
  assert.equal(defaultConfig().synchronization.singleStepPanicThreshold.forward, 1000);
  assert.deepEqual(defaultConfig().servers, []);
});

test("[[source]] mode server and pool, with defaults and inherited poll settings", () => {
  const c = ok(`
[source-defaults]
poll-interval-limits = { min = 5, max = 12 }
initial-poll-interval = 6

[[source]]
mode = "server"
address = "time.example.com"

[[source]]
mode = "pool"
address = "pool.example.com:1123"
poll-interval-limits = { max = 8 }
count = 7
ignore = ["192.0.2.1", "2001:DB8::1"]
ntp-version = 4
`);
  assert.deepEqual(c.sources, [
    {
      mode: "server",
      address: { host: "time.example.com", port: 123 },
      pollIntervalLimits: { min: 5, max: 12 },
      initialPollInterval: 6,
      ntpVersion: 4,
      interleaved: false,
    },
    {
      mode: "pool",
      address: { host: "pool.example.com", port: 1123 },
      pollIntervalLimits: { min: 5, max: 8 },
      initialPollInterval: 6,
      ntpVersion: 4,
      interleaved: false,
      count: 7,
      ignore: ["192.0.2.1", "2001:db8::1"],
    },
  ]);
});

test("[[source]] pool count defaults to 4, server ntp-version to 4", () => {
  const c = ok('[[source]]\nmode = "pool"\naddress = "p"\n');
  assert.equal(c.sources[0]?.mode, "pool");
  if (c.sources[0]?.mode === "pool") {
    assert.equal(c.sources[0].count, 4);
    assert.deepEqual(c.sources[0].ignore, []);
    assert.equal(c.sources[0].ntpVersion, 4);
    assert.deepEqual(c.sources[0].pollIntervalLimits, { min: 4, max: 10 });
  }
});

// Parsed with an empty feature gate, so that a feature gated again some day keeps its
// schema checked here (today nothing is gated: the default gate is empty too).
function okUngated(text: string): Config {
  const r = parseConfig(text, "ntp.toml", { unimplemented: [] });
  if (!r.ok) assert.fail(r.errors.map((e) => e.message).join("\n"));
  return r.config;
}

test("[[source]] nts and nts-pool: every key, default port 4460", () => {
  const c = okUngated(`
[source-defaults]
poll-interval-limits = { min = 4, max = 11 }

[[source]]
mode = "nts"
address = "nts.example.com"
certificate-authority = "/etc/ssl/ca.pem"
enable-srv-resolution = true
poll-interval-limits = { min = 3 }
initial-poll-interval = 3
ntp-version = "auto"

[[source]]
mode = "nts-pool"
address = "[2001:db8::1]:4461"
count = 2
ntp-version = 5
`);
  assert.deepEqual(c.sources, [
    {
      mode: "nts",
      address: { host: "nts.example.com", port: 4460 },
      pollIntervalLimits: { min: 3, max: 11 },
      initialPollInterval: 3,
      ntpVersion: "auto",
      interleaved: false,
      certificateAuthority: "/etc/ssl/ca.pem",
      enableSrvResolution: true,
    },
    {
      mode: "nts-pool",
      address: { host: "2001:db8::1", port: 4461 },
      pollIntervalLimits: { min: 4, max: 11 },
      initialPollInterval: 4,
      ntpVersion: 5,
      interleaved: false,
      certificateAuthority: null,
      enableSrvResolution: false,
      count: 2,
    },
  ]);
});

test("[[source]] sock, pps and csptp: snake_case keys and their defaults", () => {
  const c = okUngated(`
[[source]]
mode = "sock"
path = "/run/chrony.ttyS0.sock"
precision = 0.001
accuracy = 0.0005

[[source]]
mode = "pps"
path = "/dev/pps0"
measurement_noise_estimate = 1e-12

[[source]]
mode = "pps"
path = "/dev/pps1"
precision = 1e-7
period = 0.5

[[source]]
mode = "csptp"
address = "ptp.example.com"

[[source]]
mode = "csptp"
address = "192.0.2.7:1319"
domain = 200
poll_interval = 2
response_interval = 1.5
`);
  assert.deepEqual(c.sources, [
    { mode: "sock", path: "/run/chrony.ttyS0.sock", precision: 0.001, accuracy: 0.0005 },
    { mode: "pps", path: "/dev/pps0", precision: 1e-6, accuracy: 0, period: 1 },
    { mode: "pps", path: "/dev/pps1", precision: 1e-7, accuracy: 0, period: 0.5 },
    {
      mode: "csptp",
      address: { host: "ptp.example.com", port: 319 },
      domain: 128,
      pollInterval: 1,
      responseInterval: 5,
    },
    {
      mode: "csptp",
      address: { host: "192.0.2.7", port: 1319 },
      domain: 200,
      pollInterval: 2,
      responseInterval: 1.5,
    },
  ]);
});

test("[[server]]: every key", () => {
  const c = ok(`
[[server]]
listen = "[::]:123"
rate-limiting-cache-size = 32
rate-limiting-cutoff-ms = 1000
allowlist = { filter = ["192.168.0.0/16", "fe80::/10"], action = "deny" }
denylist = { filter = ["192.168.1.1/32"], action = "ignore" }
require-nts = "deny"
accept-ntp-versions = [4, 5]
leap-smear = true

[[server]]
listen = "127.0.0.1:1123"
require-nts = true
`);
  assert.deepEqual(c.servers[0], {
    listen: { address: "::", port: 123, family: 6 },
    rateLimitingCacheSize: 32,
    rateLimitingCutoffMs: 1000,
    allowlist: {
      filter: [
        { address: "192.168.0.0", prefixLength: 16, family: 4, words: v4(0xc0a80000) },
        {
          address: "fe80::",
          prefixLength: 10,
          family: 6,
          words: Uint32Array.of(0xfe800000, 0, 0, 0),
        },
      ],
      action: "deny",
    },
    denylist: {
      filter: [{ address: "192.168.1.1", prefixLength: 32, family: 4, words: v4(0xc0a80101) }],
      action: "ignore",
    },
    requireNts: "deny",
    acceptNtpVersions: [4, 5],
    leapSmear: true,
  });
  assert.deepEqual(c.servers[1], {
    listen: { address: "127.0.0.1", port: 1123, family: 4 },
    rateLimitingCacheSize: 0,
    rateLimitingCutoffMs: 0,
    allowlist: {
      filter: [
        { address: "::", prefixLength: 0, family: 6, words: Uint32Array.of(0, 0, 0, 0) },
        { address: "0.0.0.0", prefixLength: 0, family: 4, words: v4(0) },
      ],
      action: "ignore",
    },
    denylist: { filter: [], action: "deny" },
    requireNts: "ignore",
    acceptNtpVersions: [3, 4],
    leapSmear: false,
  });
});

test("[[server]] require-nts: false, true, ignore, deny", () => {
  const values: [string, false | "ignore" | "deny"][] = [
    ["false", false],
    ["true", "ignore"],
    ['"ignore"', "ignore"],
    ['"deny"', "deny"],
  ];
  for (const [toml, expected] of values) {
    const c = ok(`[[server]]\nlisten = "0.0.0.0:123"\nrequire-nts = ${toml}\n`);
    assert.equal(c.servers[0]?.requireNts, expected, toml);
  }
});

test("[[server]] sub-tables written as [server.allowlist] headers", () => {
  const c = ok(`
[[server]]
listen = "0.0.0.0:123"
[server.denylist]
filter = ["10.0.0.0/8"]
action = "deny"
`);
  assert.deepEqual(c.servers[0]?.denylist, {
    filter: [{ address: "10.0.0.0", prefixLength: 8, family: 4, words: v4(0x0a000000) }],
    action: "deny",
  });
});

test('[daemon]: server-threads is 1 by default, a count or "auto"', () => {
  assert.deepEqual(ok("").daemon, { serverThreads: 1 });
  assert.deepEqual(ok("[daemon]\nserver-threads = 4\n").daemon, { serverThreads: 4 });
  assert.deepEqual(ok('[daemon]\nserver-threads = "auto"\n').daemon, { serverThreads: "auto" });
});

test("[keyset]: every key", () => {
  const c = ok(
    '[keyset]\nstale-key-count = 5\nkey-rotation-interval = 500\nkey-storage-path = "/var/lib/ntpd-rs/keys"\nrole = "follower"\n',
  );
  assert.deepEqual(c.keyset, {
    staleKeyCount: 5,
    keyRotationInterval: 500,
    keyStoragePath: "/var/lib/ntpd-rs/keys",
    role: "follower",
  });
});

test('[keyset]: role = "follower" needs the key file it follows; other roles are refused', () => {
  const noPath = parseConfig('[keyset]\nrole = "follower"\n', "ntp.toml");
  assert.equal(noPath.ok, false);
  const error = noPath.ok ? undefined : noPath.errors[0];
  assert.equal(error?.line, 2, "reported at the role line");
  assert.match(error?.message ?? "", /role.*key-storage-path/);
  assert.equal(parseConfig('[keyset]\nrole = "secondary"\n', "ntp.toml").ok, false);
});

test("[observability]: every implemented key", () => {
  const c = ok(`
[observability]
log-level = "debug"
log-path = "/var/log/ntpd-rs.log"
ansi-colors = false
observation-permissions = 0o640
`);
  assert.deepEqual(c.observability, {
    logLevel: "debug",
    logPath: "/var/log/ntpd-rs.log",
    logPathMetricsExporter: null,
    ansiColors: false,
    observationPath: null,
    observationPermissions: 0o640,
    controlPath: null,
    controlGroup: null,
    metricsExporterListen: { address: "127.0.0.1", port: 9975, family: 4 },
  });
});

test("[synchronization]: every key and every step threshold form", () => {
  const c = ok(`
[synchronization]
minimum-agreeing-sources = 1
single-step-panic-threshold = "inf"
startup-step-panic-threshold = { forward = 10, backward = "inf" }
accumulated-step-panic-threshold = 1800
warn-on-jump = false
local-stratum = 1
reference-id = "GPS"
leap-seconds-file = "/usr/share/zoneinfo/leap-seconds.list"
drift-file = "/var/lib/ntpd-rs/ntp.drift"
`);
  const s = c.synchronization;
  assert.equal(s.leapSecondsFile, "/usr/share/zoneinfo/leap-seconds.list");
  assert.equal(s.driftFile, "/var/lib/ntpd-rs/ntp.drift");
  assert.equal(ok("").synchronization.driftFile, null, "no drift file unless asked");
  assert.equal(s.minimumAgreeingSources, 1);
  assert.deepEqual(s.singleStepPanicThreshold, { forward: Infinity, backward: Infinity });
  assert.deepEqual(s.startupStepPanicThreshold, { forward: 10, backward: Infinity });
  assert.equal(s.accumulatedStepPanicThreshold, 1800);
  assert.equal(s.warnOnJump, false);
  assert.equal(s.localStratum, 1);
  assert.equal(s.referenceId, "GPS");

  const numeric = ok("[synchronization]\nsingle-step-panic-threshold = 0.5\n");
  assert.deepEqual(numeric.synchronization.singleStepPanicThreshold, {
    forward: 0.5,
    backward: 0.5,
  });
  // As in ntpd-rs, a direction left out of the table form is unlimited.
  const half = ok("[synchronization]\nsingle-step-panic-threshold = { backward = 20 }\n");
  assert.deepEqual(half.synchronization.singleStepPanicThreshold, {
    forward: Infinity,
    backward: 20,
  });
  // 0 switches the accumulated threshold off.
  const off = ok("[synchronization]\naccumulated-step-panic-threshold = 0\n");
  assert.equal(off.synchronization.accumulatedStepPanicThreshold, null);
});

test("[synchronization.algorithm]: every key, integers accepted for floats", () => {
  const keys: [string, keyof Config["synchronization"]["algorithm"], string, number | boolean][] = [
    ["precision-low-probability", "precisionLowProbability", "0.25", 0.25],
    ["precision-high-probability", "precisionHighProbability", "0.75", 0.75],
    ["precision-hysteresis", "precisionHysteresis", "8", 8],
    ["precision-minimum-weight", "precisionMinimumWeight", "0.2", 0.2],
    ["poll-interval-low-weight", "pollIntervalLowWeight", "0.3", 0.3],
    ["poll-interval-high-weight", "pollIntervalHighWeight", "0.7", 0.7],
    ["poll-interval-hysteresis", "pollIntervalHysteresis", "-4", -4],
    ["poll-interval-step-threshold", "pollIntervalStepThreshold", "1e-5", 1e-5],
    ["delay-outlier-threshold", "delayOutlierThreshold", "4", 4],
    ["initial-wander", "initialWander", "2e-8", 2e-8],
    ["initial-frequency-uncertainty", "initialFrequencyUncertainty", "5e-5", 5e-5],
    ["maximum-source-uncertainty", "maximumSourceUncertainty", "0.5", 0.5],
    ["range-statistical-weight", "rangeStatisticalWeight", "3", 3],
    ["range-delay-weight", "rangeDelayWeight", "0.5", 0.5],
    ["steer-offset-threshold", "steerOffsetThreshold", "1.5", 1.5],
    ["steer-offset-leftover", "steerOffsetLeftover", "0.5", 0.5],
    ["steer-frequency-threshold", "steerFrequencyThreshold", "0.1", 0.1],
    ["steer-frequency-leftover", "steerFrequencyLeftover", "0.2", 0.2],
    ["step-threshold", "stepThreshold", "0.125", 0.125],
    ["slew-maximum-frequency-offset", "slewMaximumFrequencyOffset", "1e-4", 1e-4],
    ["slew-minimum-duration", "slewMinimumDuration", "4", 4],
    ["maximum-frequency-steer", "maximumFrequencySteer", "4e-4", 4e-4],
    ["ignore-server-dispersion", "ignoreServerDispersion", "true", true],
    ["meddling-threshold", "meddlingThreshold", "10", 10],
  ];
  assert.equal(keys.length, Object.keys(defaultConfig().synchronization.algorithm).length);
  const text = "[synchronization.algorithm]\n" + keys.map(([k, , v]) => `${k} = ${v}`).join("\n");
  const a = ok(text).synchronization.algorithm;
  for (const [, prop, , expected] of keys) assert.equal(a[prop], expected, prop);
});

test("[[nts-ke-server]]: every key, and the defaults", () => {
  const c = okUngated(`
[[nts-ke-server]]
listen = "[::]:4460"
certificate-chain-path = "/etc/ntpd-rs/chain.pem"
private-key-path = "/etc/ntpd-rs/key.pem"
key-exchange-timeout-ms = 500
concurrent-connections = 100
longlived-connections = 5
ntp-port = 1123
ntp-server = "time.example.com"
accept-ntp-versions = [4, 5]
accepted-pool-authentication-tokens = ["token"]

[[nts-ke-server]]
listen = "0.0.0.0:4460"
certificate-chain-path = "c.pem"
private-key-path = "k.pem"
concurrent-connections = 99
`);
  assert.deepEqual(c.ntsKeServers, [
    {
      listen: { address: "::", port: 4460, family: 6 },
      certificateChainPath: "/etc/ntpd-rs/chain.pem",
      privateKeyPath: "/etc/ntpd-rs/key.pem",
      keyExchangeTimeoutMs: 500,
      concurrentConnections: 100,
      longlivedConnections: 5,
      ntpPort: 1123,
      ntpServer: [{ host: "time.example.com", port: null }],
      acceptNtpVersions: [4, 5],
      acceptedPoolAuthenticationTokens: ["token"],
    },
    {
      listen: { address: "0.0.0.0", port: 4460, family: 4 },
      certificateChainPath: "c.pem",
      privateKeyPath: "k.pem",
      keyExchangeTimeoutMs: 1000,
      concurrentConnections: 99,
      longlivedConnections: 9,
      ntpPort: null,
      ntpServer: null,
      acceptNtpVersions: [4],
      acceptedPoolAuthenticationTokens: [],
    },
  ]);
});

test("[[nts-ke-server]] ntp-server: one name, or several with their ports (ntpd-ts)", () => {
  const ke = (value: string) =>
    parseConfig(
      `[[nts-ke-server]]\nlisten = "[::]:4460"\ncertificate-chain-path = "c.pem"\nprivate-key-path = "k.pem"\nntp-server = ${value}\n`,
      "ntp.toml",
    );
  const several = ke(
    '["ntp1.example.net", "ntp2.example.net:1123", "[2001:db8::3]:124", "192.0.2.4"]',
  );
  assert.ok(several.ok);
  assert.deepEqual(several.config.ntsKeServers[0]!.ntpServer, [
    { host: "ntp1.example.net", port: null },
    { host: "ntp2.example.net", port: 1123 },
    { host: "2001:db8::3", port: 124 },
    { host: "192.0.2.4", port: null },
  ]);
  for (const bad of ["[]", '["ok.example", 5]', '"host:99999"', '":123"']) {
    const r = ke(bad);
    assert.equal(r.ok, false, bad);
    assert.equal(r.ok ? 0 : r.errors[0]!.line, 5, `${bad}: reported at its line`);
  }
});

test("[observability]: the exporter and observation keys", () => {
  const c = okUngated(`
[observability]
observation-path = "/var/run/ntpd-rs/observe"
metrics-exporter-listen = "[::1]:9975"
log-path-metrics-exporter = "/var/log/exporter.log"
`);
  assert.equal(c.observability.observationPath, "/var/run/ntpd-rs/observe");
  assert.deepEqual(c.observability.metricsExporterListen, {
    address: "::1",
    port: 9975,
    family: 6,
  });
  assert.equal(c.observability.logPathMetricsExporter, "/var/log/exporter.log");
});

test("[[csptp-server]] and [csptp]: every key, and the defaults (ntpd-rs main)", () => {
  const defaults = parseConfig("", "ntp.toml");
  assert.ok(defaults.ok);
  if (!defaults.ok) return;
  assert.deepEqual(defaults.config.csptpServers, []);
  assert.deepEqual(defaults.config.csptp, {
    identity: [0, 0, 0, 0, 0, 0, 0, 0],
    priority1: 128,
    priority2: 128,
    clockQuality: { clockClass: 248, clockAccuracy: 0xfe, offsetScaledLogVariance: 0x6900 },
    ptpTimescale: true,
    timeTraceable: false,
    frequencyTraceable: false,
    eventPort: 319,
    generalPort: 320,
  });
  const r = parseConfig(
    `
[[csptp-server]]
interface = "any"

[csptp]
identity = [1, 2, 3, 4, 5, 6, 7, 8]
priority_1 = 10
priority_2 = 20
clock_quality = { clock_class = 6, clock_accuracy = "US1", offset_scaled_log_variance = 0x4e5d }
ptp_timescale = false
time_traceable = true
frequency_traceable = true
event_port = 1319
general_port = 1320
`,
    "ntp.toml",
  );
  assert.ok(r.ok, r.ok ? "" : r.errors.map((e) => e.message).join("\n"));
  if (!r.ok) return;
  assert.deepEqual(r.config.csptpServers, [{ interface: "any" }]);
  assert.deepEqual(r.config.csptp, {
    identity: [1, 2, 3, 4, 5, 6, 7, 8],
    priority1: 10,
    priority2: 20,
    clockQuality: { clockClass: 6, clockAccuracy: 0x23, offsetScaledLogVariance: 0x4e5d },
    ptpTimescale: false,
    timeTraceable: true,
    frequencyTraceable: true,
    eventPort: 1319,
    generalPort: 1320,
  });
  const profile = parseConfig(
    "[csptp]\nclock_quality = { clock_class = 248, clock_accuracy = { ProfileSpecific = 3 }, " +
      "offset_scaled_log_variance = 1 }\n",
    "ntp.toml",
  );
  assert.ok(profile.ok);
  if (profile.ok) assert.equal(profile.config.csptp.clockQuality.clockAccuracy, 0x83);
});

test("[clock]: every key; timestamp-mode is required inside the table", () => {
  const r0 = parseConfig(
    '[clock]\nclock = "/dev/ptp0"\ninterface = "eth0"\ntimestamp-mode = "hardware"\n',
    "ntp.toml",
  );
  assert.equal(r0.ok, true, "[clock] is implemented: the default gate lets it through");
  const c = okUngated(
    '[clock]\nclock = "/dev/ptp0"\ninterface = "eth0"\ntimestamp-mode = "hardware"\n',
  );
  assert.deepEqual(c.clock, { clock: "/dev/ptp0", interface: "eth0", timestampMode: "hardware" });
  for (const mode of ["software", "kernel-recv", "kernel-all"]) {
    assert.deepEqual(okUngated(`[clock]\ntimestamp-mode = "${mode}"\n`).clock, {
      clock: null,
      interface: null,
      timestampMode: mode,
    });
  }
  const r = parseConfig('[clock]\ninterface = "eth0"\n', "ntp.toml", { unimplemented: [] });
  assert.equal(r.ok, false);
  if (!r.ok)
    assert.deepEqual(
      r.errors.map((e) => e.message),
      ['[clock]: missing required key "timestamp-mode"'],
    );
});

test("[clock] interface: a name the kernel would accept", () => {
  for (const name of ["eth0", "enp0s31f6", "veth-a.10", "x".repeat(15)]) {
    assert.equal(
      okUngated(`[clock]\ninterface = "${name}"\ntimestamp-mode = "software"\n`).clock?.interface,
      name,
    );
  }
  for (const name of ["", ".", "..", "a/b", "eth0:1", "a b", "x".repeat(16)]) {
    const r = parseConfig(
      `[clock]\ninterface = "${name}"\ntimestamp-mode = "software"\n`,
      "ntp.toml",
    );
    assert.equal(r.ok, false, name);
    if (!r.ok) assert.match(r.errors[0]!.message, /network interface name/);
  }
});
