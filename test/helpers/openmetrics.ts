// A strict-enough OpenMetrics text parser for tests: metric families with
// their HELP, TYPE and UNIT, samples with labels (escapes undone) and values,
// and the rules a scraper relies on: `# EOF` last, a family's metadata before
// its samples, no family twice, sample names that belong to their family
// (counters: `<family>_total`), UNIT a suffix of the family name.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help?: string;
  unit?: string;
  samples: Sample[];
}

export class OpenMetricsError extends Error {}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parseOpenMetrics(text: string): Map<string, Family> {
  if (!text.endsWith("# EOF\n") && !text.endsWith("# EOF")) {
    throw new OpenMetricsError("the exposition does not end with # EOF");
  }
  const lines = text.replace(/\n$/, "").split("\n");
  if (lines.at(-1) !== "# EOF") throw new OpenMetricsError("# EOF is not the last line");
  lines.pop();
  const families = new Map<string, Family>();
  let current: Family | null = null;
  lines.forEach((line, index) => {
    const at = `line ${index + 1}`;
    const fail = (message: string): never => {
      throw new OpenMetricsError(`${at}: ${message}: ${line}`);
    };
    if (line.startsWith("#")) {
      const m = /^# (HELP|TYPE|UNIT) (\S+)(?: (.*))?$/.exec(line);
      if (!m) return fail("unknown comment");
      const [, kind, name, rest = ""] = m as unknown as [string, string, string, string?];
      if (!NAME.test(name)) fail("bad metric name");
      let family = families.get(name);
      if (!family) {
        family = { name, type: "unknown", samples: [] };
        families.set(name, family);
        current = family;
      } else if (current !== family) {
        fail("metadata for a family seen before (families interleaved)");
      }
      if (family.samples.length > 0) fail("metadata after samples");
      if (kind === "HELP") {
        if (family.help !== undefined) fail("second HELP");
        family.help = rest.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
      } else if (kind === "TYPE") {
        if (family.type !== "unknown") fail("second TYPE");
        if (
          !["counter", "gauge", "info", "stateset", "histogram", "summary", "unknown"].includes(
            rest,
          )
        ) {
          fail("unknown type");
        }
        family.type = rest;
      } else {
        if (family.unit !== undefined) fail("second UNIT");
        if (!name.endsWith(`_${rest}`)) fail("the unit is not a suffix of the name");
        family.unit = rest;
      }
      return;
    }
    const sample = parseSample(line, fail);
    if (!current) return fail("sample before any metadata");
    const family: Family = current;
    const allowed =
      family.type === "counter"
        ? [`${family.name}_total`, `${family.name}_created`]
        : [family.name];
    if (!allowed.includes(sample.name)) fail(`sample does not belong to family ${family.name}`);
    family.samples.push(sample);
  });
  return families;
}

function parseSample(line: string, fail: (message: string) => never): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!m) return fail("bad sample name");
  const name = m[1]!;
  let i = name.length;
  const labels: Record<string, string> = {};
  if (line[i] === "{") {
    i++;
    while (line[i] !== "}") {
      const lm = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(line.slice(i));
      if (!lm || !LABEL_NAME.test(lm[1]!)) return fail("bad label");
      i += lm[0].length;
      let value = "";
      for (;;) {
        const c = line[i];
        if (c === undefined) return fail("unterminated label value");
        if (c === '"') break;
        if (c === "\\") {
          const e = line[i + 1];
          if (e === "n") value += "\n";
          else if (e === "\\" || e === '"') value += e;
          else return fail("bad escape in label value");
          i += 2;
        } else {
          value += c;
          i++;
        }
      }
      i++;
      if (lm[1]! in labels) fail("duplicate label");
      labels[lm[1]!] = value;
      if (line[i] === ",") i++;
      else if (line[i] !== "}") return fail("expected , or }");
    }
    i++;
  }
  if (line[i] !== " ") return fail("expected a space before the value");
  const rest = line.slice(i + 1).split(" ");
  const text = rest[0] ?? "";
  if (rest.length > 2) fail("unexpected fields after the value");
  let value: number;
  if (text === "+Inf") value = Infinity;
  else if (text === "-Inf") value = -Infinity;
  else if (text === "NaN") value = NaN;
  else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) value = Number(text);
  else return fail("bad value");
  return { name, labels, value };
}

/** ntpd-rs's metrics (reference §3.3): name as ntpd-rs writes it, type, labels, unit. */
export const NTPD_RS_METRICS: [name: string, type: string, labels: string[], unit?: string][] = [
  ["ntp_uptime_seconds", "gauge", ["version", "build_commit", "build_commit_date"], "seconds"],
  ["ntp_system_poll_interval_seconds", "gauge", [], "seconds"],
  ["ntp_system_accumulated_steps_seconds", "gauge", [], "seconds"],
  ["ntp_system_accumulated_steps_threshold_seconds", "gauge", [], "seconds"],
  ["ntp_system_leap_indicator", "gauge", []],
  ["ntp_system_root_delay_seconds", "gauge", [], "seconds"],
  ["ntp_system_root_dispersion_seconds", "gauge", [], "seconds"],
  ["ntp_system_stratum", "gauge", []],
  ["ntp_source_poll_interval_seconds", "gauge", ["name", "address", "id"], "seconds"],
  ["ntp_source_unanswered_polls", "gauge", ["name", "address", "id"]],
  ["ntp_source_nts_cookies_available", "gauge", ["name", "address", "id"]],
  ["ntp_source_offset_seconds", "gauge", ["name", "address", "id"], "seconds"],
  ["ntp_source_delay_seconds", "gauge", ["name", "address", "id"], "seconds"],
  ["ntp_source_uncertainty_seconds", "gauge", ["name", "address", "id"], "seconds"],
  ["ntp_source_root_delay_seconds", "gauge", ["name", "address", "id"], "seconds"],
  ["ntp_source_root_dispersion_seconds", "gauge", ["name", "address", "id"], "seconds"],
  ...[
    "received",
    "accepted",
    "denied",
    "ignored",
    "rate_limited",
    "nts_received",
    "nts_accepted",
    "nts_denied",
    "nts_rate_limited",
    "nts_nak",
  ].map((k): [string, string, string[]] => [
    `ntp_server_${k}_packets_total`,
    "counter",
    ["listen_address"],
  ]),
  ["ntp_server_response_send_errors_total", "counter", ["listen_address"]],
];

/** Metrics ntpd-ts adds, in ntpd-rs's naming style (docs/monitoring.md). */
export const NTPD_TS_METRICS: [name: string, type: string, labels: string[], unit?: string][] = [
  // Only when the observation has system.offset / system.frequency.
  ["ntp_system_offset_seconds", "gauge", [], "seconds"],
  ["ntp_system_frequency_ratio", "gauge", []],
  // Only for servers whose observation has interleaved_packets.
  ["ntp_server_interleaved_packets_total", "counter", ["listen_address"]],
  [
    "ntp_nts_ke_server_certificate_expiry_timestamp_seconds",
    "gauge",
    ["listen_address"],
    "seconds",
  ],
  ...[
    "accepted_connections",
    "served_connections",
    "refused_connections",
    "timed_out_connections",
    "failed_connections",
    "key_exchanges",
    "error_responses",
    "no_alpn_connections",
  ].map((k): [string, string, string[]] => [
    `ntp_nts_ke_server_${k}_total`,
    "counter",
    ["listen_address"],
  ]),
  // Only with a [[csptp-server]].
  ["ntp_csptp_server_received_packets_total", "counter", ["listen_address"]],
  ["ntp_csptp_server_responded_packets_total", "counter", ["listen_address"]],
  ["ntp_csptp_server_dropped_packets_total", "counter", ["listen_address", "reason"]],
  // Only when the observation has a keyset (a daemon that serves).
  ["ntp_keyset_primary_key_id", "gauge", ["role"]],
  ["ntp_keyset_stored_timestamp_seconds", "gauge", ["role"], "seconds"],
  ["ntp_keyset_late", "gauge", ["role"]],
  ["ntp_keyset_reloads_total", "counter", ["role"]],
  ["ntp_keyset_file_errors_total", "counter", ["role"]],
  // Per [[nts-pool-ke-server]] front (docs/nts-pool.md).
  ["ntp_nts_pool_ke_server_connections_total", "counter", ["listen_address"]],
  ["ntp_nts_pool_ke_server_delegated_total", "counter", ["listen_address"]],
  ["ntp_nts_pool_ke_server_rejected_total", "counter", ["listen_address"]],
  ["ntp_nts_pool_ke_server_failed_total", "counter", ["listen_address"]],
  ["ntp_nts_pool_ke_server_backend_failures_total", "counter", ["listen_address"]],
  ["ntp_nts_pool_ke_server_backends_up", "gauge", ["listen_address"]],
];

/** The family a scraper stores ntpd-rs's metric `name` under (counters: without `_total`). */
export function familyFor(families: Map<string, Family>, name: string): Family | undefined {
  return families.get(name) ?? families.get(name.replace(/_total$/, ""));
}
