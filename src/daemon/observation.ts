// The observation format: what the daemon publishes on its observation socket
// and what `ntp-ctl status` and `ntp-metrics-exporter` read. It is ntpd-rs
// 1.9's `ObservableState` JSON (ntpd/src/daemon/observer.rs), field for field,
// so ntpd-rs's own readers can read ours and ours can read ntpd-rs's:
//
//   {"program": {version, build_commit, build_commit_date, uptime_seconds, now},
//    "system":  {stratum, reference_id, accumulated_steps_threshold, precision,
//                root_delay, root_variance_base_time, root_variance_base,
//                root_variance_linear, root_variance_quadratic,
//                root_variance_cubic, leap_indicator, accumulated_steps},
//    "sources": [{offset, uncertainty, delay, remote_delay, remote_uncertainty,
//                 last_update, unanswered_polls, poll_interval, nts_cookies,
//                 name, address, id}],
//    "servers": [{address, stats: {received_packets, ...}}]}
//
// Durations are float seconds; a timestamp is {"timestamp": u64}, the NTP
// 32.32 fixed-point value as a JSON integer. Those exceed 2^53, so they are
// bigints here and are written and read digit for digit (JSON.stringify and
// JSON.parse would round them). poll_interval is a log2 exponent, reference_id
// a u32, leap_indicator ntpd-rs's enum name. On the socket a message is a u64
// big-endian byte length followed by the JSON (docs/observation.schema.json).
//
// Additions beyond ntpd-rs, optional so either side's readers accept the other
// side's messages: `selected` on a source and `offset`/`frequency` (s/s, as
// ntpd-rs states every rate) on the system, filled in once the clock
// discipline reports them (DisciplineObserver). Every estimate is the one at
// the moment the observation is built (docs/observability.md, "What the
// estimates mean"); `nts_ke_servers`, each with its
// listen address, when its certificate expires (Unix seconds) and its counters
// (`stats`, nts-ke-stats.ts; summed over the serving threads), when there are any;
// `csptp_servers`, the `[[csptp-server]]` with its port and counters, when there is one. `uptime_seconds` is rounded to the millisecond.
// Until then a source's `uncertainty` is its last measurement's delay / 2: the
// most the offset of one sample can be off by path asymmetry, an honest stand-in
// for the Kalman filter's estimate.

import type { SystemState } from "../proto/system/system-state.js";
import type { ServerStats, ServerStatsObservation } from "../proto/server/stats.js";
import { serverStatsObservation } from "../proto/server/stats.js";
import type { SourceSnapshot } from "../proto/source/types.js";
import type { KeysetStatus } from "./keyset-status.js";
import type { CsptpServerStats } from "../proto/csptp/server.js";
import type { NtpTimestamp } from "../proto/time.js";
import { TIMESTAMP_MODES } from "../proto/config/schema-system.js";
import type { TimestampMode } from "../proto/config/types.js";
import {
  NTS_KE_OBSERVATION_NAMES,
  ntsKeStatsObservation,
  type NtsKeCounts,
  type NtsKeStatsObservation,
} from "./nts-ke-stats.js";
import {
  array,
  integer,
  number,
  object,
  ObservationFormatError,
  string,
} from "./observation-read.js";
import {
  observedPoolFront,
  parsePoolFront,
  type NtsPoolKeServerInput,
  type ObservedNtsPoolKeServer,
} from "./observation-pool-front.js";

/** Readers refuse longer messages (ntpd-rs: 1 MiB). */
export const MAX_OBSERVATION_BYTES = 1 << 20;
/** NTS cookies a source keeps at most (ntpd-rs MAX_COOKIES); `ntp-ctl status` shows n/8. */
export const MAX_NTS_COOKIES = 8;
/** ntpd-rs's default minimum poll exponent: the system poll interval without sources. */
export const DEFAULT_MIN_POLL = 4;

export interface ObservedTimestamp {
  /** NTP 32.32 fixed point: seconds since 1900 (in the era) << 32 | fraction. */
  timestamp: bigint;
}

/** ntpd-rs NtpLeapIndicator; the metrics use the index in this list. */
export const LEAP_INDICATORS = [
  "NoWarning",
  "Leap61",
  "Leap59",
  "Unknown",
  "Unsynchronized",
] as const;
export type ObservedLeap = (typeof LEAP_INDICATORS)[number];

export interface ObservedProgram {
  version: string;
  build_commit: string;
  build_commit_date: string;
  uptime_seconds: number;
  now: ObservedTimestamp;
}

export interface ObservedSystem {
  stratum: number;
  reference_id: number;
  /** Seconds; null when no accumulated-step panic threshold is set. */
  accumulated_steps_threshold: number | null;
  /** Seconds (2^precision exponent). */
  precision: number;
  root_delay: number;
  root_variance_base_time: ObservedTimestamp;
  root_variance_base: number;
  root_variance_linear: number;
  root_variance_quadratic: number;
  root_variance_cubic: number;
  leap_indicator: ObservedLeap;
  /** Seconds the clock has been stepped in total. */
  accumulated_steps: number;
  /** ntpd-ts: the system clock's error now (true − system clock), seconds. */
  offset?: number;
  /** ntpd-ts: how fast that error grows now, s/s (a slew of the system clock left out). */
  frequency?: number;
}

export interface ObservedSource {
  offset: number;
  uncertainty: number;
  delay: number;
  /** The server's root delay. */
  remote_delay: number;
  /** The server's root dispersion. */
  remote_uncertainty: number;
  last_update: ObservedTimestamp;
  unanswered_polls: number;
  /** log2 seconds. */
  poll_interval: number;
  /** Cookies in stock for an NTS source, null for others. */
  nts_cookies: number | null;
  name: string;
  address: string;
  id: number;
  /** ntpd-ts: the clock discipline uses this source now. */
  selected?: boolean;
  /** ntpd-ts, sock and pps sources only: samples taken in, and dropped as malformed or unusable. */
  samples?: number;
  dropped_samples?: number;
  /** ntpd-ts: the NTP version the source speaks now, in ntpd-rs's names for it. */
  protocol_version?: ObservedProtocolVersion;
  /**
   * ntpd-ts, NTP sources: the timestamps its last request's socket gave, in `[clock]
   * timestamp-mode`'s words ("software": user space, "kernel-recv", "kernel-all",
   * "hardware"); absent before its first request.
   */
  timestamps?: TimestampMode;
}

/** ntpd-rs's `ProtocolVersion` states, as its serde would name them. */
export const OBSERVED_PROTOCOL_VERSIONS = ["V4", "V4UpgradingToV5", "UpgradedToV5", "V5"] as const;
export type ObservedProtocolVersion = (typeof OBSERVED_PROTOCOL_VERSIONS)[number];

const PROTOCOL_VERSION_NAMES: Record<string, ObservedProtocolVersion> = {
  v4: "V4",
  "v4-upgrading": "V4UpgradingToV5",
  "v5-upgraded": "UpgradedToV5",
  v5: "V5",
};

export interface ObservedServer {
  address: string;
  stats: ServerStatsObservation;
}

export interface ObservedNtsKeServer {
  address: string;
  /** ntpd-ts: when the certificate in use expires, Unix seconds. */
  certificate_not_after: number;
  /** ntpd-ts: its counters; absent in messages from ntpd-ts before they were published. */
  stats?: NtsKeStatsObservation;
}

/** ntpd-ts: a `[[csptp-server]]` and its counters (proto/csptp/server.ts). */
export interface ObservedCsptpServer {
  /** The listen address, "[::]:319". */
  address: string;
  received: number;
  responded: number;
  /** Requests and datagrams not answered, by reason ("too-short", "tlv", ...). */
  dropped: Record<string, number>;
  send_errors: number;
}

/** ntpd-ts: the NTS cookie key set (src/daemon/keyset-status.ts says what each field means). */
export interface ObservedKeyset {
  role: "primary" | "follower";
  primary_key_id: number;
  keys: number;
  stored_at: number;
  reloads: number;
  file_errors: number;
  late: boolean;
}

export interface Observation {
  program: ObservedProgram;
  system: ObservedSystem;
  sources: ObservedSource[];
  servers: ObservedServer[];
  /** ntpd-ts: absent without `[[nts-ke-server]]`s. */
  nts_ke_servers?: ObservedNtsKeServer[];
  /** ntpd-ts: absent without `[[nts-pool-ke-server]]`s. */
  nts_pool_ke_servers?: ObservedNtsPoolKeServer[];
  /** ntpd-ts: absent without a listening `[[csptp-server]]`. */
  csptp_servers?: ObservedCsptpServer[];
  /** ntpd-ts: absent when the daemon serves nothing (no `[[server]]`, no `[[nts-ke-server]]`). */
  keyset?: ObservedKeyset;
}

// ---------------------------------------------------------------------------
// Building one from the daemon's state

export interface ProgramInfo {
  version: string;
  buildCommit: string;
  buildCommitDate: string;
}

/** What the clock discipline knows about one source, at the moment it is asked. */
export interface SourceEstimate {
  /** Seconds, remote − system clock. */
  offset: number;
  /** Seconds (one standard deviation of the offset estimate). */
  uncertainty: number;
  /** Seconds. */
  delay: number;
  /** When the estimate was last updated. */
  lastUpdate?: NtpTimestamp;
  selected?: boolean;
}

/** What the clock discipline knows about the system, at the moment it is asked. */
export interface SystemEstimate {
  /** Seconds stepped in total. */
  accumulatedSteps: number;
  /** The system clock's error, true − system clock, seconds. */
  offset?: number;
  /** How fast that error grows, s/s (1e-6 is 1 ppm). */
  frequency?: number;
  /** Overrides the leap indicator derived from the served system state. */
  leap?: ObservedLeap;
}

/**
 * Implemented by the clock discipline and handed to the daemon: asked once per
 * observation. A source it has no estimate for yet shows its last measurement.
 */
export interface DisciplineObserver {
  source(id: number): SourceEstimate | undefined;
  system(): SystemEstimate;
}

export interface SourceInput {
  id: number;
  name: string;
  /** "203.0.113.5:123". */
  address: string;
  /** Cookies in stock for an NTS source, null for others. */
  ntsCookies: number | null;
  snapshot: SourceSnapshot;
  estimate?: SourceEstimate;
  /** Sock and pps sources: samples taken in and dropped. */
  samples?: number;
  dropped?: number;
  /** NTP sources: what their socket's timestamps are (after their first request). */
  timestamps?: TimestampMode;
}

export interface ServerInput {
  /** The listen address, "0.0.0.0:123". */
  address: string;
  stats: ServerStats;
}

export interface NtsKeServerInput {
  /** The listen address, "[::]:4460". */
  address: string;
  /** When its certificate expires; null before it started. */
  certificateNotAfter: Date | null;
  stats: NtsKeCounts;
}

export interface ObservationInput {
  program: ProgramInfo;
  uptimeSeconds: number;
  now: NtpTimestamp;
  system: SystemState;
  /** `[synchronization] accumulated-step-panic-threshold`, seconds or null. */
  accumulatedStepsThreshold: number | null;
  systemEstimate?: SystemEstimate;
  sources: SourceInput[];
  servers: ServerInput[];
  ntsKeServers?: NtsKeServerInput[];
  ntsPoolKeServers?: NtsPoolKeServerInput[];
  csptpServers?: { address: string; stats: CsptpServerStats }[];
  keyset?: KeysetStatus;
}

const timestamp = (t: NtpTimestamp): ObservedTimestamp => ({ timestamp: t.toBits() });

/** The system state's leap number as ntpd-rs names it; 3 is how ntpd-rs starts. */
function leapName(leap: number): ObservedLeap {
  switch (leap) {
    case 0:
      return "NoWarning";
    case 1:
      return "Leap61";
    case 2:
      return "Leap59";
    default:
      return "Unsynchronized";
  }
}

export function observedSource(input: SourceInput): ObservedSource {
  const { snapshot: s, estimate } = input;
  const m = s.lastMeasurement;
  const source: ObservedSource = {
    offset: estimate?.offset ?? m?.offset ?? 0,
    uncertainty: estimate?.uncertainty ?? (m ? m.delay / 2 : 0),
    delay: estimate?.delay ?? m?.delay ?? 0,
    remote_delay: m?.rootDelay ?? s.rootDelay,
    remote_uncertainty: m?.rootDispersion ?? s.rootDispersion,
    last_update: { timestamp: (estimate?.lastUpdate ?? m?.t4)?.toBits() ?? 0n },
    unanswered_polls: s.unansweredPolls,
    poll_interval: s.pollInterval,
    nts_cookies: input.ntsCookies,
    name: input.name,
    address: input.address,
    id: input.id,
  };
  if (estimate?.selected !== undefined) source.selected = estimate.selected;
  if (input.samples !== undefined) source.samples = input.samples;
  if (input.dropped !== undefined) source.dropped_samples = input.dropped;
  if (input.timestamps !== undefined) source.timestamps = input.timestamps;
  if (s.protocolState !== undefined)
    source.protocol_version = PROTOCOL_VERSION_NAMES[s.protocolState];
  return source;
}

export function buildObservation(input: ObservationInput): Observation {
  const s = input.system;
  const est = input.systemEstimate;
  const system: ObservedSystem = {
    stratum: s.stratum,
    reference_id: s.referenceId >>> 0,
    accumulated_steps_threshold: input.accumulatedStepsThreshold,
    precision: 2 ** s.precisionLog2,
    root_delay: s.rootDelay,
    root_variance_base_time: timestamp(s.rootVarianceBaseTime),
    root_variance_base: s.rootVarianceBase,
    root_variance_linear: s.rootVarianceLinear,
    root_variance_quadratic: s.rootVarianceQuadratic,
    root_variance_cubic: s.rootVarianceCubic,
    leap_indicator: est?.leap ?? leapName(s.leap),
    accumulated_steps: est?.accumulatedSteps ?? 0,
  };
  if (est?.offset !== undefined) system.offset = est.offset;
  if (est?.frequency !== undefined) system.frequency = est.frequency;
  const observation: Observation = {
    program: {
      version: input.program.version,
      build_commit: input.program.buildCommit,
      build_commit_date: input.program.buildCommitDate,
      // A process's uptime means something to the millisecond, not beyond.
      uptime_seconds: Math.round(input.uptimeSeconds * 1000) / 1000,
      now: timestamp(input.now),
    },
    system,
    sources: input.sources.map(observedSource),
    servers: input.servers.map((server) => ({
      address: server.address,
      stats: serverStatsObservation(server.stats),
    })),
  };
  const keServers: ObservedNtsKeServer[] = [];
  for (const server of input.ntsKeServers ?? []) {
    if (server.certificateNotAfter === null) continue;
    keServers.push({
      address: server.address,
      certificate_not_after: Math.floor(server.certificateNotAfter.getTime() / 1000),
      stats: ntsKeStatsObservation(server.stats),
    });
  }
  if (keServers.length > 0) observation.nts_ke_servers = keServers;
  const fronts = input.ntsPoolKeServers ?? [];
  if (fronts.length > 0) observation.nts_pool_ke_servers = fronts.map(observedPoolFront);
  if (input.csptpServers !== undefined && input.csptpServers.length > 0) {
    observation.csptp_servers = input.csptpServers.map(({ address, stats }) => ({
      address,
      received: stats.received,
      responded: stats.responded,
      dropped: Object.fromEntries(stats.dropped),
      send_errors: stats.sendErrors,
    }));
  }
  if (input.keyset !== undefined) {
    const k = input.keyset;
    observation.keyset = {
      role: k.role,
      primary_key_id: k.primaryKeyId,
      keys: k.keys,
      stored_at: k.storedAt,
      reloads: k.reloads,
      file_errors: k.fileErrors,
      late: k.late,
    };
  }
  return observation;
}

// ---------------------------------------------------------------------------
// Derived values readers show

/** Root dispersion at `program.now`: sqrt(base + lin·t + quad·t² + cubic·t³). */
export function systemRootDispersion(observation: Observation): number {
  const s = observation.system;
  const diff = BigInt.asIntN(
    64,
    observation.program.now.timestamp - s.root_variance_base_time.timestamp,
  );
  let t = Number(diff) / 2 ** 32;
  if (!(t > 0)) t = 0;
  const variance =
    s.root_variance_base +
    t * (s.root_variance_linear + t * (s.root_variance_quadratic + t * s.root_variance_cubic));
  return variance > 0 ? Math.sqrt(variance) : 0;
}

// ---------------------------------------------------------------------------
// Writing

/** JSON text with bigints written as integers, exactly; otherwise as JSON.stringify. */
export function toJson(value: unknown): string {
  switch (typeof value) {
    case "bigint":
      return value.toString();
    case "number":
      return Number.isFinite(value) ? JSON.stringify(value) : "null";
    case "string":
    case "boolean":
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (Array.isArray(value)) return `[${value.map(toJson).join(",")}]`;
      const parts: string[] = [];
      for (const [key, v] of Object.entries(value)) {
        if (v === undefined) continue;
        parts.push(`${JSON.stringify(key)}:${toJson(v)}`);
      }
      return `{${parts.join(",")}}`;
    }
    default:
      return "null";
  }
}

export function serializeObservation(observation: Observation): string {
  return toJson(observation);
}

/** One socket message: the byte length as u64 big-endian, then the JSON. */
export function encodeObservationMessage(json: string): Buffer {
  const body = Buffer.from(json, "utf8");
  const message = Buffer.allocUnsafe(8 + body.length);
  message.writeBigUInt64BE(BigInt(body.length), 0);
  body.copy(message, 8);
  return message;
}

// ---------------------------------------------------------------------------
// Reading

export { ObservationFormatError };

/**
 * Parses and checks an observation (ours or ntpd-rs 1.9's). Timestamps come
 * back as exact bigints. Unknown fields are ignored, as serde does; a missing
 * or mistyped field throws an ObservationFormatError naming it.
 */
export function parseObservation(text: string): Observation {
  // Every "timestamp" value is an integer that may exceed 2^53: quote its
  // digits before JSON.parse sees them. Inside a JSON string a quote is always
  // escaped, so `"timestamp":` followed by digits can only be a key and value.
  const quoted = text.replace(/"timestamp"(\s*):(\s*)(\d+)/g, '"timestamp"$1:$2"$3"');
  let raw: unknown;
  try {
    raw = JSON.parse(quoted);
  } catch (error) {
    throw new ObservationFormatError(
      `not JSON: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const root = object(raw, "$");
  const program = object(root.program, "program");
  const system = object(root.system, "system");
  const observation: Observation = {
    program: {
      version: string(program.version, "program.version"),
      build_commit: string(program.build_commit, "program.build_commit"),
      build_commit_date: string(program.build_commit_date, "program.build_commit_date"),
      uptime_seconds: number(program.uptime_seconds, "program.uptime_seconds"),
      now: observedTimestamp(program.now, "program.now"),
    },
    system: parseSystem(system),
    sources: array(root.sources, "sources").map((s, i) => parseSource(s, `sources[${i}]`)),
    servers: array(root.servers, "servers").map((s, i) => parseServer(s, `servers[${i}]`)),
  };
  if (root.nts_ke_servers !== undefined) {
    observation.nts_ke_servers = array(root.nts_ke_servers, "nts_ke_servers").map((value, i) => {
      const at = `nts_ke_servers[${i}]`;
      const o = object(value, at);
      const server: ObservedNtsKeServer = {
        address: string(o.address, `${at}.address`),
        certificate_not_after: number(o.certificate_not_after, `${at}.certificate_not_after`),
      };
      if (o.stats !== undefined) server.stats = parseNtsKeStats(o.stats, `${at}.stats`);
      return server;
    });
  }
  if (root.nts_pool_ke_servers !== undefined) {
    observation.nts_pool_ke_servers = array(root.nts_pool_ke_servers, "nts_pool_ke_servers").map(
      (value, i) => parsePoolFront(value, `nts_pool_ke_servers[${i}]`),
    );
  }
  if (root.csptp_servers !== undefined) {
    observation.csptp_servers = array(root.csptp_servers, "csptp_servers").map((value, i) =>
      parseCsptpServer(value, `csptp_servers[${i}]`),
    );
  }
  if (root.keyset !== undefined) observation.keyset = parseKeyset(root.keyset, "keyset");
  return observation;
}

function parseCsptpServer(value: unknown, at: string): ObservedCsptpServer {
  const o = object(value, at);
  const dropped: Record<string, number> = {};
  for (const [reason, n] of Object.entries(object(o.dropped, `${at}.dropped`))) {
    dropped[reason] = integer(n, `${at}.dropped.${reason}`);
  }
  return {
    address: string(o.address, `${at}.address`),
    received: integer(o.received, `${at}.received`),
    responded: integer(o.responded, `${at}.responded`),
    dropped,
    send_errors: integer(o.send_errors, `${at}.send_errors`),
  };
}

function parseKeyset(value: unknown, at: string): ObservedKeyset {
  const o = object(value, at);
  const role = string(o.role, `${at}.role`);
  if (role !== "primary" && role !== "follower") {
    throw new ObservationFormatError(`${at}.role: unknown value "${role}"`);
  }
  if (typeof o.late !== "boolean")
    throw new ObservationFormatError(`${at}.late: expected a boolean`);
  return {
    role,
    primary_key_id: integer(o.primary_key_id, `${at}.primary_key_id`),
    keys: integer(o.keys, `${at}.keys`),
    stored_at: integer(o.stored_at, `${at}.stored_at`),
    reloads: integer(o.reloads, `${at}.reloads`),
    file_errors: integer(o.file_errors, `${at}.file_errors`),
    late: o.late,
  };
}

function parseSystem(o: Record<string, unknown>): ObservedSystem {
  const leap = string(o.leap_indicator, "system.leap_indicator");
  if (!(LEAP_INDICATORS as readonly string[]).includes(leap)) {
    throw new ObservationFormatError(`system.leap_indicator: unknown value "${leap}"`);
  }
  const system: ObservedSystem = {
    stratum: integer(o.stratum, "system.stratum"),
    reference_id: integer(o.reference_id, "system.reference_id"),
    accumulated_steps_threshold:
      o.accumulated_steps_threshold === null
        ? null
        : number(o.accumulated_steps_threshold, "system.accumulated_steps_threshold"),
    precision: number(o.precision, "system.precision"),
    root_delay: number(o.root_delay, "system.root_delay"),
    root_variance_base_time: observedTimestamp(
      o.root_variance_base_time,
      "system.root_variance_base_time",
    ),
    root_variance_base: number(o.root_variance_base, "system.root_variance_base"),
    root_variance_linear: number(o.root_variance_linear, "system.root_variance_linear"),
    root_variance_quadratic: number(o.root_variance_quadratic, "system.root_variance_quadratic"),
    root_variance_cubic: number(o.root_variance_cubic, "system.root_variance_cubic"),
    leap_indicator: leap as ObservedLeap,
    accumulated_steps: number(o.accumulated_steps, "system.accumulated_steps"),
  };
  if (o.offset !== undefined) system.offset = number(o.offset, "system.offset");
  if (o.frequency !== undefined) system.frequency = number(o.frequency, "system.frequency");
  return system;
}

function parseSource(value: unknown, at: string): ObservedSource {
  const o = object(value, at);
  const source: ObservedSource = {
    offset: number(o.offset, `${at}.offset`),
    uncertainty: number(o.uncertainty, `${at}.uncertainty`),
    delay: number(o.delay, `${at}.delay`),
    remote_delay: number(o.remote_delay, `${at}.remote_delay`),
    remote_uncertainty: number(o.remote_uncertainty, `${at}.remote_uncertainty`),
    last_update: observedTimestamp(o.last_update, `${at}.last_update`),
    unanswered_polls: integer(o.unanswered_polls, `${at}.unanswered_polls`),
    poll_interval: integer(o.poll_interval, `${at}.poll_interval`),
    nts_cookies: o.nts_cookies === null ? null : integer(o.nts_cookies, `${at}.nts_cookies`),
    name: string(o.name, `${at}.name`),
    address: string(o.address, `${at}.address`),
    id: integer(o.id, `${at}.id`),
  };
  if (o.selected !== undefined) {
    if (typeof o.selected !== "boolean") {
      throw new ObservationFormatError(`${at}.selected: expected a boolean`);
    }
    source.selected = o.selected;
  }
  if (o.samples !== undefined) source.samples = integer(o.samples, `${at}.samples`);
  if (o.dropped_samples !== undefined) {
    source.dropped_samples = integer(o.dropped_samples, `${at}.dropped_samples`);
  }
  if (o.protocol_version !== undefined) {
    const v = o.protocol_version;
    if (!(OBSERVED_PROTOCOL_VERSIONS as readonly unknown[]).includes(v)) {
      throw new ObservationFormatError(
        `${at}.protocol_version: expected one of ${OBSERVED_PROTOCOL_VERSIONS.join(", ")}`,
      );
    }
    source.protocol_version = v as ObservedProtocolVersion;
  }
  if (o.timestamps !== undefined) {
    if (!(TIMESTAMP_MODES as readonly unknown[]).includes(o.timestamps)) {
      throw new ObservationFormatError(
        `${at}.timestamps: expected one of ${TIMESTAMP_MODES.join(", ")}`,
      );
    }
    source.timestamps = o.timestamps as TimestampMode;
  }
  return source;
}

const STAT_KEYS: readonly (keyof ServerStatsObservation)[] = [
  "received_packets",
  "accepted_packets",
  "denied_packets",
  "ignored_packets",
  "rate_limited_packets",
  "response_send_errors",
  "nts_received_packets",
  "nts_accepted_packets",
  "nts_denied_packets",
  "nts_rate_limited_packets",
  "nts_nak_packets",
];

function parseServer(value: unknown, at: string): ObservedServer {
  const o = object(value, at);
  const stats = object(o.stats, `${at}.stats`);
  const parsed = {} as ServerStatsObservation;
  for (const key of STAT_KEYS) parsed[key] = integer(stats[key], `${at}.stats.${key}`);
  if (stats.interleaved_packets !== undefined) {
    parsed.interleaved_packets = integer(
      stats.interleaved_packets,
      `${at}.stats.interleaved_packets`,
    );
  }
  return { address: string(o.address, `${at}.address`), stats: parsed };
}

function parseNtsKeStats(value: unknown, at: string): NtsKeStatsObservation {
  const stats = object(value, at);
  const parsed = {} as NtsKeStatsObservation;
  for (const name of Object.values(NTS_KE_OBSERVATION_NAMES)) {
    parsed[name] = integer(stats[name], `${at}.${name}`);
  }
  return parsed;
}

function observedTimestamp(value: unknown, at: string): ObservedTimestamp {
  const o = object(value, at);
  if (typeof o.timestamp !== "string" || !/^\d+$/.test(o.timestamp)) {
    throw new ObservationFormatError(`${at}.timestamp: expected an unsigned integer`);
  }
  const bits = BigInt(o.timestamp);
  if (bits >= 1n << 64n) {
    throw new ObservationFormatError(`${at}.timestamp: larger than 64 bits`);
  }
  return { timestamp: bits };
}
