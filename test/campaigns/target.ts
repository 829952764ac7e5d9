// The daemon under test in a campaign: our ntp-daemon on loopback with an
// observation socket, an NTP server and (optionally) an NTS-KE server with a
// throw-away PKI, plus the readings every scenario reports: its counters
// (observation socket), its RSS (/proc), and the kernel's receive-buffer drop
// count for its UDP socket (/proc/net/udp), which together account for every
// datagram offered.
import { readFileSync } from "node:fs";
import { readObservation } from "../../src/cli/observation-client.js";
import type { Observation } from "../../src/daemon/observation.js";
import type { ServerStatsObservation } from "../../src/proto/server/stats.js";
import { writeFile } from "node:fs/promises";
import { DAEMON_ENTRY } from "../daemon/run-daemon.js";
import { makeTestPki, type Issued, type TestPki } from "../helpers/pki.js";
import { freeTcpPort, freeUdpPort } from "../helpers/ports.js";
import { spawnProcess, type Spawned } from "../helpers/process.js";
import { makeTempDir, type TempDir } from "../helpers/tmp.js";
import { waitForNtpServer } from "../helpers/ntp-probe.js";
import { waitFor, waitForTcpPort } from "../helpers/wait.js";

const ROOT = new URL("../..", import.meta.url).pathname;

export interface TargetOptions {
  name: string;
  /** With an NTS-KE server (and a PKI for it). */
  nts?: boolean;
  /** Extra lines for the `[[server]]` table. */
  serverExtra?: string;
  /** Extra lines for the `[[nts-ke-server]]` table. */
  keExtra?: string;
  /** The `[keyset]` table's lines (key-storage-path etc.). */
  keyset?: string;
  /** The `[synchronization]` table's lines (default: a stratum-1 server, "TEST"). */
  synchronization?: string;
  /** More tables (sources, ...), appended as they are. */
  extraToml?: string;
  logLevel?: string;
  /** A directory to use (default: a fresh temp dir, removed by stop()). */
  dir?: TempDir;
  /** The NTP port (default: a free one). */
  ntpPort?: number;
  /** Wraps the daemon's command line (e.g. in `unshare -m ... sh -c 'mount ...; exec "$@"'`). */
  wrap?: (command: string, args: string[]) => [string, string[]];
}

export interface Target {
  proc: Spawned;
  dir: TempDir;
  ntpPort: number;
  kePort: number;
  observationPath: string;
  configPath: string;
  pki: TestPki | null;
  serverCert: Issued | null;
  observe(): Promise<Observation>;
  /** The first `[[server]]`'s counters. */
  serverStats(): Promise<ServerStatsObservation>;
  /** VmRSS and VmHWM (peak) in KiB. */
  rss(): { rssKiB: number; peakKiB: number };
  /** Datagrams the kernel dropped for the server's socket (receive buffer full). */
  udpDrops(): number;
  alive(): boolean;
  stop(): Promise<void>;
}

export async function startTarget(o: TargetOptions): Promise<Target> {
  const ownDir = o.dir === undefined;
  const dir = o.dir ?? (await makeTempDir(`ntpd-ts-campaign-${o.name}-`));
  const ntpPort = o.ntpPort ?? (await freeUdpPort());
  const kePort = o.nts ? await freeTcpPort() : 0;
  const observationPath = dir.file("observe.sock");
  let pki: TestPki | null = null;
  let serverCert: Issued | null = null;
  let keTable = "";
  if (o.nts) {
    pki = await makeTestPki(dir);
    serverCert = await pki.issue("server", ["localhost", "127.0.0.1"]);
    keTable = `
[[nts-ke-server]]
listen = "127.0.0.1:${kePort}"
certificate-chain-path = "${serverCert.chainPath}"
private-key-path = "${serverCert.keyPath}"
ntp-port = ${ntpPort}
${o.keExtra ?? ""}
`;
  }
  const toml = `[observability]
log-level = "${o.logLevel ?? "info"}"
observation-path = "${observationPath}"

[[server]]
listen = "127.0.0.1:${ntpPort}"
${o.serverExtra ?? ""}
${keTable}
${o.keyset === undefined ? "" : `[keyset]\n${o.keyset}\n`}
[synchronization]
${o.synchronization ?? 'local-stratum = 1\nreference-id = "TEST"'}

${o.extraToml ?? ""}
`;
  const configPath = dir.file(`${o.name}.toml`);
  await writeFile(configPath, toml);
  const args = ["--import", "tsx", DAEMON_ENTRY, "-c", configPath, "--no-clock-control"];
  const [command, argv] = o.wrap ? o.wrap(process.execPath, args) : [process.execPath, args];
  const proc = await spawnProcess(command, argv, { cwd: ROOT, name: o.name });
  const stopAll = async () => {
    await proc.stop();
    if (ownDir) await dir.cleanup();
  };
  try {
    await waitForNtpServer(ntpPort, "127.0.0.1", 30_000);
    if (o.nts) await waitForTcpPort(kePort, "127.0.0.1", 30_000);
    await waitFor(
      () =>
        readObservation(observationPath)
          .then(() => true)
          .catch(() => undefined),
      {
        timeoutMs: 10_000,
        intervalMs: 100,
        what: "the observation socket",
      },
    );
  } catch (e) {
    const output = proc.output();
    await stopAll();
    throw new Error(`${(e as Error).message}\ndaemon output:\n${output}`, { cause: e });
  }
  const target: Target = {
    proc,
    dir,
    ntpPort,
    kePort,
    observationPath,
    configPath,
    pki,
    serverCert,
    observe: () => readObservation(observationPath, { timeoutMs: 5000 }),
    serverStats: async () => {
      const s = (await target.observe()).servers[0];
      if (!s) throw new Error("the observation lists no server");
      return s.stats;
    },
    rss: () => processMemory(proc.pid),
    udpDrops: () => udpSocketDrops(ntpPort),
    alive: () => proc.exitStatus() === undefined,
    stop: stopAll,
  };
  return target;
}

/** VmRSS and VmHWM of a process in KiB (0 when it is gone). */
export function processMemory(pid: number): { rssKiB: number; peakKiB: number } {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (key: string) =>
      Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
    return { rssKiB: kib("VmRSS"), peakKiB: kib("VmHWM") };
  } catch {
    return { rssKiB: 0, peakKiB: 0 };
  }
}

/**
 * The "drops" column of /proc/net/udp for the socket bound to 127.0.0.1:PORT:
 * datagrams that reached the socket but found its receive buffer full.
 */
export function udpSocketDrops(port: number, host = "0100007F"): number {
  const want = `${host}:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  const lines = readFileSync("/proc/net/udp", "utf8").split("\n").slice(1);
  let drops = 0;
  for (const l of lines) {
    const f = l.trim().split(/\s+/);
    if (f[1] === want) drops += Number(f[f.length - 1] ?? 0);
  }
  return drops;
}

/** received = accepted + denied + ignored + NTS NAKs: every datagram got one fate. */
export function fatesAddUp(s: ServerStatsObservation): { ok: boolean; detail: string } {
  const sum = s.accepted_packets + s.denied_packets + s.ignored_packets + s.nts_nak_packets;
  return {
    ok: sum === s.received_packets,
    detail: `received ${s.received_packets} vs accepted ${s.accepted_packets} + denied ${s.denied_packets} + ignored ${s.ignored_packets} + nts_nak ${s.nts_nak_packets} = ${sum}`,
  };
}

/** The counters a report shows, difference `after - before`. */
export function statsDelta(
  before: ServerStatsObservation,
  after: ServerStatsObservation,
): ServerStatsObservation {
  const out = {} as ServerStatsObservation;
  for (const k of Object.keys(after) as (keyof ServerStatsObservation)[]) {
    out[k] = (after[k] ?? 0) - (before[k] ?? 0);
  }
  return out;
}
