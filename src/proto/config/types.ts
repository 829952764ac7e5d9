// The typed, fully-defaulted configuration produced from an ntpd-rs 1.9 `ntp.toml`.
// Property names are the TOML keys in camelCase. "Not set" is `null`, never a missing
// property, so every Config has the same shape. Units are in the property docs.

/** `ip:port` / `[v6]:port` as in a `listen` key. `address` is the canonical IP text. */
export interface SocketAddress {
  address: string;
  port: number;
  family: 4 | 6;
}

/**
 * A source address: a host name or IP literal and a port (default 123 for NTP,
 * 4460 for NTS-KE). Host names are not resolved here. IPv6 literals are canonical
 * and without brackets.
 */
export interface SourceAddress {
  host: string;
  port: number;
}

/** A CIDR subnet `addr/len`. Host bits need not be zero (as in ntpd-rs). */
export interface Cidr {
  /** Canonical text of the address, for messages and docs. */
  address: string;
  prefixLength: number;
  family: 4 | 6;
  /** The same address as the server's filter matches it: parseIpInto's words (IPv4 as ::ffff:a.b.c.d). */
  words: Uint32Array;
}

export type FilterAction = "ignore" | "deny";

export interface FilterList {
  filter: Cidr[];
  action: FilterAction;
}

/** Poll intervals are log2 seconds (4 = 16 s). */
export interface PollIntervalLimits {
  min: number;
  max: number;
}

export interface SourceDefaultsConfig {
  pollIntervalLimits: PollIntervalLimits;
  initialPollInterval: number;
}

/** 4, 5 (draft NTPv5 only) or "auto" (NTPv4 that tries to upgrade to v5). */
export type NtpVersionSetting = 4 | 5 | "auto";

/** Keys shared by the network source modes, already merged with `[source-defaults]`. */
export interface NetworkSourceCommon {
  address: SourceAddress;
  pollIntervalLimits: PollIntervalLimits;
  initialPollInterval: number;
  ntpVersion: NtpVersionSetting;
}

export interface ServerSourceConfig extends NetworkSourceCommon {
  mode: "server";
}

export interface PoolSourceConfig extends NetworkSourceCommon {
  mode: "pool";
  count: number;
  /** Canonical IP addresses never used from this pool. */
  ignore: string[];
}

export interface NtsSourceConfig extends NetworkSourceCommon {
  mode: "nts";
  /** PEM file with extra trust anchors (in addition to the system store). */
  certificateAuthority: string | null;
  enableSrvResolution: boolean;
}

export interface NtsPoolSourceConfig extends NetworkSourceCommon {
  mode: "nts-pool";
  certificateAuthority: string | null;
  enableSrvResolution: boolean;
  count: number;
}

export interface SockSourceConfig {
  mode: "sock";
  path: string;
  /** Seconds (1 sigma). The legacy `measurement_noise_estimate` (s^2) is converted. */
  precision: number;
  /** Seconds of systematic error. */
  accuracy: number;
}

export interface PpsSourceConfig {
  mode: "pps";
  path: string;
  precision: number;
  accuracy: number;
  /** Pulse period in seconds. */
  period: number;
}

export interface CsptpSourceConfig {
  mode: "csptp";
  address: SourceAddress;
  domain: number;
  /** Seconds. */
  pollInterval: number;
  /** Seconds. */
  responseInterval: number;
}

export type SourceConfig =
  | ServerSourceConfig
  | PoolSourceConfig
  | NtsSourceConfig
  | NtsPoolSourceConfig
  | SockSourceConfig
  | PpsSourceConfig
  | CsptpSourceConfig;

export type SourceMode = SourceConfig["mode"];

export interface ServerConfig {
  listen: SocketAddress;
  rateLimitingCacheSize: number;
  rateLimitingCutoffMs: number;
  allowlist: FilterList;
  denylist: FilterList;
  /** `false`: NTS optional; "ignore": drop non-NTS requests; "deny": answer with DENY. */
  requireNts: false | FilterAction;
  acceptNtpVersions: (3 | 4 | 5)[];
}

export interface NtsKeServerConfig {
  listen: SocketAddress;
  certificateChainPath: string;
  privateKeyPath: string;
  keyExchangeTimeoutMs: number;
  concurrentConnections: number;
  longlivedConnections: number;
  ntpPort: number | null;
  ntpServer: string | null;
  acceptNtpVersions: (4 | 5)[];
  acceptedPoolAuthenticationTokens: string[];
}

export interface KeysetConfig {
  staleKeyCount: number;
  /** Seconds. */
  keyRotationInterval: number;
  keyStoragePath: string | null;
}

export type LogLevel = "trace" | "debug" | "info" | "warn" | "error";

export interface ObservabilityConfig {
  logLevel: LogLevel;
  logPath: string | null;
  logPathMetricsExporter: string | null;
  /** null: colours iff there is no log file and stdout is a TTY. */
  ansiColors: boolean | null;
  observationPath: string | null;
  observationPermissions: number;
  metricsExporterListen: SocketAddress;
}

/** Seconds; `Infinity` is "inf" (no limit). A step d is allowed iff -backward < d < forward. */
export interface StepThreshold {
  forward: number;
  backward: number;
}

export interface AlgorithmConfig {
  precisionLowProbability: number;
  precisionHighProbability: number;
  precisionHysteresis: number;
  precisionMinimumWeight: number;
  pollIntervalLowWeight: number;
  pollIntervalHighWeight: number;
  pollIntervalHysteresis: number;
  pollIntervalStepThreshold: number;
  delayOutlierThreshold: number;
  initialWander: number;
  initialFrequencyUncertainty: number;
  maximumSourceUncertainty: number;
  rangeStatisticalWeight: number;
  rangeDelayWeight: number;
  steerOffsetThreshold: number;
  steerOffsetLeftover: number;
  steerFrequencyThreshold: number;
  steerFrequencyLeftover: number;
  stepThreshold: number;
  slewMaximumFrequencyOffset: number;
  slewMinimumDuration: number;
  maximumFrequencySteer: number;
  ignoreServerDispersion: boolean;
  meddlingThreshold: number;
}

export interface SynchronizationConfig {
  minimumAgreeingSources: number;
  singleStepPanicThreshold: StepThreshold;
  startupStepPanicThreshold: StepThreshold;
  /** Seconds; null when unset or 0 (off). */
  accumulatedStepPanicThreshold: number | null;
  warnOnJump: boolean;
  localStratum: number;
  /** Up to 4 ASCII characters as written; see referenceIdToNumber for the wire value. */
  referenceId: string;
  algorithm: AlgorithmConfig;
}

export type TimestampMode = "software" | "kernel-recv" | "kernel-all" | "hardware";

export interface ClockConfig {
  /** Path of a clock device; null = CLOCK_REALTIME. */
  clock: string | null;
  interface: string | null;
  timestampMode: TimestampMode;
}

/** `[daemon]`: how the daemon itself runs (an ntpd-ts extension). */
export interface DaemonConfig {
  /** Threads that answer NTP and NTS-KE; "auto": one per available core. */
  serverThreads: number | "auto";
}

export interface Config {
  sources: SourceConfig[];
  sourceDefaults: SourceDefaultsConfig;
  servers: ServerConfig[];
  ntsKeServers: NtsKeServerConfig[];
  keyset: KeysetConfig;
  observability: ObservabilityConfig;
  synchronization: SynchronizationConfig;
  /** Only when a `[clock]` table is present. */
  clock: ClockConfig | null;
  daemon: DaemonConfig;
}
