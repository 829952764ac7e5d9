// Our ntp-daemon as an NTS server or NTS client in tests: config builders
// (ntpd-rs ntp.toml schema) and readers of the client's log lines
//
//   INFO spawner: NTS key exchange succeeded source=HOST:PORT aead=17 cookies=8 ntp_server=...
//   INFO source: measurement source=... nts=true offset=+0.000012s delay=0.000045s stratum=1 poll=1s
//
// plus starting the daemon inside a network namespace (test/helpers/netns.ts).
import { writeFile } from "node:fs/promises";
import type { TestContext } from "node:test";
import { DAEMON_ENTRY, parseMeasurement, startDaemon } from "../daemon/run-daemon.js";
import { chronyUnavailable, startChronyServer, type Chrony } from "./chrony.js";
import { ensureLoopbackName, GUIDE_HOST } from "./hosts.js";
import type { Netns } from "./netns.js";
import { makeTestPki, type Issued, type TestPki } from "./pki.js";
import { freePort, freeUdpPort } from "./ports.js";
import { which, type Spawned } from "./process.js";
import { skipIfMissing } from "./skip.js";
import type { TempDir } from "./tmp.js";
import { waitFor, waitForTcpPort, waitForUdpBound } from "./wait.js";

const root = new URL("../..", import.meta.url).pathname;

export interface NtsServerConfigOptions {
  ntpPort: number;
  kePort: number;
  chainPath: string;
  keyPath: string;
  /** `[keyset] key-storage-path` (keeps cookie keys across a restart). */
  keyStoragePath?: string;
  /** Address both listen on (default 127.0.0.1). */
  address?: string;
  /** "listen" (current ntpd-rs) or "key-exchange-listen" (the older guide's name). */
  keListenKey?: "listen" | "key-exchange-listen";
  logLevel?: string;
}

/** A stratum-1 NTP server with an NTS-KE server handing out its NTP port. */
export function ntsServerConfig(o: NtsServerConfigOptions): string {
  const addr = o.address ?? "127.0.0.1";
  return `[observability]
log-level = "${o.logLevel ?? "info"}"

[[server]]
listen = "${addr}:${o.ntpPort}"

[[nts-ke-server]]
${o.keListenKey ?? "listen"} = "${addr}:${o.kePort}"
certificate-chain-path = "${o.chainPath}"
private-key-path = "${o.keyPath}"
ntp-port = ${o.ntpPort}
${o.keyStoragePath === undefined ? "" : `\n[keyset]\nkey-storage-path = "${o.keyStoragePath}"\n`}
[synchronization]
local-stratum = 1
reference-id = "TEST"
`;
}

/** An NTS client of one NTS-KE server, polling every 2^poll s. */
export function ntsClientConfig(
  address: string,
  caPath: string,
  poll = 0,
  logLevel = "info",
): string {
  return `[observability]
log-level = "${logLevel}"

[[source]]
mode = "nts"
address = "${address}"
certificate-authority = "${caPath}"
poll-interval-limits = { min = ${poll}, max = ${poll} }

[synchronization]
minimum-agreeing-sources = 1
`;
}

export interface LogLine {
  line: string;
  /** The line's own timestamp (ms since the epoch), NaN if it has none. */
  at: number;
}

function lines(output: string, pattern: RegExp): LogLine[] {
  return output
    .split("\n")
    .filter((l) => pattern.test(l))
    .map((line) => ({ line, at: Date.parse(line.split(/\s+/)[0] ?? "") }));
}

/** "NTS key exchange succeeded" lines of a client's output. */
export function keyExchanges(output: string): LogLine[] {
  return lines(output, /NTS key exchange succeeded/);
}

/** NTS measurement lines ("measurement ... nts=true ..."), optionally of one source. */
export function ntsMeasurements(output: string, source?: string): LogLine[] {
  return lines(output, / measurement .*nts=true/).filter(
    (l) => source === undefined || l.line.includes(`source=${source} `),
  );
}

/** Waits until `count` NTS measurements (after `since`, ms) are in the output; returns them. */
export function waitForNtsMeasurements(
  proc: Spawned,
  count: number,
  timeoutMs: number,
  since = 0,
): Promise<LogLine[]> {
  return waitFor(
    () => {
      if (proc.exitStatus()) throw new Error(`${proc.name} exited:\n${proc.output()}`);
      const found = ntsMeasurements(proc.output()).filter((m) => m.at >= since);
      return found.length >= count ? found : undefined;
    },
    { timeoutMs, intervalMs: 100, what: `${count} NTS measurements from ${proc.name}` },
  ).catch((e: unknown) => {
    throw new Error(`${(e as Error).message}\noutput:\n${proc.output()}`, { cause: e });
  });
}

/** Asserts-friendly view of a measurement line: offset/delay in seconds. */
export function measurementOf(l: LogLine): { offset: number; delay: number; stratum: number } {
  const m = parseMeasurement(l.line);
  if (!m) throw new Error(`unparseable measurement line: ${l.line}`);
  const stratum = Number(/stratum=(\d+)/.exec(l.line)?.[1] ?? NaN);
  return { ...m, stratum };
}

/** Writes DIR/NAME.toml and starts our daemon inside `ns` (`ip netns exec NS node ...`). */
export async function startDaemonInNetns(
  ns: Netns,
  dir: TempDir,
  name: string,
  toml: string,
): Promise<Spawned> {
  const config = dir.file(`${name}.toml`);
  await writeFile(config, toml);
  return ns.spawn(
    process.execPath,
    ["--import", "tsx", DAEMON_ENTRY, "-c", config, "--no-clock-control"],
    { cwd: root, name: `${name} (netns ${ns.name})` },
  );
}

/**
 * Skips (or fails under CI) unless chrony, openssl and the hosts entry for
 * GUIDE_HOST are there, and `alsoMissing` (another reason) is undefined.
 */
export async function chronyNtsPrerequisites(
  t: TestContext,
  alsoMissing?: string,
): Promise<boolean> {
  if (skipIfMissing(t, chronyUnavailable() ?? alsoMissing)) return false;
  if (skipIfMissing(t, which("openssl") ? undefined : "openssl is not installed")) return false;
  const hosts = await ensureLoopbackName(GUIDE_HOST);
  return !skipIfMissing(t, hosts.ok ? undefined : hosts.reason);
}

export interface OurNtsServer {
  /** The test PKI whose CA signed the server's certificate (for GUIDE_HOST). */
  pki: TestPki;
  ntpPort: number;
  kePort: number;
  server: Spawned;
}

/**
 * Our daemon as a stratum-1 NTS server on loopback (ntsServerConfig) with a
 * fresh test PKI, its NTS-KE and NTP ports open when this resolves. The
 * caller stops `server`; it is stopped here when it does not come up.
 */
export async function startOurNtsServer(
  dir: TempDir,
  options: Pick<NtsServerConfigOptions, "keyStoragePath" | "logLevel"> = {},
): Promise<OurNtsServer> {
  const pki = await makeTestPki(dir);
  const cert = await pki.issue("server", [GUIDE_HOST]);
  const ntpPort = await freeUdpPort();
  const kePort = await freePort();
  const server = await startDaemon(
    dir,
    "server",
    ntsServerConfig({
      ntpPort,
      kePort,
      chainPath: cert.chainPath,
      keyPath: cert.keyPath,
      ...options,
    }),
  );
  try {
    await server.waitForOutput(/serving NTS-KE/, 30_000);
    await waitForUdpBound(ntpPort);
    await waitForTcpPort(kePort);
  } catch (e) {
    await server.stop();
    throw e;
  }
  return { pki, ntpPort, kePort, server };
}

export interface ChronyNtsServer {
  ntpPort: number;
  kePort: number;
  chrony: Chrony;
}

/**
 * chronyd as a stratum-1 NTS server on loopback with the certificate `cert`
 * (for GUIDE_HOST), NTS-KE inside chronyd itself (no helper process to leave
 * behind), its NTS-KE port open when this resolves. The caller stops `chrony`;
 * it is stopped here when it does not come up.
 */
export async function startChronyNtsServer(cert: Issued): Promise<ChronyNtsServer> {
  const ntpPort = await freeUdpPort();
  const kePort = await freePort();
  const chrony = await startChronyServer({
    port: ntpPort,
    stratum: 1,
    extraConfig: [
      `ntsport ${kePort}`,
      `ntsserverkey ${cert.keyPath}`,
      `ntsservercert ${cert.chainPath}`,
      "ntsprocesses 0",
    ],
  });
  try {
    await waitForTcpPort(kePort);
  } catch (e) {
    await chrony.stop();
    throw e;
  }
  return { ntpPort, kePort, chrony };
}
