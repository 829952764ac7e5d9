// An observation as metrics in the OpenMetrics text format, with ntpd-rs's
// metric names, types, labels and help texts (ntpd/src/metrics/mod.rs), for
// `ntp-metrics-exporter` and `ntp-ctl status -f prometheus`.
//
// Rendered by prom-client's OpenMetrics registry (a fresh registry per
// rendering: HELP, TYPE, samples, label escaping, `# EOF`), with two things it
// cannot do added or noted here:
//   * `# UNIT name seconds` after the TYPE line of each *_seconds metric:
//     prom-client 15 has no unit support, so the lines are inserted into its
//     output;
//   * counters follow OpenMetrics: `# TYPE ntp_server_received_packets counter`
//     with samples `ntp_server_received_packets_total`. ntpd-rs writes the
//     TYPE line with the `_total` name; the sample names, and so the series a
//     scraper stores, are the same.

import { Counter, Gauge, Registry, type OpenMetricsContentType } from "prom-client";
import {
  DEFAULT_MIN_POLL,
  LEAP_INDICATORS,
  systemRootDispersion,
  type Observation,
  type ObservedKeyset,
  type ObservedServer,
  type ObservedSource,
} from "../daemon/observation.js";
import type { ObservedNtsPoolKeServer } from "../daemon/observation-pool-front.js";
import type { ServerStatsObservation } from "../proto/server/stats.js";
import type { NtsKeStatsObservation } from "../daemon/nts-ke-stats.js";

export const OPENMETRICS_CONTENT_TYPE = Registry.OPENMETRICS_CONTENT_TYPE;

type Labels = Record<string, string>;

interface Sample {
  labels: Labels;
  value: number;
}

export interface MetricDefinition {
  /** The family name as ntpd-rs writes it (counters end in `_total`). */
  name: string;
  help: string;
  type: "gauge" | "counter";
  unit?: "seconds";
  labels: readonly string[];
  samples(o: Observation): Sample[];
}

const SOURCE_LABELS = ["name", "address", "id"] as const;
const SERVER_LABELS = ["listen_address"] as const;

const sourceLabels = (s: ObservedSource): Labels => ({
  name: s.name,
  address: s.address,
  id: String(s.id),
});

function perSource(value: (s: ObservedSource) => number | null): (o: Observation) => Sample[] {
  return (o) => {
    const samples: Sample[] = [];
    for (const s of o.sources) {
      const v = value(s);
      if (v !== null) samples.push({ labels: sourceLabels(s), value: v });
    }
    return samples;
  };
}

const one = (value: (o: Observation) => number) => (o: Observation) => [
  { labels: {}, value: value(o) },
];

function sourceGauge(
  name: string,
  help: string,
  value: (s: ObservedSource) => number | null,
  unit?: "seconds",
): MetricDefinition {
  return { name, help, type: "gauge", unit, labels: SOURCE_LABELS, samples: perSource(value) };
}

function serverCounter(
  name: string,
  help: string,
  key: keyof ServerStatsObservation,
): MetricDefinition {
  return {
    name,
    help,
    type: "counter",
    labels: SERVER_LABELS,
    // A key an observation may lack (an ntpd-ts extension, read from ntpd-rs)
    // leaves that server out rather than reporting 0.
    samples: (o) =>
      o.servers.flatMap((s: ObservedServer) => {
        const value = s.stats[key];
        return value === undefined ? [] : [{ labels: { listen_address: s.address }, value }];
      }),
  };
}

/** ntpd-ts: a counter of every `[[nts-ke-server]]` that reports its counters. */
function ntsKeServerCounter(key: keyof NtsKeStatsObservation, help: string): MetricDefinition {
  return {
    name: `ntp_nts_ke_server_${key}_total`,
    help,
    type: "counter",
    labels: SERVER_LABELS,
    samples: (o) =>
      (o.nts_ke_servers ?? []).flatMap((s) =>
        s.stats ? [{ labels: { listen_address: s.address }, value: s.stats[key] }] : [],
      ),
  };
}

/** ntpd-ts: one value of every `[[nts-pool-ke-server]]` front. */
function poolFrontMetric(
  name: string,
  help: string,
  type: "gauge" | "counter",
  value: (s: ObservedNtsPoolKeServer) => number,
): MetricDefinition {
  return {
    name,
    help,
    type,
    labels: SERVER_LABELS,
    samples: (o) =>
      (o.nts_pool_ke_servers ?? []).map((s) => ({
        labels: { listen_address: s.address },
        value: value(s),
      })),
  };
}

/** ntpd-ts: one value of the key set, labelled with its role; none without a key set. */
function keysetMetric(
  name: string,
  help: string,
  type: "gauge" | "counter",
  value: (k: ObservedKeyset) => number,
  unit?: "seconds",
): MetricDefinition {
  return {
    name,
    help,
    type,
    unit,
    labels: ["role"],
    samples: (o) => (o.keyset ? [{ labels: { role: o.keyset.role }, value: value(o.keyset) }] : []),
  };
}

/** Every metric, in ntpd-rs's order, then ntpd-ts's additions. */
export const METRICS: readonly MetricDefinition[] = [
  {
    name: "ntp_uptime_seconds",
    help: "Time that the ntp daemon is running.",
    type: "gauge",
    unit: "seconds",
    labels: ["version", "build_commit", "build_commit_date"],
    samples: (o) => [
      {
        labels: {
          version: o.program.version,
          build_commit: o.program.build_commit,
          build_commit_date: o.program.build_commit_date,
        },
        value: o.program.uptime_seconds,
      },
    ],
  },
  {
    name: "ntp_system_poll_interval_seconds",
    help: "[DEPRECATED] Time between polls of the system.",
    type: "gauge",
    unit: "seconds",
    labels: [],
    // The shortest source poll interval; ntpd-rs's default minimum (2^4 s) without sources.
    samples: one((o) =>
      o.sources.length === 0
        ? 2 ** DEFAULT_MIN_POLL
        : 2 ** Math.min(...o.sources.map((s) => s.poll_interval)),
    ),
  },
  {
    name: "ntp_system_accumulated_steps_seconds",
    help: "Accumulated amount of seconds that the system needed to jump the time.",
    type: "gauge",
    unit: "seconds",
    labels: [],
    samples: one((o) => o.system.accumulated_steps),
  },
  {
    name: "ntp_system_accumulated_steps_threshold_seconds",
    help:
      "Threshold for the accumulated step amount at which the NTP daemon will exit " +
      "(or -1 if no threshold was set).",
    type: "gauge",
    unit: "seconds",
    labels: [],
    samples: one((o) => o.system.accumulated_steps_threshold ?? -1),
  },
  {
    name: "ntp_system_leap_indicator",
    help: "Indicates that a leap second will take place.",
    type: "gauge",
    labels: [],
    samples: one((o) => LEAP_INDICATORS.indexOf(o.system.leap_indicator)),
  },
  {
    name: "ntp_system_root_delay_seconds",
    help: "Distance to the closest root time source.",
    type: "gauge",
    unit: "seconds",
    labels: [],
    samples: one((o) => o.system.root_delay),
  },
  {
    name: "ntp_system_root_dispersion_seconds",
    help: "Estimate of how precise our time is.",
    type: "gauge",
    unit: "seconds",
    labels: [],
    samples: one(systemRootDispersion),
  },
  {
    name: "ntp_system_stratum",
    help: "Stratum of our clock.",
    type: "gauge",
    labels: [],
    samples: one((o) => o.system.stratum),
  },
  sourceGauge(
    "ntp_source_poll_interval_seconds",
    "Time between polls of the source.",
    (s) => 2 ** s.poll_interval,
    "seconds",
  ),
  sourceGauge(
    "ntp_source_unanswered_polls",
    "Number of polls since the last successful poll with a maximum of eight.",
    (s) => s.unanswered_polls,
  ),
  sourceGauge(
    "ntp_source_nts_cookies_available",
    "Number of NTS cookies the source has available (NTS sources only).",
    (s) => s.nts_cookies,
  ),
  sourceGauge(
    "ntp_source_offset_seconds",
    "Offset between the upstream source and system time.",
    (s) => s.offset,
    "seconds",
  ),
  sourceGauge(
    "ntp_source_delay_seconds",
    "Current round-trip delay to the upstream source.",
    (s) => s.delay,
    "seconds",
  ),
  sourceGauge(
    "ntp_source_uncertainty_seconds",
    "Estimated error of the source clock.",
    (s) => s.uncertainty,
    "seconds",
  ),
  sourceGauge(
    "ntp_source_root_delay_seconds",
    "Root delay reported by the time source.",
    (s) => s.remote_delay,
    "seconds",
  ),
  sourceGauge(
    "ntp_source_root_dispersion_seconds",
    "Uncertainty reported by the time source.",
    (s) => s.remote_uncertainty,
    "seconds",
  ),
  serverCounter(
    "ntp_server_received_packets_total",
    "Number of incoming packets.",
    "received_packets",
  ),
  serverCounter(
    "ntp_server_accepted_packets_total",
    "Number of packets accepted.",
    "accepted_packets",
  ),
  serverCounter("ntp_server_denied_packets_total", "Number of denied packets.", "denied_packets"),
  serverCounter(
    "ntp_server_ignored_packets_total",
    "Number of packets ignored.",
    "ignored_packets",
  ),
  serverCounter(
    "ntp_server_rate_limited_packets_total",
    "Number of rate limited packets.",
    "rate_limited_packets",
  ),
  serverCounter(
    "ntp_server_response_send_errors_total",
    "Number of packets where there was an error responding.",
    "response_send_errors",
  ),
  serverCounter(
    "ntp_server_nts_received_packets_total",
    "Number of incoming NTS packets.",
    "nts_received_packets",
  ),
  serverCounter(
    "ntp_server_nts_accepted_packets_total",
    "Number of NTS packets accepted.",
    "nts_accepted_packets",
  ),
  serverCounter(
    "ntp_server_nts_denied_packets_total",
    "Number of denied NTS packets.",
    "nts_denied_packets",
  ),
  serverCounter(
    "ntp_server_nts_rate_limited_packets_total",
    "Number of rate limited NTS packets.",
    "nts_rate_limited_packets",
  ),
  serverCounter(
    "ntp_server_nts_nak_packets_total",
    "Number of NTS nak responses to packets.",
    "nts_nak_packets",
  ),
  // ntpd-ts: not in ntpd-rs, named in its style.
  serverCounter(
    "ntp_server_interleaved_packets_total",
    "Number of time responses in interleaved mode (T3 from the wire).",
    "interleaved_packets",
  ),
  // ntpd-ts: not in ntpd-rs, named in its style. The system clock's error as
  // the daemon estimates it at the moment of the request (the observation's
  // system.offset and system.frequency); left out, not 0, when the observation
  // has none (before the first clock update, or from ntpd-rs).
  {
    name: "ntp_system_offset_seconds",
    help: "Estimated offset of the system clock from true time (positive: the system clock is behind).",
    type: "gauge",
    unit: "seconds",
    labels: [],
    samples: (o) => (o.system.offset === undefined ? [] : [{ labels: {}, value: o.system.offset }]),
  },
  {
    name: "ntp_system_frequency_ratio",
    help: "Estimated frequency error of the system clock, seconds per second (positive: the system clock runs slow).",
    type: "gauge",
    labels: [],
    samples: (o) =>
      o.system.frequency === undefined ? [] : [{ labels: {}, value: o.system.frequency }],
  },
  {
    name: "ntp_nts_ke_server_certificate_expiry_timestamp_seconds",
    help: "Time the certificate of the NTS-KE server expires, in seconds since the Unix epoch.",
    type: "gauge",
    unit: "seconds",
    labels: SERVER_LABELS,
    samples: (o) =>
      (o.nts_ke_servers ?? []).map((s) => ({
        labels: { listen_address: s.address },
        value: s.certificate_not_after,
      })),
  },
  // ntpd-ts: ntpd-rs publishes no NTS-KE counters; these are named in the style of its
  // ntp_server_*_total. Each accepted connection ends in one of served, refused,
  // timed_out and failed.
  ntsKeServerCounter("accepted_connections", "Number of NTS-KE connections accepted."),
  ntsKeServerCounter("served_connections", "Number of NTS-KE connections answered."),
  ntsKeServerCounter(
    "refused_connections",
    "Number of NTS-KE connections closed at once because the concurrent connection limit was reached.",
  ),
  ntsKeServerCounter(
    "timed_out_connections",
    "Number of NTS-KE connections closed at the key exchange timeout.",
  ),
  ntsKeServerCounter(
    "failed_connections",
    "Number of NTS-KE connections that failed (TLS handshake, no ALPN ntske/1, closed early).",
  ),
  ntsKeServerCounter("key_exchanges", "Number of NTS key exchanges completed."),
  ntsKeServerCounter("error_responses", "Number of NTS-KE requests answered with an error record."),
  ntsKeServerCounter("no_alpn_connections", "Number of NTS-KE connections without ALPN ntske/1."),
  // ntpd-ts: the [[csptp-server]] (docs/csptp.md).
  {
    name: "ntp_csptp_server_received_packets_total",
    help: "Number of datagrams received by the CSPTP server.",
    type: "counter",
    labels: SERVER_LABELS,
    samples: (o) =>
      (o.csptp_servers ?? []).map((s) => ({
        labels: { listen_address: s.address },
        value: s.received,
      })),
  },
  {
    name: "ntp_csptp_server_responded_packets_total",
    help: "Number of CSPTP responses sent.",
    type: "counter",
    labels: SERVER_LABELS,
    samples: (o) =>
      (o.csptp_servers ?? []).map((s) => ({
        labels: { listen_address: s.address },
        value: s.responded,
      })),
  },
  {
    name: "ntp_csptp_server_dropped_packets_total",
    help: "Number of datagrams the CSPTP server did not answer, by reason.",
    type: "counter",
    labels: ["listen_address", "reason"],
    samples: (o) =>
      (o.csptp_servers ?? []).flatMap((s) =>
        Object.entries(s.dropped).map(([reason, value]) => ({
          labels: { listen_address: s.address, reason },
          value,
        })),
      ),
  },
  // ntpd-ts: the NTS cookie key set, so that a fleet's followers can be watched (docs/nts-fleet.md).
  keysetMetric(
    "ntp_keyset_primary_key_id",
    "Key id that new NTS cookies are sealed with.",
    "gauge",
    (k) => k.primary_key_id,
  ),
  keysetMetric(
    "ntp_keyset_stored_timestamp_seconds",
    "Time of the key rotation stored in the key file, in seconds since the Unix epoch.",
    "gauge",
    (k) => k.stored_at,
    "seconds",
  ),
  keysetMetric(
    "ntp_keyset_late",
    "1 when a follower's key file is older than key-rotation-interval and a quarter allow.",
    "gauge",
    (k) => (k.late ? 1 : 0),
  ),
  keysetMetric(
    "ntp_keyset_reloads_total",
    "Number of times a follower took a changed key file.",
    "counter",
    (k) => k.reloads,
  ),
  keysetMetric(
    "ntp_keyset_file_errors_total",
    "Number of failed uses of the key file: a follower's unusable reads, the primary's failed stores.",
    "counter",
    (k) => k.file_errors,
  ),
  poolFrontMetric(
    "ntp_nts_pool_ke_server_connections_total",
    "Number of connections to the NTS pool front.",
    "counter",
    (s) => s.stats.connections,
  ),
  poolFrontMetric(
    "ntp_nts_pool_ke_server_delegated_total",
    "Number of clients the NTS pool front handed on to a back end.",
    "counter",
    (s) => s.stats.delegated,
  ),
  poolFrontMetric(
    "ntp_nts_pool_ke_server_rejected_total",
    "Number of requests the NTS pool front answered itself with an error or a no-overlap reply.",
    "counter",
    (s) => s.stats.rejected,
  ),
  poolFrontMetric(
    "ntp_nts_pool_ke_server_failed_total",
    "Number of clients that got an error because no back end could serve them.",
    "counter",
    (s) => s.stats.failed,
  ),
  poolFrontMetric(
    "ntp_nts_pool_ke_server_backend_failures_total",
    "Number of key exchanges with back ends that failed (unreachable, refused, bad answer).",
    "counter",
    (s) => s.stats.backend_failures,
  ),
  poolFrontMetric(
    "ntp_nts_pool_ke_server_backends_up",
    "Number of back ends the NTS pool front hands clients to now (not held back after a failure).",
    "gauge",
    (s) => s.backends_up,
  ),
];

/** The OpenMetrics exposition of `observation`, ending in "# EOF\n". */
export async function renderMetrics(observation: Observation): Promise<string> {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  const units = new Set<string>();
  for (const def of METRICS) {
    const samples = def.samples(observation);
    // A gauge without labels would show 0 for a value the observation does not have.
    if (samples.length === 0 && def.labels.length === 0) continue;
    const config = {
      name: def.name,
      help: def.help,
      labelNames: def.labels,
      registers: [registry],
    };
    if (def.type === "counter") {
      const counter = new Counter(config);
      for (const s of samples) counter.inc(s.labels, s.value);
    } else {
      const gauge = new Gauge(config);
      for (const s of samples) {
        if (def.labels.length === 0) gauge.set(s.value);
        else gauge.set(s.labels, s.value);
      }
    }
    if (def.unit) units.add(def.name);
  }
  const text = await registry.metrics();
  const out: string[] = [];
  for (const line of text.split("\n")) {
    out.push(line);
    const type = /^# TYPE (\S+) /.exec(line);
    if (type && units.has(type[1]!)) out.push(`# UNIT ${type[1]} seconds`);
  }
  return out.join("\n");
}
