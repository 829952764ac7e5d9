// Realistic files: the ntpd-rs package default, the NTS and server guides, and the guide
// mistakes (ntpd-rs docs §2.11) that must be refused with a useful message.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic } from "./diagnostics.js";
import { parseConfig } from "./parse.js";

// docs/examples/conf/ntp.toml.default, as shipped in the ntpd-rs packages.
const PACKAGE_DEFAULT = `[observability]
# You can configure ntpd-rs with different output levels of logging information
# Basic values for this are \`trace\`, \`debug\`, \`info\`, \`warn\` and \`error\`.
log-level = "info"
## Using the observe socket you can retrieve statistical information about the
## daemon while it is running. You can use the \`ntp-ctl\` or prometheus based
## \`ntp-metrics-exporter\` binaries for some default options to read from the
## observe socket.
observation-path = "/var/run/ntpd-rs/observe"

## The sources section allows configuring sources, you may configure multiple of
## these blocks to add more sources to your configuration.
## Our default configuration spawns a pool of sources (by default this attempts
## to discover 4 distinct sources).
[[source]]
mode = "pool"
address = "ntpd-rs.pool.ntp.org"
count = 4

## If you have an NTS server, you can configure a source that connects using NTS
## by adding a configuration such as the one below
#[[source]]
#mode = "nts"
#address = "<NTS_SERVER_NAME>"

## A source in server mode will only create a single source in contrast to the
## multiple sources of a pool. This is the recommended source mode if you only
## have an IP address for your source.
#[[source]]
#mode = "server"
#address = "ntpd-rs.pool.ntp.org"

## If you want to provide time to other machines, the configuration below
## enables serving time on port 123 of all network interfaces.
#[[server]]
#listen = "[::]:123"

## Below are configured various thresholds beyond which ntpd-rs will not
## change the system clock. CHANGE THESE TO MATCH YOUR SECURITY NEEDS!
[synchronization]
# The maximum step size (in seconds) of a single step during normal operation
single-step-panic-threshold = 1800
# On startup a larger jump may occur, this sets limits for that initial jump
startup-step-panic-threshold = { forward="inf", backward = 86400 }
# If, during the lifetime of the ntp-daemon the combined size of all steps exceeds this value, then the daemon will panic. The unit is seconds.
#accumulated-threshold = 1800
# Minimum number of agreeing sources
#minimum-agreeing-sources = 3

# Configure how often and how aggressively to update the clock
[source-defaults]
#poll-interval-limits = { min = 4, max = 10 }
#initial-poll-interval = 4
`;

test("package default ntp.toml: parses, observation-path included", () => {
  const full = parseConfig(PACKAGE_DEFAULT, "/etc/ntpd-rs/ntp.toml");
  assert.ok(full.ok, full.ok ? "" : full.errors.map(formatDiagnostic).join("\n"));
  if (!full.ok) return;
  const c = full.config;
  assert.equal(c.observability.logLevel, "info");
  assert.equal(c.observability.observationPath, "/var/run/ntpd-rs/observe");
  assert.deepEqual(c.sources, [
    {
      mode: "pool",
      address: { host: "ntpd-rs.pool.ntp.org", port: 123 },
      count: 4,
      ignore: [],
      ntpVersion: 4,
      interleaved: false,
      pollIntervalLimits: { min: 4, max: 10 },
      initialPollInterval: 4,
    },
  ]);
  assert.deepEqual(c.synchronization.singleStepPanicThreshold, { forward: 1800, backward: 1800 });
  assert.deepEqual(c.synchronization.startupStepPanicThreshold, {
    forward: Infinity,
    backward: 86400,
  });
  assert.equal(c.synchronization.accumulatedStepPanicThreshold, null);
  assert.deepEqual(full.warnings, [], "a pool of 4 satisfies minimum-agreeing-sources = 3");
});

// docs/guide/nts.md: a client of public NTS servers.
const NTS_CLIENT = `[[source]]
mode = "nts"
address = "nts.netnod.se"

[[source]]
mode = "nts"
address = "my.private.server.example.com"
certificate-authority = "/path/to/certificate/authority.pem"
`;

test("NTS guide client config", () => {
  const full = parseConfig(NTS_CLIENT, "ntp.toml");
  // `ntp-ctl validate` also says two sources are fewer than the default minimum of 3.
  assert.equal(full.warnings.length, 1);
  assert.ok(full.ok);
  if (full.ok) {
    assert.deepEqual(
      full.config.sources.map((s) => (s.mode === "nts" ? [s.address, s.certificateAuthority] : [])),
      [
        [{ host: "nts.netnod.se", port: 4460 }, null],
        [
          { host: "my.private.server.example.com", port: 4460 },
          "/path/to/certificate/authority.pem",
        ],
      ],
    );
  }
});

// docs/guide/server-setup.md + docs/guide/nts.md: an NTP and NTS server.
const NTS_SERVER = `[[source]]
mode = "pool"
address = "ntpd-rs.pool.ntp.org"
count = 4

[[server]]
listen = "[::]:123"

[[nts-ke-server]]
listen = "[::]:4460"
certificate-chain-path = "/etc/letsencrypt/live/time.example.com/fullchain.pem"
private-key-path = "/etc/letsencrypt/live/time.example.com/privkey.pem"

[keyset]
key-storage-path="/var/lib/ntpd-rs/keys"
`;

test("NTS guide server config", () => {
  const full = parseConfig(NTS_SERVER, "ntp.toml");
  assert.ok(full.ok);
  if (!full.ok) return;
  assert.deepEqual(full.warnings, [], "the [[server]] on port 123 serves the NTS clients");
  assert.equal(full.config.ntsKeServers[0]?.longlivedConnections, 51);
  assert.equal(full.config.keyset.keyStoragePath, "/var/lib/ntpd-rs/keys");
});

test("older NTS guide: key-exchange-listen still works", () => {
  const text = `[[server]]
listen = "0.0.0.0:123"

[[nts-ke-server]]
key-exchange-listen = "0.0.0.0:4460"
certificate-chain-path = "/etc/ntpd-rs/fullchain.pem"
private-key-path = "/etc/ntpd-rs/privkey.pem"
`;
  const r = parseConfig(text, "ntp.toml", { unimplemented: [] });
  assert.ok(r.ok);
  if (r.ok) assert.equal(r.config.ntsKeServers[0]?.listen.port, 4460);
});

test("server guide: allowlist as a sub-table of [[server]]", () => {
  const text = `[[server]]
listen = "0.0.0.0:123"
[server.allowlist]
filter = ["192.0.2.10/32", "198.51.100.0/24", "2001:db8::1/128"]
action = "ignore"

[[source]]
mode = "server"
address = "192.0.2.1:123"
[[source]]
mode = "server"
address = "[2001:db8::123]:123"
[[source]]
mode = "server"
address = "ntp.example.org"

[synchronization]
local-stratum = 1
reference-id = "GPS"
`;
  const r = parseConfig(text, "ntp.toml");
  assert.ok(r.ok);
  if (!r.ok) return;
  assert.deepEqual(r.warnings, []);
  assert.deepEqual(
    r.config.servers[0]?.allowlist.filter.map((f) => `${f.address}/${f.prefixLength}`),
    ["192.0.2.10/32", "198.51.100.0/24", "2001:db8::1/128"],
  );
  assert.deepEqual(
    r.config.sources.map((s) => (s.mode === "server" ? s.address : null)),
    [
      { host: "192.0.2.1", port: 123 },
      { host: "2001:db8::123", port: 123 },
      { host: "ntp.example.org", port: 123 },
    ],
  );
});

test("the doc mistakes of ntpd-rs §2.11 are refused with advice", () => {
  const chrony = `[[pool]]
address = "pool.ntp.org"

[synchronization]
accumulated-threshold = 1800
accumulated-step-panic-threshold = "inf"

[[nts-ke-server]]
listen = "[::]"
certificate-chain-path = "c.pem"
private-key-path = "k.pem"
`;
  const r = parseConfig(chrony, "ntp.toml", { unimplemented: [] });
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.deepEqual(r.errors.map(formatDiagnostic), [
      'ntp.toml:1:1: unknown top-level key "pool" (write a [[source]] table with mode = "pool")',
      'ntp.toml:5:1: [synchronization]: unknown key "accumulated-threshold" (did you mean "accumulated-step-panic-threshold"?)',
      'ntp.toml:6:36: [synchronization].accumulated-step-panic-threshold: "inf" is not accepted here, expected a finite number of seconds (0 or more); use 0 or leave the key out to disable this limit',
      'ntp.toml:9:10: [[nts-ke-server]].listen: expected a socket address like "[::]:123" or "0.0.0.0:123", got "[::]": missing port',
    ]);
  }
});
