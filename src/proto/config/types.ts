// The typed, fully-defaulted configuration produced from an ntpd-rs 1.9 `ntp.toml`.
// Property names are the TOML keys in camelCase. "Not set" is `null`, never a missing
// property, so every Config has the same shape.
//
// The section and source types are not written out here: each is what its table in
// schema*.ts parses to, so a key's type is declared once, with its TOML name, default and
// doc (see there for meanings and units). Only the shapes of values are declared below.
import type { Expand, FieldsValue, ParsedValue } from "./fields.js";
import type { configSchema } from "./schema.js";
import type { keysetTable, ntsKeServerTable, serverTable, filterList } from "./schema-server.js";
import type { ntsPoolKeServerTable } from "./schema-pool-front.js";
import type { csptpServerTable, csptpTable } from "./schema-csptp.js";
import type { networkFields, RawSource, SourceMode } from "./schema-sources.js";
import type {
  algorithmTable,
  clockTable,
  daemonTable,
  fullLimits,
  observabilityTable,
  sourceDefaultsTable,
  synchronizationTable,
} from "./schema-system.js";

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

/** 4, 5 (draft NTPv5 only) or "auto" (NTPv4 that tries to upgrade to v5). */
export type NtpVersionSetting = 4 | 5 | "auto";

/** Seconds; `Infinity` is "inf" (no limit). A step d is allowed iff -backward < d < forward. */
export interface StepThreshold {
  forward: number;
  backward: number;
}

/** A network source once resolveSource() has filled its poll settings from [source-defaults]. */
type Resolved<S> = S extends { initialPollInterval: unknown }
  ? Expand<
      Omit<S, "pollIntervalLimits" | "initialPollInterval"> & {
        pollIntervalLimits: PollIntervalLimits;
        initialPollInterval: number;
      }
    >
  : S;

export type FilterList = ParsedValue<typeof filterList>;
/** Poll intervals are log2 seconds (4 = 16 s). */
export type PollIntervalLimits = ParsedValue<typeof fullLimits>;
export type SourceDefaultsConfig = ParsedValue<typeof sourceDefaultsTable>;

export type { SourceMode };
/** Keys shared by the network source modes, already merged with `[source-defaults]`. */
export type NetworkSourceCommon = Resolved<FieldsValue<ReturnType<typeof networkFields>>>;
export type SourceConfig = Resolved<RawSource>;
export type ServerSourceConfig = Extract<SourceConfig, { mode: "server" }>;
export type PoolSourceConfig = Extract<SourceConfig, { mode: "pool" }>;
export type NtsSourceConfig = Extract<SourceConfig, { mode: "nts" }>;
export type NtsPoolSourceConfig = Extract<SourceConfig, { mode: "nts-pool" }>;
export type SockSourceConfig = Extract<SourceConfig, { mode: "sock" }>;
export type PpsSourceConfig = Extract<SourceConfig, { mode: "pps" }>;
export type CsptpSourceConfig = Extract<SourceConfig, { mode: "csptp" }>;

export type ServerConfig = ParsedValue<typeof serverTable>;
export type NtsKeServerConfig = ParsedValue<typeof ntsKeServerTable>;
export type NtsPoolKeServerConfig = ParsedValue<typeof ntsPoolKeServerTable>;
export type CsptpServerConfig = ParsedValue<typeof csptpServerTable>;
/** `[csptp]`: what our CSPTP says about the clock, and its ports. */
export type CsptpConfig = ParsedValue<typeof csptpTable>;
export type KeysetConfig = ParsedValue<typeof keysetTable>;
export type ObservabilityConfig = ParsedValue<typeof observabilityTable>;
export type LogLevel = ObservabilityConfig["logLevel"];
export type AlgorithmConfig = ParsedValue<typeof algorithmTable>;
export type SynchronizationConfig = ParsedValue<typeof synchronizationTable>;
export type ClockConfig = ParsedValue<typeof clockTable>;
export type TimestampMode = ClockConfig["timestampMode"];
/** `[daemon]`: how the daemon itself runs (an ntpd-ts extension). */
export type DaemonConfig = ParsedValue<typeof daemonTable>;

export type Config = ParsedValue<typeof configSchema>;
