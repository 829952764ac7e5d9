// The metrics exposition, read back by an OpenMetrics parser: every ntpd-rs
// metric with its type, unit, labels and value, label escaping, `# EOF`.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  NTPD_RS_METRICS,
  NTPD_TS_METRICS,
  OpenMetricsError,
  parseOpenMetrics,
  type Family,
} from "../../test/helpers/openmetrics.js";
import { observedSource, sampleObservation } from "../../test/helpers/observations.js";
import { METRICS, renderMetrics } from "./metrics.js";

/** The family a scraper sees for ntpd-rs's metric name (counters without `_total`). */
function family(families: Map<string, Family>, name: string): Family {
  const f = families.get(name) ?? families.get(name.replace(/_total$/, ""));
  assert.ok(f, `missing metric ${name}`);
  return f;
}

test("every ntpd-rs metric is there with its type, unit, help and labels", async () => {
  const o = sampleObservation();
  o.system.offset = 2.5e-6;
  o.system.frequency = 1.25e-5;
  for (const s of o.servers) s.stats.interleaved_packets = 0;
  const text = await renderMetrics(o);
  assert.ok(text.endsWith("\n# EOF\n"));
  const families = parseOpenMetrics(text);
  assert.equal(families.size, NTPD_RS_METRICS.length + NTPD_TS_METRICS.length);
  assert.equal(METRICS.length, NTPD_RS_METRICS.length + NTPD_TS_METRICS.length);
  for (const [name, type, labels, unit] of NTPD_RS_METRICS) {
    const f = family(families, name);
    assert.equal(f.type, type, name);
    assert.equal(f.unit, unit, name);
    assert.ok(f.help && f.help.endsWith("."), name);
    assert.ok(f.samples.length > 0, name);
    for (const s of f.samples) {
      assert.equal(s.name, name, "sample names are ntpd-rs's (counters with _total)");
      assert.deepEqual(Object.keys(s.labels).sort(), [...labels].sort(), name);
    }
  }
});

test("values: system, per source, per server", async () => {
  const o = sampleObservation();
  const f = parseOpenMetrics(await renderMetrics(o));
  const one = (name: string) => {
    const samples = family(f, name).samples;
    assert.equal(samples.length, 1, name);
    return samples[0]!;
  };
  assert.deepEqual(one("ntp_uptime_seconds").labels, {
    version: "0.1.0",
    build_commit: "abc1234",
    build_commit_date: "2026-11-26",
  });
  assert.equal(one("ntp_uptime_seconds").value, 173.02);
  assert.equal(one("ntp_system_poll_interval_seconds").value, 16); // the shortest: 2^4
  assert.equal(one("ntp_system_accumulated_steps_seconds").value, 0.0517);
  assert.equal(one("ntp_system_accumulated_steps_threshold_seconds").value, -1);
  assert.equal(one("ntp_system_leap_indicator").value, 0);
  assert.equal(one("ntp_system_stratum").value, 4);
  assert.equal(one("ntp_system_root_delay_seconds").value, 0.007637);
  assert.ok(Math.abs(one("ntp_system_root_dispersion_seconds").value - 0.000299) < 1e-12);

  const bySource = (name: string) =>
    new Map(family(f, name).samples.map((s) => [s.labels.id, s.value]));
  assert.deepEqual(
    bySource("ntp_source_poll_interval_seconds"),
    new Map([
      ["3", 16],
      ["2", 64],
      ["9", 16],
    ]),
  );
  assert.deepEqual(bySource("ntp_source_unanswered_polls").get("2"), 3);
  assert.deepEqual(bySource("ntp_source_offset_seconds").get("2"), -0.0012345);
  assert.deepEqual(bySource("ntp_source_uncertainty_seconds").get("3"), 0.000137);
  assert.deepEqual(bySource("ntp_source_delay_seconds").get("2"), 0.02);
  assert.deepEqual(bySource("ntp_source_root_delay_seconds").get("3"), 0.01619);
  assert.deepEqual(bySource("ntp_source_root_dispersion_seconds").get("3"), 0.005905);
  // NTS sources only.
  assert.deepEqual(bySource("ntp_source_nts_cookies_available"), new Map([["3", 7]]));
  const sample = family(f, "ntp_source_offset_seconds").samples.find((s) => s.labels.id === "2")!;
  assert.deepEqual(sample.labels, {
    name: "ntpd-rs.pool.ntp.org:123",
    address: "[2001:db8::1]:123",
    id: "2",
  });

  const received = family(f, "ntp_server_received_packets_total").samples;
  assert.deepEqual(
    received.map((s) => [s.labels.listen_address, s.value]),
    [
      ["[::]:123", 102],
      ["0.0.0.0:123", 101],
    ],
  );
  const v = (name: string) => family(f, name).samples[0]!.value;
  assert.equal(v("ntp_server_accepted_packets_total"), 92);
  assert.equal(v("ntp_server_denied_packets_total"), 1);
  assert.equal(v("ntp_server_ignored_packets_total"), 2);
  assert.equal(v("ntp_server_rate_limited_packets_total"), 3);
  assert.equal(v("ntp_server_response_send_errors_total"), 4);
  assert.equal(v("ntp_server_nts_received_packets_total"), 50);
  assert.equal(v("ntp_server_nts_accepted_packets_total"), 45);
  assert.equal(v("ntp_server_nts_denied_packets_total"), 5);
  assert.equal(v("ntp_server_nts_rate_limited_packets_total"), 0);
  assert.equal(v("ntp_server_nts_nak_packets_total"), 6);
});

test("ntpd-ts: interleaved replies per server; a server without the count (ntpd-rs) is left out", async () => {
  const o = sampleObservation();
  o.servers[1]!.stats.interleaved_packets = 7;
  const f = parseOpenMetrics(await renderMetrics(o));
  assert.deepEqual(
    family(f, "ntp_server_interleaved_packets_total").samples.map((s) => [
      s.labels.listen_address,
      s.value,
    ]),
    [[o.servers[1]!.address, 7]],
  );
  const without = parseOpenMetrics(await renderMetrics(sampleObservation()));
  assert.equal(without.get("ntp_server_interleaved_packets_total"), undefined);
});

test("ntpd-ts: the system clock's error as the observation gives it; left out, not 0, without it", async () => {
  const o = sampleObservation();
  o.system.offset = -3.5e-6;
  o.system.frequency = 2.5e-5;
  const f = parseOpenMetrics(await renderMetrics(o));
  assert.deepEqual(family(f, "ntp_system_offset_seconds").samples[0]!.value, -3.5e-6);
  assert.equal(family(f, "ntp_system_offset_seconds").unit, "seconds");
  assert.deepEqual(family(f, "ntp_system_frequency_ratio").samples[0]!.value, 2.5e-5);
  // An observation without them (before the first update, or ntpd-rs's).
  const without = parseOpenMetrics(await renderMetrics(sampleObservation()));
  assert.equal(without.get("ntp_system_offset_seconds"), undefined);
  assert.equal(without.get("ntp_system_frequency_ratio"), undefined);
  assert.equal(without.size, f.size - 2);
});

test("label values are escaped (backslash, quote, newline) and read back intact", async () => {
  const name = 'we\\ird "name"\nhere:123';
  const o = sampleObservation({ sources: [observedSource({ name, id: 5 })] });
  const text = await renderMetrics(o);
  assert.ok(text.includes('name="we\\\\ird \\"name\\"\\nhere:123"'));
  const f = parseOpenMetrics(text);
  assert.equal(family(f, "ntp_source_offset_seconds").samples[0]!.labels.name, name);
});

test("no sources, no servers: metadata only, defaults as ntpd-rs", async () => {
  const o = sampleObservation({ sources: [], servers: [] });
  o.system.accumulated_steps_threshold = 1000;
  o.system.leap_indicator = "Unsynchronized";
  const f = parseOpenMetrics(await renderMetrics(o));
  assert.equal(family(f, "ntp_system_poll_interval_seconds").samples[0]!.value, 16);
  assert.equal(family(f, "ntp_system_accumulated_steps_threshold_seconds").samples[0]!.value, 1000);
  assert.equal(family(f, "ntp_system_leap_indicator").samples[0]!.value, 4);
  assert.equal(family(f, "ntp_source_offset_seconds").samples.length, 0);
  assert.equal(family(f, "ntp_server_received_packets_total").samples.length, 0);
  assert.equal(family(f, "ntp_server_received_packets_total").type, "counter");
});

test("the test parser rejects what a scraper would", () => {
  const bad = [
    "# TYPE a gauge\na 1\n", // no EOF
    "# TYPE a gauge\nb 1\n# EOF\n", // sample of another family
    "# TYPE a_seconds gauge\n# UNIT a_seconds bytes\n# EOF\n", // unit not a suffix
    '# TYPE a gauge\na{x="\\q"} 1\n# EOF\n', // bad escape
    "# TYPE a counter\na 1\n# EOF\n", // counter sample without _total
    "# TYPE a gauge\na 1\n# TYPE b gauge\n# HELP a x\n# EOF\n", // interleaved
  ];
  for (const text of bad) assert.throws(() => parseOpenMetrics(text), OpenMetricsError, text);
});

test("the NTS-KE certificate expiry is a gauge per listen address, Unix seconds", async () => {
  const o = sampleObservation();
  o.nts_ke_servers = [{ address: "[::]:4460", certificate_not_after: 1_803_124_800 }];
  const f = parseOpenMetrics(await renderMetrics(o));
  const fam = family(f, "ntp_nts_ke_server_certificate_expiry_timestamp_seconds");
  assert.equal(fam.type, "gauge");
  assert.equal(fam.unit, "seconds");
  assert.deepEqual(fam.samples, [
    {
      name: "ntp_nts_ke_server_certificate_expiry_timestamp_seconds",
      labels: { listen_address: "[::]:4460" },
      value: 1_803_124_800,
    },
  ]);
});

test("the NTS-KE counters are counters per listen address; an entry without them adds none", async () => {
  const o = sampleObservation();
  const stats = {
    accepted_connections: 20,
    served_connections: 9,
    refused_connections: 4,
    timed_out_connections: 3,
    failed_connections: 2,
    key_exchanges: 8,
    error_responses: 1,
    no_alpn_connections: 1,
  };
  o.nts_ke_servers = [
    { address: "[::]:4460", certificate_not_after: 1_803_124_800, stats },
    { address: "127.0.0.1:4461", certificate_not_after: 1_803_124_800 },
  ];
  const f = parseOpenMetrics(await renderMetrics(o));
  for (const [key, value] of Object.entries(stats)) {
    const name = `ntp_nts_ke_server_${key}_total`;
    const fam = family(f, name);
    assert.equal(fam.type, "counter", name);
    assert.deepEqual(fam.samples, [{ name, labels: { listen_address: "[::]:4460" }, value }]);
  }
});

test("ntpd-ts: the key set's state, labelled with its role; none without a key set", async () => {
  const o = sampleObservation();
  const none = parseOpenMetrics(await renderMetrics(o));
  assert.deepEqual(family(none, "ntp_keyset_primary_key_id").samples, []);
  o.keyset = {
    role: "follower",
    primary_key_id: 41,
    keys: 9,
    stored_at: 1_803_000_000,
    reloads: 3,
    file_errors: 2,
    late: true,
  };
  const f = parseOpenMetrics(await renderMetrics(o));
  const expected: [string, number][] = [
    ["ntp_keyset_primary_key_id", 41],
    ["ntp_keyset_stored_timestamp_seconds", 1_803_000_000],
    ["ntp_keyset_late", 1],
    ["ntp_keyset_reloads_total", 3],
    ["ntp_keyset_file_errors_total", 2],
  ];
  for (const [name, value] of expected) {
    assert.deepEqual(family(f, name).samples, [{ name, labels: { role: "follower" }, value }]);
  }
});

test("ntpd-ts: an NTS pool front's counters and back ends up, per listen address", async () => {
  const o = sampleObservation();
  const none = parseOpenMetrics(await renderMetrics(o));
  assert.deepEqual(family(none, "ntp_nts_pool_ke_server_backends_up").samples, []);
  o.nts_pool_ke_servers = [
    {
      address: "[::]:4460",
      backends: 3,
      backends_up: 2,
      stats: { connections: 30, delegated: 25, rejected: 3, failed: 2, backend_failures: 4 },
    },
  ];
  const f = parseOpenMetrics(await renderMetrics(o));
  const expected: [string, number][] = [
    ["ntp_nts_pool_ke_server_connections_total", 30],
    ["ntp_nts_pool_ke_server_delegated_total", 25],
    ["ntp_nts_pool_ke_server_rejected_total", 3],
    ["ntp_nts_pool_ke_server_failed_total", 2],
    ["ntp_nts_pool_ke_server_backend_failures_total", 4],
    ["ntp_nts_pool_ke_server_backends_up", 2],
  ];
  for (const [name, value] of expected) {
    assert.deepEqual(family(f, name).samples, [
      { name, labels: { listen_address: "[::]:4460" }, value },
    ]);
  }
});

test("ntpd-ts: the CSPTP server's counters, drops by reason; none without a server", async () => {
  const o = sampleObservation();
  const none = parseOpenMetrics(await renderMetrics(o));
  assert.deepEqual(family(none, "ntp_csptp_server_dropped_packets_total").samples, []);
  o.csptp_servers = [
    {
      address: "[::]:319",
      received: 12,
      responded: 9,
      dropped: { "too-short": 2, tlv: 1 },
      send_errors: 0,
    },
  ];
  const f = parseOpenMetrics(await renderMetrics(o));
  const at = { listen_address: "[::]:319" };
  const received = "ntp_csptp_server_received_packets_total";
  const responded = "ntp_csptp_server_responded_packets_total";
  const dropped = "ntp_csptp_server_dropped_packets_total";
  assert.deepEqual(family(f, received).samples, [{ name: received, labels: at, value: 12 }]);
  assert.deepEqual(family(f, responded).samples, [{ name: responded, labels: at, value: 9 }]);
  assert.deepEqual(family(f, dropped).samples, [
    { name: dropped, labels: { ...at, reason: "too-short" }, value: 2 },
    { name: dropped, labels: { ...at, reason: "tlv" }, value: 1 },
  ]);
});
