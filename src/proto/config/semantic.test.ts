// The `ntp-ctl validate` checks: warnings, returned beside a config that still loads.
import { test } from "node:test";
import assert from "node:assert/strict";
import { formatDiagnostic } from "./diagnostics.js";
import { parseConfig } from "./parse.js";

/** Warnings of a config that must load (feature gate off, to reach every source mode). */
function warnings(text: string): string[] {
  const r = parseConfig(text, "ntp.toml", { unimplemented: [] });
  if (!r.ok) assert.fail(r.errors.map(formatDiagnostic).join("\n"));
  return r.warnings.map(formatDiagnostic);
}

/** Errors of a config that must not load. */
function errors(text: string): string[] {
  const r = parseConfig(text, "ntp.toml", { unimplemented: [] });
  if (r.ok) assert.fail("the configuration loaded");
  return r.errors.map(formatDiagnostic);
}

const server = (host: string) => `[[source]]\nmode = "server"\naddress = "${host}"\n`;
const pool = (count: number) => `[[source]]\nmode = "pool"\naddress = "p"\ncount = ${count}\n`;
const pps = '[[source]]\nmode = "pps"\npath = "/dev/pps0"\nprecision = 1e-7\n';
const sock = '[[source]]\nmode = "sock"\npath = "/s"\nprecision = 1e-3\n';

test("fewer sources than minimum-agreeing-sources (default 3) is a warning", () => {
  assert.deepEqual(warnings(server("a") + server("b")), [
    "ntp.toml:1:1: [[source]]: 2 sources are configured, fewer than minimum-agreeing-sources (3, the default) that must agree on the time: the daemon will not change the system clock",
  ]);
  assert.deepEqual(warnings(server("a") + server("b") + server("c")), []);
  assert.deepEqual(
    warnings('[[server]]\nlisten = "[::]:123"\n'),
    [],
    "a server without sources is no source-count problem",
  );
});

test("neither sources nor servers: the daemon would do nothing, a warning", () => {
  const nothing =
    "ntp.toml:1:1: the configuration has no [[source]], [[server]] or [[nts-ke-server]]: " +
    "the daemon would neither set the clock nor serve time";
  assert.deepEqual(warnings(""), [nothing]);
  assert.deepEqual(warnings('[observability]\nlog-level = "info"\n'), [nothing]);
  assert.deepEqual(warnings(server("a") + server("b") + server("c")), []);
});

test("a pool counts its count, pps counts nothing, sock counts one", () => {
  assert.deepEqual(warnings(pool(4)), []);
  assert.equal(warnings(pool(2)).length, 1);
  assert.equal(warnings(pps + server("a") + server("b")).length, 1);
  assert.deepEqual(warnings(sock + server("a") + server("b")), []);
  const ntsPool = '[[source]]\nmode = "nts-pool"\naddress = "p"\ncount = 3\n';
  assert.deepEqual(warnings(ntsPool), []);
  const small = '[[source]]\nmode = "nts-pool"\naddress = "p"\ncount = 2\n';
  assert.equal(warnings(small).length, 1, "nts-pool count 2 < the default minimum of 3");
});

test("csptp: a source counts one; a second [[csptp-server]] warns", () => {
  const csptp = () => `[[source]]\nmode = "csptp"\naddress = "192.0.2.1"\n`;
  assert.deepEqual(warnings(csptp() + server("a") + server("b")), [], "csptp counts one");
  assert.equal(warnings(csptp() + server("a")).length, 1);
  assert.deepEqual(
    warnings('[[csptp-server]]\ninterface = "any"\n'),
    [],
    "a server is something to do",
  );
  assert.deepEqual(
    warnings('[[csptp-server]]\ninterface = "any"\n[[csptp-server]]\ninterface = "any"\n'),
    [
      "ntp.toml:3:1: [[csptp-server]]: one CSPTP server already listens on every address; this one adds nothing",
    ],
  );
});

test("an nts-pool with count = 0 is a warning at its count", () => {
  const text = '[[source]]\nmode = "nts-pool"\naddress = "p"\ncount = 0\n';
  assert.ok(
    warnings(text).includes(
      "ntp.toml:4:9: [[source]].count: an nts-pool source with count = 0 never uses the pool; use 1 or more",
    ),
    warnings(text).join("\n"),
  );
});

test("an explicit minimum-agreeing-sources is where the warning points", () => {
  const text = `${pool(4)}[synchronization]\nminimum-agreeing-sources = 5\n`;
  assert.deepEqual(warnings(text), [
    "ntp.toml:6:28: [synchronization].minimum-agreeing-sources: 4 sources are configured, fewer than minimum-agreeing-sources (5) that must agree on the time: the daemon will not change the system clock",
  ]);
  assert.deepEqual(warnings(`${server("a")}[synchronization]\nminimum-agreeing-sources = 1\n`), []);
});

test("a source forcing ntp-version = 5 is a warning; 4 and auto are not", () => {
  const text = `${pool(4)}ntp-version = 5\n`;
  assert.deepEqual(warnings(text), [
    'ntp.toml:5:15: [[source]].ntp-version: ntp-version = 5 forces the draft NTPv5 protocol, which this source may not support; use 4 or "auto"',
  ]);
  assert.deepEqual(warnings(`${pool(4)}ntp-version = "auto"\n`), []);
  assert.deepEqual(warnings(`${pool(4)}ntp-version = 4\n`), []);
});

const ke = (extra = "") =>
  `[[nts-ke-server]]\nlisten = "[::]:4460"\ncertificate-chain-path = "c"\nprivate-key-path = "k"\n${extra}`;
const ntpServer = (listen: string, extra = "") => `[[server]]\nlisten = "${listen}"\n${extra}`;

test("an NTS-KE server needs a [[server]] on its ntp-port for each version", () => {
  assert.deepEqual(warnings(ke()), [
    "ntp.toml:1:1: [[nts-ke-server]]: no [[server]] on port 123 accepts NTP version 4, so clients of this key exchange server will get no time; add such a [[server]] or set ntp-server (and ntp-port) to the NTP server they should use",
  ]);
  assert.deepEqual(warnings(ntpServer("[::]:123") + ke()), []);
  assert.equal(warnings(ntpServer("[::]:1123") + ke()).length, 1, "wrong port");
  assert.deepEqual(warnings(ntpServer("[::]:1123") + ke("ntp-port = 1123\n")), []);
  assert.deepEqual(warnings(ke('ntp-server = "time.example.com"\n')), [], "another server");
  const v5 = warnings(ntpServer("0.0.0.0:123") + ke("accept-ntp-versions = [4, 5]\n"));
  assert.equal(v5.length, 1);
  assert.match(v5[0] ?? "", /accepts NTP version 5,/);
  const both =
    ntpServer("0.0.0.0:123", "accept-ntp-versions = [4, 5]\n") +
    ke("accept-ntp-versions = [4, 5]\n");
  assert.deepEqual(warnings(both), []);
});

test("poll-interval-limits with min above max is an error, also after merging defaults", () => {
  // (A [[server]] so that the configuration has something to do.)
  assert.deepEqual(
    errors(
      '[[server]]\nlisten = "[::]:123"\n[source-defaults]\npoll-interval-limits = { min = 8, max = 6 }\n',
    ),
    ["ntp.toml:4:24: [source-defaults].poll-interval-limits: min (8) is greater than max (6)"],
  );
  const merged = `${pool(4)}poll-interval-limits = { min = 11 }\n`;
  assert.deepEqual(errors(merged), [
    "ntp.toml:5:24: [[source]].poll-interval-limits (with [source-defaults]): min (11) is greater than max (10)",
  ]);
  assert.deepEqual(warnings(`${pool(4)}poll-interval-limits = { min = 10 }\n`), []);
});

test("warnings come with errors too, when the config itself was valid", () => {
  const r = parseConfig(
    `${server("a")}ntp-version = 5\n\n[clock]\ntimestamp-mode = "software"\n`,
    "ntp.toml",
    {
      unimplemented: [{ path: "clock", what: "[clock]" }],
    },
  );
  assert.equal(r.ok, false);
  if (!r.ok) {
    assert.deepEqual(
      r.errors.map((e) => e.path),
      ["clock"],
    );
    assert.deepEqual(
      r.warnings.map((w) => w.path),
      ["source[0]", "source[0].ntp-version"],
    );
  }
  const invalid = parseConfig(`${server("a")}count = 1\n`, "ntp.toml");
  assert.equal(invalid.ok, false);
  assert.deepEqual(invalid.warnings, [], "no config, no semantic checks");
});

const front = (extra = "") =>
  `[[nts-pool-ke-server]]\nlisten = "[::]:4460"\ncertificate-chain-path = "c"\nprivate-key-path = "k"\n${extra}`;

test("a pool front: back ends needed, its own address, a back-end timeout below the client's", () => {
  const backends =
    'key-exchange-servers = [{ address = "t.example", authentication-token = "x" }]\n';
  assert.deepEqual(warnings(front(backends)), []);
  assert.deepEqual(warnings(front("key-exchange-servers = []\n")), [
    "ntp.toml:5:24: [[nts-pool-ke-server]].key-exchange-servers: no back ends, so every client gets an error",
  ]);
  const shared = warnings(`${front(backends)}${ke()}`);
  assert.ok(
    shared.some((w) => /listen: an \[\[nts-ke-server\]\] listens on the same address/.test(w)),
    shared.join("\n"),
  );
  const slow = warnings(front(`${backends}timesource-timeout-ms = 5000\n`));
  assert.equal(slow.length, 1);
  assert.match(
    slow[0]!,
    /timesource-timeout-ms: 5000 ms is not shorter than key-exchange-timeout-ms \(5000 ms\)/,
  );
});
