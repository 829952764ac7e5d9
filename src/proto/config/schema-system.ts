// [source-defaults], [synchronization], [synchronization.algorithm], [observability], [clock],
// [daemon]. Each key is declared once, here: name, value type, default (ntpd-rs 1.9's: ntp.toml(5)
// and its source) and one-line doc; types.ts and docs/ntp.toml.md are derived from them.
import { optional, parseValue, required, section, table, withDefault } from "./fields.js";
import type { FieldSpec } from "./fields.js";
import type { PollIntervalLimits } from "./types.js";
import {
  bool,
  filePath,
  finiteNumber,
  finiteSeconds,
  groupName,
  i32,
  i8,
  integer,
  interfaceName,
  oneOf,
  referenceId,
  serverThreads,
  socketAddress,
  stepThreshold,
  u32,
  usize,
} from "./value-types.js";

/** `[observability] log-level` values, least severe first (the daemon's logger ranks them so). */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error"] as const;

/** `[source-defaults] poll-interval-limits` of a file that sets none: 16 s to 1024 s. */
export const DEFAULT_POLL_INTERVAL_LIMITS: Readonly<PollIntervalLimits> = Object.freeze({
  min: 4,
  max: 10,
});

/**
 * `poll-interval-limits = { min, max }`; `bound` declares a bound as required ([source-defaults])
 * or optional (a [[source]], which takes the missing one from [source-defaults]).
 */
export function pollLimitsTable<T>(bound: (key: "min" | "max", doc: string) => FieldSpec<T>) {
  return table({
    expected: "a table { min = ..., max = ... }",
    fields: {
      min: bound("min", "Smallest poll interval, log2 seconds."),
      max: bound("max", "Largest poll interval, log2 seconds."),
    },
  });
}

export const fullLimits = pollLimitsTable((key, doc) => required(key, i8, doc));

export const sourceDefaultsTable = table({
  doc: "Poll settings of every network source that does not set its own.",
  fields: {
    pollIntervalLimits: withDefault(
      "poll-interval-limits",
      fullLimits,
      DEFAULT_POLL_INTERVAL_LIMITS,
      "Bounds of the adaptive poll interval, log2 seconds; both min and max are required here.",
    ),
    initialPollInterval: withDefault(
      "initial-poll-interval",
      i8,
      DEFAULT_POLL_INTERVAL_LIMITS.min,
      "Poll interval (log2 s) after the 8-sample start-up phase.",
    ),
  },
});

const num = (key: string, value: number, doc: string): FieldSpec<number> =>
  withDefault(key, finiteNumber, value, doc);

export const algorithmTable = table({
  doc: "Tuning of the clock algorithm (implementation details; change with care).",
  fields: {
    precisionLowProbability: num(
      "precision-low-probability",
      1 / 3,
      "Probability below which the precision estimate is voted down (0-1).",
    ),
    precisionHighProbability: num(
      "precision-high-probability",
      2 / 3,
      "Probability above which the precision estimate is voted up (0-1).",
    ),
    precisionHysteresis: withDefault(
      "precision-hysteresis",
      i32,
      16,
      "Votes needed to change the precision estimate.",
    ),
    precisionMinimumWeight: num(
      "precision-minimum-weight",
      0.1,
      "Minimum measurement weight for a vote down (0-1).",
    ),
    pollIntervalLowWeight: num(
      "poll-interval-low-weight",
      0.4,
      "Measurement weight below which the poll interval grows (0-1).",
    ),
    pollIntervalHighWeight: num(
      "poll-interval-high-weight",
      0.6,
      "Measurement weight above which the poll interval shrinks (0-1).",
    ),
    pollIntervalHysteresis: withDefault(
      "poll-interval-hysteresis",
      i32,
      16,
      "Votes needed to change the poll interval by one step.",
    ),
    pollIntervalStepThreshold: num(
      "poll-interval-step-threshold",
      1e-6,
      "Outlier probability below which the poll interval returns to its minimum.",
    ),
    delayOutlierThreshold: num(
      "delay-outlier-threshold",
      5,
      "Spread of the recent delays (a robust standard deviation) above their median at which a measurement is rejected.",
    ),
    initialWander: num("initial-wander", 1e-8, "Initial frequency wander (s/s^2)."),
    initialFrequencyUncertainty: num(
      "initial-frequency-uncertainty",
      100e-6,
      "Frequency uncertainty (s/s) when the start-up samples give no frequency, and the largest start-up frequency and uncertainty accepted from them.",
    ),
    maximumSourceUncertainty: num(
      "maximum-source-uncertainty",
      0.25,
      "Seconds of uncertainty above which a source is not selected.",
    ),
    rangeStatisticalWeight: num(
      "range-statistical-weight",
      2,
      "Standard deviations in the selection interval of a source.",
    ),
    rangeDelayWeight: num(
      "range-delay-weight",
      0.25,
      "Share of the delay in the selection interval of a source.",
    ),
    steerOffsetThreshold: num(
      "steer-offset-threshold",
      2,
      "Offsets within this many standard deviations are not corrected.",
    ),
    steerOffsetLeftover: num(
      "steer-offset-leftover",
      1,
      "Standard deviations of offset left after a correction.",
    ),
    steerFrequencyThreshold: num(
      "steer-frequency-threshold",
      0,
      "Frequency errors within this many standard deviations are not corrected.",
    ),
    steerFrequencyLeftover: num(
      "steer-frequency-leftover",
      0,
      "Standard deviations of frequency left after a correction.",
    ),
    stepThreshold: num(
      "step-threshold",
      0.01,
      "Corrections larger than this many seconds step the clock; smaller ones slew it.",
    ),
    slewMaximumFrequencyOffset: num(
      "slew-maximum-frequency-offset",
      200e-6,
      "Maximum frequency offset while slewing (s/s).",
    ),
    slewMinimumDuration: num("slew-minimum-duration", 8, "Minimum duration of a slew in seconds."),
    maximumFrequencySteer: num(
      "maximum-frequency-steer",
      495e-6,
      "Largest total frequency correction (s/s).",
    ),
    ignoreServerDispersion: withDefault(
      "ignore-server-dispersion",
      bool,
      false,
      "Do not add a source's root dispersion to its uncertainty.",
    ),
    meddlingThreshold: withDefault(
      "meddling-threshold",
      finiteSeconds(),
      5,
      "Seconds of difference between wall clock and monotonic clock that resets the filters.",
    ),
  },
});

export const synchronizationTable = table({
  doc: "How time from the sources is combined and applied to the system clock.",
  fields: {
    minimumAgreeingSources: withDefault(
      "minimum-agreeing-sources",
      usize,
      3,
      "Sources that must agree before the clock is steered.",
    ),
    singleStepPanicThreshold: withDefault(
      "single-step-panic-threshold",
      stepThreshold,
      { forward: 1000, backward: 1000 },
      "Largest step after start-up; a larger one makes the daemon exit.",
    ),
    startupStepPanicThreshold: withDefault(
      "startup-step-panic-threshold",
      stepThreshold,
      { forward: Infinity, backward: 86400 },
      "Largest step before the first clock update.",
    ),
    accumulatedStepPanicThreshold: optional(
      "accumulated-step-panic-threshold",
      finiteSeconds("use 0 or leave the key out to disable this limit"),
      "Largest sum of step sizes after start-up; 0 or unset: no limit.",
    ),
    warnOnJump: withDefault("warn-on-jump", bool, true, "Log clock steps as warnings."),
    localStratum: withDefault(
      "local-stratum",
      // What an NTP packet can say: 1 (primary) to 16 (unsynchronized).
      integer(1, 16),
      16,
      "Stratum served while not synchronized; 1 marks a primary server.",
    ),
    referenceId: withDefault(
      "reference-id",
      referenceId,
      "XNON",
      "Reference id served at local-stratum 1 (padded with spaces).",
    ),
    leapSecondsFile: optional(
      "leap-seconds-file",
      filePath,
      "The IERS/NIST leap-seconds.list (hash and expiry checked) that decides leap seconds " +
        "(an ntpd-ts extension); default: the sources' leap indicators. See docs/leap-seconds.md.",
    ),
    driftFile: optional(
      "drift-file",
      filePath,
      "Where the clock's frequency is kept across restarts (an ntpd-ts extension, chrony's " +
        "driftfile); default: none. See docs/ntp-daemon.md.",
    ),
    noCertificateTimeCheck: withDefault(
      "no-certificate-time-check",
      usize,
      0,
      "For machines without a real-time clock (an ntpd-ts extension, chrony's " +
        "`nocerttimecheck`): NTS-KE accepts certificates that are out of their validity " +
        "dates by this machine's clock until the clock has been updated this many times, " +
        "then checks them again. 0: always check. See docs/nts.md.",
    ),
    algorithm: section("algorithm", algorithmTable, algorithmTable.doc, {
      displayName: "[synchronization.algorithm]",
    }),
  },
  finish: (raw) => ({
    ...raw,
    accumulatedStepPanicThreshold:
      raw.accumulatedStepPanicThreshold === 0 ? null : raw.accumulatedStepPanicThreshold,
  }),
});

export const observabilityTable = table({
  doc: "Logging, the observation socket and the metrics exporter.",
  fields: {
    logLevel: withDefault(
      "log-level",
      oneOf(LOG_LEVELS),
      "info",
      "Least severe level logged; the -l option overrides it.",
    ),
    logPath: optional("log-path", filePath, "Daemon log file; default: standard output.", {
      defaultDoc: "standard output",
    }),
    logPathMetricsExporter: optional(
      "log-path-metrics-exporter",
      filePath,
      "Metrics exporter log file; default: standard output.",
      { defaultDoc: "standard output" },
    ),
    ansiColors: optional(
      "ansi-colors",
      bool,
      "Colour the log; default: when there is no log file and stdout is a terminal.",
      { defaultDoc: "automatic" },
    ),
    observationPath: optional(
      "observation-path",
      filePath,
      "Unix socket where the daemon publishes its state for ntp-ctl and the exporter.",
    ),
    observationPermissions: withDefault(
      "observation-permissions",
      u32,
      0o666,
      "File mode of the observation socket; write it in octal, e.g. 0o666.",
    ),
    controlPath: optional(
      "control-path",
      filePath,
      "Unix socket where `ntp-ctl source add/list/remove` reach the running daemon (an " +
        "ntpd-ts extension); off when unset. Mode 0o600, or 0o660 with `control-group`.",
      { defaultDoc: "off" },
    ),
    controlGroup: optional(
      "control-group",
      groupName,
      "Group (name or numeric id) whose members may also use the control socket; " +
        "default: only the daemon's user and root.",
      { defaultDoc: "none" },
    ),
    metricsExporterListen: withDefault(
      "metrics-exporter-listen",
      socketAddress,
      parseValue(socketAddress, "127.0.0.1:9975"),
      "HTTP address of ntp-metrics-exporter.",
    ),
  },
});

/** `[clock] timestamp-mode` values, least kernel help first. */
export const TIMESTAMP_MODES = ["software", "kernel-recv", "kernel-all", "hardware"] as const;

export const clockTable = table({
  doc:
    "The clock the daemon steers, and how its sources' packets are timestamped (ntpd-rs: " +
    "only with the hardware-timestamping feature). See docs/clock.md.",
  fields: {
    clock: optional(
      "clock",
      filePath,
      "Clock device (a PTP hardware clock, /dev/ptpN) to read and steer instead of the system clock.",
      { defaultDoc: "`CLOCK_REALTIME` (the system clock)" },
    ),
    interface: optional(
      "interface",
      interfaceName,
      "Network interface the sources' sockets are bound to (SO_BINDTODEVICE).",
      { defaultDoc: "none (any interface, by the routing table)" },
    ),
    timestampMode: required(
      "timestamp-mode",
      oneOf(TIMESTAMP_MODES),
      'Where the sources\' packets are timestamped: "software" (user space), "kernel-recv", ' +
        '"kernel-all" (receive and transmit) or "hardware" (the NIC; needs interface and clock).',
    ),
  },
});

export const daemonTable = table({
  doc: "How the daemon itself runs (an ntpd-ts extension; ntpd-rs has no such table).",
  fields: {
    serverThreads: withDefault(
      "server-threads",
      serverThreads,
      1,
      'Threads that answer NTP and NTS-KE requests; "auto": one per available core.',
    ),
  },
});
