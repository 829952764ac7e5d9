// [source-defaults], [synchronization], [synchronization.algorithm], [observability], [clock].
import { DEFAULTS } from "./defaults.js";
import { optional, required, section, table, withDefault } from "./fields.js";
import type { FieldSpec } from "./fields.js";
import type {
  AlgorithmConfig,
  ClockConfig,
  DaemonConfig,
  LogLevel,
  ObservabilityConfig,
  PollIntervalLimits,
  SourceDefaultsConfig,
  SynchronizationConfig,
  TimestampMode,
} from "./types.js";
import {
  bool,
  filePath,
  finiteNumber,
  finiteSeconds,
  i32,
  i8,
  oneOf,
  referenceId,
  serverThreads,
  socketAddress,
  stepThreshold,
  string,
  u32,
  u8,
  usize,
} from "./value-types.js";

const fullLimits = table<PollIntervalLimits>({
  expected: "a table { min = ..., max = ... }",
  fields: {
    min: required("min", i8, "Smallest poll interval, log2 seconds."),
    max: required("max", i8, "Largest poll interval, log2 seconds."),
  },
});

export const sourceDefaultsTable = table<SourceDefaultsConfig>({
  doc: "Poll settings of every network source that does not set its own.",
  fields: {
    pollIntervalLimits: withDefault(
      "poll-interval-limits",
      fullLimits,
      DEFAULTS.sourceDefaults.pollIntervalLimits,
      "Bounds of the adaptive poll interval, log2 seconds; both min and max are required here.",
    ),
    initialPollInterval: withDefault(
      "initial-poll-interval",
      i8,
      DEFAULTS.sourceDefaults.initialPollInterval,
      "Poll interval (log2 s) after the 8-sample start-up phase.",
    ),
  },
});

const A = DEFAULTS.algorithm;
const num = (key: string, value: number, doc: string): FieldSpec<number> =>
  withDefault(key, finiteNumber, value, doc);

const algorithmTable = table<AlgorithmConfig>({
  doc: "Tuning of the clock algorithm (implementation details; change with care).",
  fields: {
    precisionLowProbability: num(
      "precision-low-probability",
      A.precisionLowProbability,
      "Probability below which the precision estimate is voted down (0-1).",
    ),
    precisionHighProbability: num(
      "precision-high-probability",
      A.precisionHighProbability,
      "Probability above which the precision estimate is voted up (0-1).",
    ),
    precisionHysteresis: withDefault(
      "precision-hysteresis",
      i32,
      A.precisionHysteresis,
      "Votes needed to change the precision estimate.",
    ),
    precisionMinimumWeight: num(
      "precision-minimum-weight",
      A.precisionMinimumWeight,
      "Minimum measurement weight for a vote down (0-1).",
    ),
    pollIntervalLowWeight: num(
      "poll-interval-low-weight",
      A.pollIntervalLowWeight,
      "Measurement weight below which the poll interval grows (0-1).",
    ),
    pollIntervalHighWeight: num(
      "poll-interval-high-weight",
      A.pollIntervalHighWeight,
      "Measurement weight above which the poll interval shrinks (0-1).",
    ),
    pollIntervalHysteresis: withDefault(
      "poll-interval-hysteresis",
      i32,
      A.pollIntervalHysteresis,
      "Votes needed to change the poll interval by one step.",
    ),
    pollIntervalStepThreshold: num(
      "poll-interval-step-threshold",
      A.pollIntervalStepThreshold,
      "Outlier probability below which the poll interval returns to its minimum.",
    ),
    delayOutlierThreshold: num(
      "delay-outlier-threshold",
      A.delayOutlierThreshold,
      "Standard deviations above the mean delay at which a measurement is rejected.",
    ),
    initialWander: num("initial-wander", A.initialWander, "Initial frequency wander (s/s^2)."),
    initialFrequencyUncertainty: num(
      "initial-frequency-uncertainty",
      A.initialFrequencyUncertainty,
      "Initial frequency uncertainty (s/s).",
    ),
    maximumSourceUncertainty: num(
      "maximum-source-uncertainty",
      A.maximumSourceUncertainty,
      "Seconds of uncertainty above which a source is not selected.",
    ),
    rangeStatisticalWeight: num(
      "range-statistical-weight",
      A.rangeStatisticalWeight,
      "Standard deviations in the selection interval of a source.",
    ),
    rangeDelayWeight: num(
      "range-delay-weight",
      A.rangeDelayWeight,
      "Share of the delay in the selection interval of a source.",
    ),
    steerOffsetThreshold: num(
      "steer-offset-threshold",
      A.steerOffsetThreshold,
      "Offsets within this many standard deviations are not corrected.",
    ),
    steerOffsetLeftover: num(
      "steer-offset-leftover",
      A.steerOffsetLeftover,
      "Standard deviations of offset left after a correction.",
    ),
    steerFrequencyThreshold: num(
      "steer-frequency-threshold",
      A.steerFrequencyThreshold,
      "Frequency errors within this many standard deviations are not corrected.",
    ),
    steerFrequencyLeftover: num(
      "steer-frequency-leftover",
      A.steerFrequencyLeftover,
      "Standard deviations of frequency left after a correction.",
    ),
    stepThreshold: num(
      "step-threshold",
      A.stepThreshold,
      "Corrections larger than this many seconds step the clock; smaller ones slew it.",
    ),
    slewMaximumFrequencyOffset: num(
      "slew-maximum-frequency-offset",
      A.slewMaximumFrequencyOffset,
      "Maximum frequency offset while slewing (s/s).",
    ),
    slewMinimumDuration: num(
      "slew-minimum-duration",
      A.slewMinimumDuration,
      "Minimum duration of a slew in seconds.",
    ),
    maximumFrequencySteer: num(
      "maximum-frequency-steer",
      A.maximumFrequencySteer,
      "Largest total frequency correction (s/s).",
    ),
    ignoreServerDispersion: withDefault(
      "ignore-server-dispersion",
      bool,
      A.ignoreServerDispersion,
      "Do not add a source's root dispersion to its uncertainty.",
    ),
    meddlingThreshold: withDefault(
      "meddling-threshold",
      finiteSeconds(),
      A.meddlingThreshold,
      "Seconds of difference between wall clock and monotonic clock that resets the filters.",
    ),
  },
});

const S = DEFAULTS.synchronization;

export const synchronizationTable = table<SynchronizationConfig>({
  doc: "How time from the sources is combined and applied to the system clock.",
  fields: {
    minimumAgreeingSources: withDefault(
      "minimum-agreeing-sources",
      usize,
      S.minimumAgreeingSources,
      "Sources that must agree before the clock is steered.",
    ),
    singleStepPanicThreshold: withDefault(
      "single-step-panic-threshold",
      stepThreshold,
      S.singleStepPanicThreshold,
      "Largest step after start-up; a larger one makes the daemon exit.",
    ),
    startupStepPanicThreshold: withDefault(
      "startup-step-panic-threshold",
      stepThreshold,
      S.startupStepPanicThreshold,
      "Largest step before the first clock update.",
    ),
    accumulatedStepPanicThreshold: optional(
      "accumulated-step-panic-threshold",
      finiteSeconds("use 0 or leave the key out to disable this limit"),
      "Largest sum of step sizes after start-up; 0 or unset: no limit.",
    ),
    warnOnJump: withDefault("warn-on-jump", bool, S.warnOnJump, "Log clock steps as warnings."),
    localStratum: withDefault(
      "local-stratum",
      u8,
      S.localStratum,
      "Stratum served while not synchronized; 1 marks a primary server.",
    ),
    referenceId: withDefault(
      "reference-id",
      referenceId,
      S.referenceId,
      "Reference id served at local-stratum 1 (padded with spaces).",
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

const O = DEFAULTS.observability;

export const observabilityTable = table<ObservabilityConfig>({
  doc: "Logging, the observation socket and the metrics exporter.",
  fields: {
    logLevel: withDefault(
      "log-level",
      oneOf<LogLevel>(["trace", "debug", "info", "warn", "error"]),
      O.logLevel,
      "Least severe level logged; the -l option overrides it.",
    ),
    logPath: optional("log-path", filePath, "Daemon log file; default: standard output."),
    logPathMetricsExporter: optional(
      "log-path-metrics-exporter",
      filePath,
      "Metrics exporter log file; default: standard output.",
    ),
    ansiColors: optional(
      "ansi-colors",
      bool,
      "Colour the log; default: when there is no log file and stdout is a terminal.",
    ),
    observationPath: optional(
      "observation-path",
      filePath,
      "Unix socket where the daemon publishes its state for ntp-ctl and the exporter.",
    ),
    observationPermissions: withDefault(
      "observation-permissions",
      u32,
      O.observationPermissions,
      "File mode of the observation socket; write it in octal, e.g. 0o666.",
    ),
    metricsExporterListen: withDefault(
      "metrics-exporter-listen",
      socketAddress,
      O.metricsExporterListen,
      "HTTP address of ntp-metrics-exporter.",
    ),
  },
});

export const clockTable = table<ClockConfig>({
  doc: "Clock device and timestamping (ntpd-rs: only with the hardware-timestamping feature).",
  fields: {
    clock: optional("clock", filePath, "Clock device path; default: CLOCK_REALTIME."),
    interface: optional("interface", string, "Network interface the sources are bound to."),
    timestampMode: required(
      "timestamp-mode",
      oneOf<TimestampMode>(["software", "kernel-recv", "kernel-all", "hardware"]),
      "Where packets are timestamped.",
    ),
  },
});

export const daemonTable = table<DaemonConfig>({
  doc: "How the daemon itself runs (an ntpd-ts extension; ntpd-rs has no such table).",
  fields: {
    serverThreads: withDefault(
      "server-threads",
      serverThreads,
      DEFAULTS.daemon.serverThreads,
      'Threads that answer NTP and NTS-KE requests; "auto": one per available core.',
    ),
  },
});
