// `ntp-ctl status` in ntpd-rs's plain layout (v1.8 and later): the
// synchronization status, then every source sorted by (name, id), then, when
// there are any, every server sorted by listen address with all its counters.
// Labels and values are separated by tabs, so the columns line up at 8-wide
// tab stops:
//
//   Synchronization status:
//   	Dispersion:	0.000299s
//   	Delay:		0.007637s
//   	Stratum:	4
//   	Offset:		+0.000003s      (ntpd-ts only: the system clock's error
//   	Frequency:	+25.012ppm       now, when the observation has it)
//
//
//   Sources:
//
//   ntpd-rs.pool.ntp.org:123 77.171.247.180:123 [NTS] (1)
//   	Offset:			+0.000024
//   	...
//   	NTS cookies:		7/8 available
//
//   Servers:
//
//   0.0.0.0:123
//   	Ignored			0
//   	...

import { isIP } from "node:net";
import {
  MAX_NTS_COOKIES,
  systemRootDispersion,
  type Observation,
  type ObservedCsptpServer,
  type ObservedKeyset,
  type ObservedServer,
  type ObservedSource,
} from "../daemon/observation.js";
import type { ObservedNtsPoolKeServer } from "../daemon/observation-pool-front.js";

const fixed6 = (x: number) => x.toFixed(6);
const PROTOCOL_VERSION_TEXT = {
  V4: "4",
  V4UpgradingToV5: "4 (asking to upgrade to 5)",
  UpgradedToV5: "5 (upgraded, no v5 reply yet)",
  V5: "5",
} as const;
const signed6 = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(6)}`;
const signed3 = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(3)}`;

export function formatStatusPlain(observation: Observation): string {
  const lines: string[] = [];
  const { system } = observation;
  lines.push("Synchronization status:");
  lines.push(`\tDispersion:\t${fixed6(systemRootDispersion(observation))}s`);
  lines.push(`\tDelay:\t\t${fixed6(system.root_delay)}s`);
  lines.push(`\tStratum:\t${system.stratum}`);
  // ntpd-ts: the system clock's error now, when the daemon gives it (ntpd-rs
  // does not: its observations print exactly its layout).
  if (system.offset !== undefined) lines.push(`\tOffset:\t\t${signed6(system.offset)}s`);
  if (system.frequency !== undefined) {
    lines.push(`\tFrequency:\t${signed3(system.frequency * 1e6)}ppm`);
  }
  lines.push("", "");
  lines.push("Sources:");
  for (const source of sortedSources(observation.sources)) {
    lines.push("", ...sourceLines(source));
  }
  if (observation.servers.length > 0) {
    lines.push("", "Servers:");
    for (const server of sortedServers(observation.servers)) {
      lines.push("", ...serverLines(server));
    }
  }
  // ntpd-ts: NTS pool fronts (docs/nts-pool.md).
  for (const front of observation.nts_pool_ke_servers ?? []) {
    lines.push("", ...poolFrontLines(front));
  }
  // ntpd-ts: the [[csptp-server]] (docs/csptp.md).
  for (const server of observation.csptp_servers ?? []) {
    lines.push("", "CSPTP server:", "", ...csptpServerLines(server));
  }
  // ntpd-ts: the cookie key set of a daemon that serves (docs/nts-fleet.md).
  if (observation.keyset !== undefined) lines.push("", ...keysetLines(observation.keyset));
  return lines.join("\n") + "\n";
}

function poolFrontLines(f: ObservedNtsPoolKeServer): string[] {
  const s = f.stats;
  return [
    `NTS pool front ${f.address}:`,
    `\tBack ends up:\t\t${f.backends_up}/${f.backends}`,
    `\tConnections:\t\t${s.connections}`,
    `\tHanded on:\t\t${s.delegated}`,
    `\tAnswered by the front:\t${s.rejected}`,
    `\tFailed (no back end):\t${s.failed}`,
    `\tBack-end failures:\t${s.backend_failures}`,
  ];
}

function csptpServerLines(s: ObservedCsptpServer): string[] {
  const dropped = Object.entries(s.dropped)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([reason, n]) => `${reason} ${n}`);
  return [
    s.address,
    `\tReceived\t\t${s.received}`,
    `\tResponded\t\t${s.responded}`,
    `\tDropped\t\t\t${dropped.length === 0 ? "0" : dropped.join(", ")}`,
    `\tResponse send errors\t${s.send_errors}`,
  ];
}

function keysetLines(k: ObservedKeyset): string[] {
  const stored = new Date(k.stored_at * 1000).toISOString().replace(".000Z", "Z");
  return [
    "NTS keys:",
    `	Role:			${k.role}${k.late ? " (LATE: the key file is older than a rotation interval)" : ""}`,
    `	Primary key id:		${k.primary_key_id} (${k.keys} keys)`,
    `	Stored rotation:	${stored}`,
    ...(k.role === "follower" ? [`	Reloads:		${k.reloads}`] : []),
    `	Key file errors:	${k.file_errors}`,
  ];
}

function sourceLines(s: ObservedSource): string[] {
  const nts = s.nts_cookies !== null;
  const lines = [
    `${s.name} ${s.address}${nts ? " [NTS]" : ""} (${s.id})`,
    `\tOffset:\t\t\t${signed6(s.offset)}`,
    `\tUncertainty:\t\t±${fixed6(s.uncertainty)}`,
    `\tDelay:\t\t\t±${fixed6(s.delay)}`,
    `\tPoll interval:\t\t${(2 ** s.poll_interval).toFixed(0)}s`,
    `\tMissing polls:\t\t${s.unanswered_polls}`,
    `\tRoot dispersion:\t${fixed6(s.remote_uncertainty)}s`,
    `\tRoot delay:\t\t${fixed6(s.remote_delay)}s`,
  ];
  if (s.nts_cookies !== null) {
    lines.push(`\tNTS cookies:\t\t${s.nts_cookies}/${MAX_NTS_COOKIES} available`);
  }
  if (s.samples !== undefined) lines.push(`\tSamples:\t\t${s.samples}`);
  if (s.dropped_samples !== undefined) lines.push(`\tDropped samples:\t${s.dropped_samples}`);
  // ntpd-ts: the version spoken, for sources that are not plain NTPv4.
  if (s.protocol_version !== undefined && s.protocol_version !== "V4") {
    lines.push(`\tNTP version:\t\t${PROTOCOL_VERSION_TEXT[s.protocol_version]}`);
  }
  if (s.timestamps !== undefined) lines.push(`\tTimestamps:\t\t${s.timestamps}`);
  return lines;
}

function serverLines(server: ObservedServer): string[] {
  const s = server.stats;
  return [
    server.address,
    `\tIgnored\t\t\t${s.ignored_packets}`,
    `\tResponse send errors\t${s.response_send_errors}`,
    `\tNTS NAK\t\t\t${s.nts_nak_packets}`,
    `\tReceived\t\t${s.received_packets}`,
    `\tAccepted\t\t${s.accepted_packets}`,
    `\tDenied\t\t\t${s.denied_packets}`,
    `\tRate limited\t\t${s.rate_limited_packets}`,
    `\tNTS Received\t\t${s.nts_received_packets}`,
    `\tNTS Accepted\t\t${s.nts_accepted_packets}`,
    `\tNTS Denied\t\t${s.nts_denied_packets}`,
    `\tNTS Rate limited\t${s.nts_rate_limited_packets}`,
    ...(s.interleaved_packets === undefined ? [] : [`\tInterleaved\t\t${s.interleaved_packets}`]),
  ];
}

function sortedSources(sources: readonly ObservedSource[]): ObservedSource[] {
  return [...sources].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.id - b.id));
}

/** As Rust orders SocketAddr: IPv4 before IPv6, then by address bytes, then port. */
function sortedServers(servers: readonly ObservedServer[]): ObservedServer[] {
  return [...servers]
    .map((server) => ({ server, key: socketAddressKey(server.address) }))
    .sort((a, b) => compareKeys(a.key, b.key))
    .map((x) => x.server);
}

type Key = [family: number, bytes: number[], port: number, text: string];

function socketAddressKey(text: string): Key {
  const m = /^\[(.*)\]:(\d+)$/.exec(text) ?? /^([^:]*):(\d+)$/.exec(text);
  const host = m?.[1] ?? text;
  const port = Number(m?.[2] ?? 0);
  const family = isIP(host);
  if (family === 4) return [4, host.split(".").map(Number), port, text];
  if (family === 6) return [6, ipv6Groups(host), port, text];
  return [99, [], port, text];
}

/** The eight 16-bit groups of an IPv6 address (compared like its 16 bytes). */
function ipv6Groups(host: string): number[] {
  const [head = "", tail] = host.split("::");
  const parse = (part: string) =>
    part === ""
      ? []
      : part.split(":").flatMap((g) => (g.includes(".") ? ipv4AsGroups(g) : [parseInt(g, 16)]));
  const left = parse(head);
  const right = tail === undefined ? [] : parse(tail);
  const zeros = new Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0);
  return [...left, ...zeros, ...right];
}

function ipv4AsGroups(v4: string): number[] {
  const b = v4.split(".").map(Number);
  return [((b[0] ?? 0) << 8) | (b[1] ?? 0), ((b[2] ?? 0) << 8) | (b[3] ?? 0)];
}

function compareKeys(a: Key, b: Key): number {
  if (a[0] !== b[0]) return a[0] - b[0];
  for (let i = 0; i < Math.max(a[1].length, b[1].length); i++) {
    const d = (a[1][i] ?? 0) - (b[1][i] ?? 0);
    if (d !== 0) return d;
  }
  if (a[2] !== b[2]) return a[2] - b[2];
  return a[3] < b[3] ? -1 : a[3] > b[3] ? 1 : 0;
}
