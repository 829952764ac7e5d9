// The servers the bench measures. Each is started once, pinned to the server
// CPU, and serves every selected workload (workloads.ts): plain NTP, and,
// when an NTS workload is selected, NTS-protected NTP and NTS-KE on a TCP
// port of its own, with a certificate from a throw-away PKI (nts.ts).
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startChronyServer, chronyUnavailable } from "../test/helpers/chrony.js";
import { waitForNtpServer } from "../test/helpers/ntp-probe.js";
import { freeTcpPort, freeUdpPort } from "../test/helpers/ports.js";
import { describeExit, spawnProcess } from "../test/helpers/process.js";
import type { TempDir } from "../test/helpers/tmp.js";
import { waitForTcpPort } from "../test/helpers/wait.js";
import { buildGnuTlsFloor } from "./gnutls-floor.js";
import { buildKeFloor } from "./ke-floor.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The kinds of load the bench knows how to generate (see workloads.ts), in table order. */
export const workloadNames = ["ntp", "nts", "nts-ke"] as const;
export type WorkloadName = (typeof workloadNames)[number];

/** What an NTS server needs: its certificate chain and key (PEM). */
export interface NtsCredentials {
  chainPath: string;
  keyPath: string;
}

export interface TargetContext {
  /** A temp dir for this target's files (removed after the bench). */
  dir: TempDir;
  /** CPUs the server is pinned to (taskset -c). */
  serverCpus: string;
  /** Path of our daemon's entry file. */
  daemonEntry: string;
  /** Serve NTS too (NTS-KE on a TCP port of its own) with these credentials. */
  nts?: NtsCredentials;
  /** Our daemon's `[daemon] server-threads` (unset: its default); ignored by others. */
  serverThreads?: number;
  /** Extra node options for our daemon (e.g. --cpu-prof); ignored by others. */
  nodeOptions?: readonly string[];
  /** The node binary for our daemon (default: the one running the bench). */
  nodeBinary?: string;
}

export interface RunningServer {
  pid: number;
  host: string;
  /** UDP port of NTP (plain and NTS). */
  port: number;
  /** TCP port of NTS-KE (with ctx.nts). */
  kePort?: number;
  stop(): Promise<void>;
}

export interface BenchTarget {
  /** Row label, e.g. "chrony" or "ntpd-ts". */
  name: string;
  /** True for our own server (the numerator of the ratios). */
  ours: boolean;
  /** Measured only when named in --targets. */
  optIn?: boolean;
  /** The workloads it serves (default: all). */
  workloads?: readonly WorkloadName[];
  /** Starts the server; throws SkipTarget with a reason when it cannot be measured. */
  start(ctx: TargetContext): Promise<RunningServer>;
}

export class SkipTarget extends Error {}

const chrony: BenchTarget = {
  name: "chrony",
  ours: false,
  async start(ctx) {
    const missing = chronyUnavailable();
    if (missing) throw new SkipTarget(missing);
    const port = await freeUdpPort();
    const kePort = ctx.nts ? await freeTcpPort() : undefined;
    const extraConfig = ctx.nts
      ? [
          `ntsport ${kePort}`,
          `ntsserverkey ${ctx.nts.keyPath}`,
          `ntsservercert ${ctx.nts.chainPath}`,
          // NTS-KE in chronyd itself (no helper process): one process on one
          // core, whose CPU time is all we measure.
          "ntsprocesses 0",
        ]
      : [];
    const c = await startChronyServer({ port, cpus: ctx.serverCpus, dir: ctx.dir, extraConfig });
    try {
      if (kePort !== undefined) await waitForTcpPort(kePort);
    } catch (e) {
      const log = await c.log();
      await c.stop();
      throw new Error(`chronyd did not serve NTS-KE: ${(e as Error).message}\nlog:\n${log}`, {
        cause: e,
      });
    }
    return { pid: c.pid, host: "127.0.0.1", port, kePort, stop: () => c.stop() };
  },
};

const OURS_START_TIMEOUT_MS = 10000;

const ours: BenchTarget = {
  name: "ntpd-ts",
  ours: true,
  async start(ctx) {
    const entry = ctx.daemonEntry;
    if (!existsSync(entry)) throw new SkipTarget(`${entry} does not exist (yet)`);
    const port = await freeUdpPort();
    const kePort = ctx.nts ? await freeTcpPort() : undefined;
    const config = ctx.dir.file("ntp.toml");
    await writeFile(
      config,
      [
        "[observability]",
        'log-level = "warn"',
        "",
        "[[server]]",
        `listen = "127.0.0.1:${port}"`,
        "",
        ...(ctx.nts
          ? [
              "[[nts-ke-server]]",
              `listen = "127.0.0.1:${kePort}"`,
              `certificate-chain-path = "${ctx.nts.chainPath}"`,
              `private-key-path = "${ctx.nts.keyPath}"`,
              `ntp-port = ${port}`,
              "",
            ]
          : []),
        "[synchronization]",
        "local-stratum = 1",
        "",
        ...(ctx.serverThreads === undefined
          ? []
          : ["[daemon]", `server-threads = ${ctx.serverThreads}`, ""]),
      ].join("\n"),
    );
    const proc = await spawnProcess(
      ctx.nodeBinary ?? process.execPath,
      [...(ctx.nodeOptions ?? []), ...tsLoader(entry), entry, "-c", config, "--no-clock-control"],
      { cwd: repoRoot, cpus: ctx.serverCpus, name: "ntp-daemon" },
    );
    const died = new AbortController();
    void proc.exited.then((s) => died.abort(new Error(`exited (${describeExit(s)})`)));
    try {
      await waitForNtpServer(port, "127.0.0.1", OURS_START_TIMEOUT_MS, { signal: died.signal });
      if (kePort !== undefined) await waitForTcpPort(kePort, "127.0.0.1", OURS_START_TIMEOUT_MS);
    } catch (e) {
      await proc.stop(2000);
      const tail = proc.output().trim().split("\n").slice(-15).join("\n");
      throw new SkipTarget(
        `${entry} did not answer NTP on 127.0.0.1:${port}${kePort === undefined ? "" : ` and NTS-KE on TCP ${kePort}`} within ${OURS_START_TIMEOUT_MS / 1000} s: ${(e as Error).message}${tail ? `\n--- its output:\n${tail}` : ""}`,
        { cause: e },
      );
    }
    return {
      pid: proc.pid,
      host: "127.0.0.1",
      port,
      kePort,
      stop: async () => {
        await proc.stop(3000);
      },
    };
  },
};

/**
 * A bare serial NTS-KE-shaped server in C (`build` compiles it): what its TLS
 * library alone costs per exchange; NTS-KE only.
 */
function floorTarget(
  name: string,
  build: () => Promise<{ bin: string } | { error: string }>,
): BenchTarget {
  return {
    name,
    ours: false,
    optIn: true,
    workloads: ["nts-ke"],
    async start(ctx) {
      if (!ctx.nts) throw new SkipTarget("serves NTS-KE only");
      const built = await build();
      if ("error" in built) throw new SkipTarget(built.error);
      const kePort = await freeTcpPort();
      const proc = await spawnProcess(
        built.bin,
        ["--port", String(kePort), "--chain", ctx.nts.chainPath, "--key", ctx.nts.keyPath],
        { cpus: ctx.serverCpus, name },
      );
      try {
        await waitForTcpPort(kePort);
      } catch (e) {
        await proc.stop(1000);
        throw new Error(`${name} did not listen: ${(e as Error).message}\n${proc.output()}`, {
          cause: e,
        });
      }
      return {
        pid: proc.pid,
        host: "127.0.0.1",
        port: 0,
        kePort,
        stop: async () => {
          await proc.stop(1000);
        },
      };
    },
  };
}

/** OpenSSL's handshake cost alone: bench/ke-floor.c (see ke-floor.ts). */
const openSslFloor = floorTarget("openssl-floor", buildKeFloor);

/** GnuTLS's (chrony's library) handshake cost alone: bench/gnutls-floor.c (see gnutls-floor.ts). */
const gnuTlsFloor = floorTarget("gnutls-floor", buildGnuTlsFloor);

/** Every target, in table order. */
export const targets: readonly BenchTarget[] = [chrony, ours, openSslFloor, gnuTlsFloor];

/** The daemon as it ships (bin/ → dist/; the bench builds dist/ first, dist.ts). */
export const defaultDaemonEntry = join(repoRoot, "bin/ntp-daemon.js");

/** Node options to run `entry`: a TypeScript source needs the tsx loader, compiled JavaScript nothing. */
function tsLoader(entry: string): string[] {
  return entry.endsWith(".ts") ? ["--import", "tsx"] : [];
}
