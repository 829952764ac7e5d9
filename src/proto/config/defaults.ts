// Default values of ntpd-rs 1.9 (ntp.toml(5) and the ntpd-rs source). The schema takes its
// defaults from here (it copies them, so nothing here is ever mutated); defaultConfig() in
// parse.ts is the config of an empty file.
import type {
  AlgorithmConfig,
  FilterList,
  KeysetConfig,
  LogLevel,
  NtpVersionSetting,
  PollIntervalLimits,
  StepThreshold,
} from "./types.js";

export const NTP_DEFAULT_PORT = 123;
export const NTS_KE_DEFAULT_PORT = 4460;
/** Not in ntpd-rs 1.9 docs; the PTP event port, used when a csptp address has no port. */
export const CSPTP_DEFAULT_PORT = 319;

export const DEFAULT_POLL_INTERVAL_LIMITS: PollIntervalLimits = { min: 4, max: 10 };

export const DEFAULTS = {
  sourceDefaults: {
    pollIntervalLimits: DEFAULT_POLL_INTERVAL_LIMITS,
    initialPollInterval: DEFAULT_POLL_INTERVAL_LIMITS.min,
  },
  source: {
    ntpVersion: 4 as NtpVersionSetting,
    count: 4,
    enableSrvResolution: false,
    accuracy: 0,
    ppsPeriod: 1,
    csptpDomain: 128,
    csptpPollInterval: 1,
    csptpResponseInterval: 5,
  },
  server: {
    rateLimitingCacheSize: 0,
    rateLimitingCutoffMs: 0,
    allowlist: {
      filter: [
        { address: "::", prefixLength: 0, family: 6 },
        { address: "0.0.0.0", prefixLength: 0, family: 4 },
      ],
      action: "ignore",
    } satisfies FilterList as FilterList,
    denylist: { filter: [], action: "deny" } satisfies FilterList as FilterList,
    requireNts: false as const,
    acceptNtpVersions: [3, 4] as (3 | 4 | 5)[],
  },
  ntsKeServer: {
    keyExchangeTimeoutMs: 1000,
    concurrentConnections: 512,
    /** longlived-connections defaults to concurrent-connections / 10 (integer division). */
    longlivedConnectionsDivisor: 10,
    acceptNtpVersions: [4] as (4 | 5)[],
  },
  keyset: {
    staleKeyCount: 7,
    keyRotationInterval: 86400,
    keyStoragePath: null,
  } satisfies KeysetConfig as KeysetConfig,
  daemon: {
    // One serving thread: see docs/ntp.toml.md ([daemon]) for why this suits a small machine.
    serverThreads: 1 as number | "auto",
  },
  observability: {
    logLevel: "info" as LogLevel,
    observationPermissions: 0o666,
    metricsExporterListen: { address: "127.0.0.1", port: 9975, family: 4 as const },
  },
  synchronization: {
    minimumAgreeingSources: 3,
    singleStepPanicThreshold: { forward: 1000, backward: 1000 } satisfies StepThreshold,
    startupStepPanicThreshold: { forward: Infinity, backward: 86400 } satisfies StepThreshold,
    warnOnJump: true,
    localStratum: 16,
    referenceId: "XNON",
  },
  algorithm: {
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
  } satisfies AlgorithmConfig as AlgorithmConfig,
};
