// [[source]]: a table discriminated by `mode`. Network modes share address, poll interval
// and ntp-version keys (kebab-case); sock, pps and csptp keys are snake_case as in ntpd-rs.
// Poll intervals left out here are filled from [source-defaults] by resolveSource(). Each key is
// declared once, here: name, value type, default (ntpd-rs 1.9's) and one-line doc; types.ts and
// docs/ntp.toml.md are derived from them.
import { INVALID, list, mismatch, optional, required, table, withDefault } from "./fields.js";
import type { Ctx, FieldsValue, Invalid, ParsedValue, TableType, ValueType } from "./fields.js";
import { NTS_KE_PORT } from "../nts/ke/key-export.js";
import { pollLimitsTable } from "./schema-system.js";
import { getOwn, isTable } from "./toml-value.js";
import type { SourceConfig, SourceDefaultsConfig } from "./types.js";
import {
  bool,
  filePath,
  i8,
  integer,
  ipAddress,
  ntpVersionSetting,
  oneOf,
  positiveNumber,
  nonNegativeNumber,
  sourceAddress,
  usize,
} from "./value-types.js";

/** Ports of an address written without one: the IANA ports of NTP and NTS-KE. */
export const NTP_DEFAULT_PORT = 123;
export const NTS_KE_DEFAULT_PORT = NTS_KE_PORT;
/** Not in ntpd-rs 1.9 docs; the PTP event port, used when a csptp address has no port. */
export const CSPTP_DEFAULT_PORT = 319;

/** The kinds of [[source]], in the order of the docs. */
export const SOURCE_MODES = ["server", "pool", "nts", "nts-pool", "sock", "pps", "csptp"] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];

/** Poll settings a network source leaves out: resolveSource() fills them in. */
const FROM_SOURCE_DEFAULTS = { defaultDoc: "from `[source-defaults]`" };

const partialLimits = pollLimitsTable((key, doc) => optional(key, i8, doc, FROM_SOURCE_DEFAULTS));

function modeField<M extends SourceMode>(mode: M) {
  return required("mode", oneOf<M>([mode]), "Source type.");
}

export function networkFields(defaultPort: number) {
  return {
    address: required(
      "address",
      sourceAddress(defaultPort),
      `Host name or IP address, optionally with a port (default ${defaultPort}).`,
    ),
    pollIntervalLimits: withDefault(
      "poll-interval-limits",
      partialLimits,
      { min: null, max: null },
      "Poll interval bounds (log2 s) for this source; a bound left out comes from [source-defaults].",
      FROM_SOURCE_DEFAULTS,
    ),
    initialPollInterval: optional(
      "initial-poll-interval",
      i8,
      "Poll interval (log2 s) after the start-up phase; default from [source-defaults].",
      FROM_SOURCE_DEFAULTS,
    ),
    ntpVersion: withDefault(
      "ntp-version",
      ntpVersionSetting,
      4,
      '4, 5 (draft NTPv5 only; `ntp-ctl validate` warns) or "auto" (NTPv4, upgrading to ' +
        "NTPv5 when the server offers it, 8 tries). NTS sources: the NTS-KE next protocols " +
        "offered (4: NTPv4, 5: NTPv5, auto: NTPv5 then NTPv4). See docs/ntpv5.md.",
    ),
    interleaved: withDefault(
      "interleaved",
      bool,
      false,
      "Ask in NTP interleaved mode (chrony's `xleave`; an ntpd-ts extension): the server's " +
        "T3 is the time its reply left, not a reading before the send. A server without it " +
        "answers in basic mode, which is used as it is. See docs/interleaved.md.",
    ),
  };
}

const ntsFields = {
  certificateAuthority: optional(
    "certificate-authority",
    filePath,
    "PEM file with extra trust anchors, used in addition to the system store.",
  ),
  enableSrvResolution: withDefault(
    "enable-srv-resolution",
    bool,
    false,
    "Look up _ntske._tcp.<address> SRV records (experimental).",
  ),
};

const countField = (doc: string) => withDefault("count", usize, 4, doc);

const precisionFields = {
  precision: optional(
    "precision",
    positiveNumber,
    "Measurement noise in seconds (1 sigma); squared, the filter's fixed measurement noise.",
  ),
  measurementNoiseEstimate: optional(
    "measurement_noise_estimate",
    positiveNumber,
    "Deprecated: noise variance in s^2; precision = sqrt(value).",
  ),
  accuracy: withDefault(
    "accuracy",
    nonNegativeNumber,
    0,
    "Systematic error in seconds: widens the source's interval in the vote by as much.",
  ),
};

type RawPrecision = FieldsValue<typeof precisionFields>;

function resolvePrecision(raw: RawPrecision, ctx: Ctx): number | Invalid {
  if (raw.precision !== null && raw.measurementNoiseEstimate !== null) {
    return ctx.keyError(
      "measurement_noise_estimate",
      'give either "precision" or the deprecated "measurement_noise_estimate", not both',
    );
  }
  if (raw.precision !== null) return raw.precision;
  if (raw.measurementNoiseEstimate !== null) return Math.sqrt(raw.measurementNoiseEstimate);
  return ctx.tableError('missing required key "precision"');
}

/** Which modes accept a key, for "unknown key" advice. */
function modesWithKey(key: string): string | undefined {
  const modes = Object.entries(MODE_TABLES)
    .filter(([, t]) => t.keys.includes(key))
    .map(([m]) => `"${m}"`);
  if (modes.length === 0) return undefined;
  const names =
    modes.length === 1 ? modes[0]! : `${modes.slice(0, -1).join(", ")} or ${modes.at(-1)}`;
  return ` (only valid with mode ${names})`;
}

const MODE_TABLES = {
  server: table({
    doc: "One NTP server; re-resolved when it becomes unreachable.",
    fields: { mode: modeField("server"), ...networkFields(NTP_DEFAULT_PORT) },
    unknownKeyHint: modesWithKey,
  }),
  pool: table({
    doc: "A DNS name whose addresses each become a source.",
    fields: {
      mode: modeField("pool"),
      ...networkFields(NTP_DEFAULT_PORT),
      count: countField("Maximum number of simultaneous sources from this pool."),
      ignore: withDefault(
        "ignore",
        list(ipAddress, { expected: 'an array of IP addresses like ["192.0.2.1"]' }),
        [],
        "Pool addresses never used.",
      ),
    },
    unknownKeyHint: modesWithKey,
  }),
  nts: table({
    doc: "One NTS server, reached through its NTS-KE server.",
    fields: { mode: modeField("nts"), ...networkFields(NTS_KE_DEFAULT_PORT), ...ntsFields },
    unknownKeyHint: modesWithKey,
  }),
  "nts-pool": table({
    doc: "An NTS pool (experimental).",
    fields: {
      mode: modeField("nts-pool"),
      ...networkFields(NTS_KE_DEFAULT_PORT),
      ...ntsFields,
      count: countField("Number of distinct servers to obtain."),
    },
    unknownKeyHint: modesWithKey,
  }),
  sock: table({
    doc: "A Unix datagram socket the daemon creates, to which gpsd writes samples.",
    fields: {
      mode: modeField("sock"),
      path: required(
        "path",
        filePath,
        "Socket the daemon creates (replacing a stale socket) with mode 0660; see docs/reference-clocks.md.",
      ),
      ...precisionFields,
    },
    finish: (raw, ctx) => {
      const precision = resolvePrecision(raw, ctx);
      if (precision === INVALID) return INVALID;
      return { mode: raw.mode, path: raw.path, precision, accuracy: raw.accuracy };
    },
    unknownKeyHint: modesWithKey,
  }),
  pps: table({
    doc: "A kernel PPS device (RFC 2783, assert edge).",
    fields: {
      mode: modeField("pps"),
      path: required("path", filePath, "PPS device, e.g. /dev/pps0."),
      ...precisionFields,
      period: withDefault(
        "period",
        positiveNumber,
        1,
        "Pulse period in seconds; offsets are known modulo it (wrapped into ±period/2).",
      ),
    },
    finish: (raw, ctx) => {
      const precision = resolvePrecision(raw, ctx);
      if (precision === INVALID) return INVALID;
      const { mode, path, accuracy, period } = raw;
      return { mode, path, precision, accuracy, period };
    },
    unknownKeyHint: modesWithKey,
  }),
  csptp: table({
    doc: "A client-server PTP source (experimental).",
    fields: {
      mode: modeField("csptp"),
      address: required(
        "address",
        sourceAddress(CSPTP_DEFAULT_PORT),
        `Server address, optionally with a port (default ${CSPTP_DEFAULT_PORT}).`,
      ),
      domain: withDefault("domain", integer(128, 239), 128, "CSPTP domain."),
      pollInterval: withDefault("poll_interval", positiveNumber, 1, "Seconds between requests."),
      responseInterval: withDefault(
        "response_interval",
        positiveNumber,
        5,
        "Seconds to wait for a response.",
      ),
    },
    unknownKeyHint: modesWithKey,
  }),
};

/** One [[source]] as written: network sources may leave poll settings to [source-defaults]. */
export type RawSource = ParsedValue<(typeof MODE_TABLES)[SourceMode]>;

/** Every mode has its table (the annotation checks that none is missing). */
export const SOURCE_MODE_TABLES: Readonly<Record<SourceMode, TableType<RawSource>>> = MODE_TABLES;

const modeType = oneOf(SOURCE_MODES);

/** One [[source]]: checks `mode`, then the keys of that mode. */
export const sourceType: ValueType<RawSource> = {
  expected: "a [[source]] table",
  parse(raw, ctx) {
    if (!isTable(raw)) return mismatch(ctx, "a [[source]] table", raw);
    const mode = getOwn(raw, "mode");
    if (mode === undefined) {
      const names = SOURCE_MODES.map((m) => `"${m}"`).join(", ");
      return ctx.tableError(`missing required key "mode" (one of ${names})`);
    }
    const parsedMode = modeType.parse(mode, ctx.child("mode"));
    if (parsedMode === INVALID) return INVALID;
    return SOURCE_MODE_TABLES[parsedMode].parse(
      raw,
      ctx.withTableName(`${ctx.name} mode "${parsedMode}"`),
    );
  },
};

/** Fills the poll settings a network source left out from [source-defaults]. */
export function resolveSource(raw: RawSource, defaults: SourceDefaultsConfig): SourceConfig {
  switch (raw.mode) {
    case "sock":
    case "pps":
    case "csptp":
      return raw;
    default:
      return {
        ...raw,
        pollIntervalLimits: {
          min: raw.pollIntervalLimits.min ?? defaults.pollIntervalLimits.min,
          max: raw.pollIntervalLimits.max ?? defaults.pollIntervalLimits.max,
        },
        initialPollInterval: raw.initialPollInterval ?? defaults.initialPollInterval,
      };
  }
}
