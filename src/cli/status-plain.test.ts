// `ntp-ctl status` plain output, byte for byte against ntpd-rs's v1.8 layout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sampleObservation } from "../../test/helpers/observations.js";
import { formatStatusPlain } from "./status-plain.js";

test("the full layout: status, sources sorted by (name, id), servers by address", () => {
  assert.equal(
    formatStatusPlain(sampleObservation()),
    [
      "Synchronization status:",
      "\tDispersion:\t0.000299s",
      "\tDelay:\t\t0.007637s",
      "\tStratum:\t4",
      "",
      "",
      "Sources:",
      "",
      "a.example:123 192.0.2.9:123 (9)",
      "\tOffset:\t\t\t+0.000024",
      "\tUncertainty:\t\t±0.000137",
      "\tDelay:\t\t\t±0.016886",
      "\tPoll interval:\t\t16s",
      "\tMissing polls:\t\t0",
      "\tRoot dispersion:\t0.005905s",
      "\tRoot delay:\t\t0.016190s",
      "",
      "ntpd-rs.pool.ntp.org:123 [2001:db8::1]:123 (2)",
      "\tOffset:\t\t\t-0.001234",
      "\tUncertainty:\t\t±0.000003",
      "\tDelay:\t\t\t±0.020000",
      "\tPoll interval:\t\t64s",
      "\tMissing polls:\t\t3",
      "\tRoot dispersion:\t0.005905s",
      "\tRoot delay:\t\t0.016190s",
      "",
      "ntpd-rs.pool.ntp.org:123 77.171.247.180:123 [NTS] (3)",
      "\tOffset:\t\t\t+0.000024",
      "\tUncertainty:\t\t±0.000137",
      "\tDelay:\t\t\t±0.016886",
      "\tPoll interval:\t\t16s",
      "\tMissing polls:\t\t0",
      "\tRoot dispersion:\t0.005905s",
      "\tRoot delay:\t\t0.016190s",
      "\tNTS cookies:\t\t7/8 available",
      "",
      "Servers:",
      "",
      "0.0.0.0:123",
      "\tIgnored\t\t\t2",
      "\tResponse send errors\t4",
      "\tNTS NAK\t\t\t6",
      "\tReceived\t\t101",
      "\tAccepted\t\t91",
      "\tDenied\t\t\t1",
      "\tRate limited\t\t3",
      "\tNTS Received\t\t50",
      "\tNTS Accepted\t\t45",
      "\tNTS Denied\t\t5",
      "\tNTS Rate limited\t0",
      "",
      "[::]:123",
      "\tIgnored\t\t\t2",
      "\tResponse send errors\t4",
      "\tNTS NAK\t\t\t6",
      "\tReceived\t\t102",
      "\tAccepted\t\t92",
      "\tDenied\t\t\t1",
      "\tRate limited\t\t3",
      "\tNTS Received\t\t50",
      "\tNTS Accepted\t\t45",
      "\tNTS Denied\t\t5",
      "\tNTS Rate limited\t0",
      "",
    ].join("\n"),
  );
});

test("without servers there is no Servers section; without sources just the header", () => {
  const text = formatStatusPlain(sampleObservation({ servers: [], sources: [] }));
  assert.equal(
    text,
    "Synchronization status:\n\tDispersion:\t0.000299s\n\tDelay:\t\t0.007637s\n\tStratum:\t4\n\n\nSources:\n",
  );
});

test("ntpd-ts: the system clock's error now, under the stratum, when the observation has it", () => {
  const o = sampleObservation({ servers: [], sources: [] });
  o.system.offset = -0.0000036;
  o.system.frequency = 25.0125e-6;
  assert.equal(
    formatStatusPlain(o),
    [
      "Synchronization status:",
      "\tDispersion:\t0.000299s",
      "\tDelay:\t\t0.007637s",
      "\tStratum:\t4",
      "\tOffset:\t\t-0.000004s",
      "\tFrequency:\t+25.013ppm",
      "",
      "",
      "Sources:",
      "",
    ].join("\n"),
  );
});

test("servers sort as Rust's SocketAddr: IPv4 first, then address bytes, then port", () => {
  const o = sampleObservation({ sources: [] });
  const s = o.servers[0]!.stats;
  o.servers = [
    "[::1]:123",
    "10.0.0.2:123",
    "[2001:db8::]:123",
    "9.0.0.1:4123",
    "9.0.0.1:123",
    "[::]:123",
  ].map((address) => ({ address, stats: s }));
  const order = formatStatusPlain(o)
    .split("\n")
    .filter((l) => /^[[0-9]/.test(l));
  assert.deepEqual(order, [
    "9.0.0.1:123",
    "9.0.0.1:4123",
    "10.0.0.2:123",
    "[::]:123",
    "[::1]:123",
    "[2001:db8::]:123",
  ]);
});

test("ntpd-ts: a server's interleaved answers, under its counters, only when the observation has them", () => {
  const o = sampleObservation();
  o.servers[0]!.stats.interleaved_packets = 12;
  const lines = formatStatusPlain(o).split("\n");
  const at = lines.indexOf(o.servers[0]!.address);
  assert.ok(at >= 0);
  assert.equal(lines[at + 11], "\tNTS Rate limited\t0");
  assert.equal(lines[at + 12], "\tInterleaved\t\t12");
  assert.equal(
    formatStatusPlain(sampleObservation()).includes("Interleaved"),
    false,
    "ntpd-rs's layout without the count",
  );
});

test("ntpd-ts: the NTS key set after the servers, when the observation has it", () => {
  const o = sampleObservation();
  assert.doesNotMatch(formatStatusPlain(o), /NTS keys:/);
  o.keyset = {
    role: "follower",
    primary_key_id: 41,
    keys: 9,
    stored_at: 1_803_000_000,
    reloads: 3,
    file_errors: 0,
    late: true,
  };
  const text = formatStatusPlain(o);
  assert.ok(
    text.endsWith(
      [
        "NTS keys:",
        "\tRole:\t\t\tfollower (LATE: the key file is older than a rotation interval)",
        "\tPrimary key id:\t\t41 (9 keys)",
        "\tStored rotation:\t2027-02-19T01:20:00Z",
        "\tReloads:\t\t3",
        "\tKey file errors:\t0",
        "",
      ].join("\n"),
    ),
    text,
  );
  o.keyset = { ...o.keyset, role: "primary", late: false };
  assert.doesNotMatch(formatStatusPlain(o), /Reloads|LATE/);
});

test("ntpd-ts: an NTS pool front's back ends and counters, when the observation has one", () => {
  const o = sampleObservation();
  assert.doesNotMatch(formatStatusPlain(o), /NTS pool front/);
  o.nts_pool_ke_servers = [
    {
      address: "[::]:4460",
      backends: 3,
      backends_up: 2,
      stats: { connections: 30, delegated: 25, rejected: 3, failed: 2, backend_failures: 4 },
    },
  ];
  assert.ok(
    formatStatusPlain(o).endsWith(
      [
        "NTS pool front [::]:4460:",
        "\tBack ends up:\t\t2/3",
        "\tConnections:\t\t30",
        "\tHanded on:\t\t25",
        "\tAnswered by the front:\t3",
        "\tFailed (no back end):\t2",
        "\tBack-end failures:\t4",
        "",
      ].join("\n"),
    ),
    formatStatusPlain(o),
  );
});
