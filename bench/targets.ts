// The servers the bench measures, one row per (server, workload). To add a
// measurement (NTS requests, NTS-KE handshakes), add a workload driver in
// workloads.ts and targets here whose start() sets the server up for it.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startChronyServer, chronyUnavailable } from "../test/helpers/chrony.js";
import { waitForNtpServer } from "../test/helpers/ntp-probe.js";
import { freeUdpPort } from "../test/helpers/ports.js";
import { describeExit, spawnProcess } from "../test/helpers/process.js";
import type { TempDir } from "../test/helpers/tmp.js";
import type { LoadgenOptions } from "./loadgen.js";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The kinds of load the bench knows how to generate (see workloads.ts). */
export type WorkloadName = "ntp";

export interface TargetContext {
  /** A temp dir for this target's files (removed after the bench). */
  dir: TempDir;
  /** CPUs the server is pinned to (taskset -c). */
  serverCpus: string;
  /** Path of our daemon's entry file. */
  daemonEntry: string;
}

export interface RunningServer {
  pid: number;
  host: string;
  port: number;
  /** Extra load generator options for this server (e.g. NTS request templates). */
  loadOptions?: Partial<LoadgenOptions>;
  stop(): Promise<void>;
}

export interface BenchTarget {
  /** Row label, e.g. "chrony" or "ntpd-ts". */
  name: string;
  workload: WorkloadName;
  /** True for our own server (the numerator of the ratios). */
  ours: boolean;
  /** Starts the server; throws SkipTarget with a reason when it cannot be measured. */
  start(ctx: TargetContext): Promise<RunningServer>;
}

export class SkipTarget extends Error {}

const chronyNtp: BenchTarget = {
  name: "chrony",
  workload: "ntp",
  ours: false,
  async start(ctx) {
    const missing = chronyUnavailable();
    if (missing) throw new SkipTarget(missing);
    const port = await freeUdpPort();
    const c = await startChronyServer({ port, cpus: ctx.serverCpus, dir: ctx.dir });
    return { pid: c.pid, host: "127.0.0.1", port, stop: () => c.stop() };
  },
};

const OURS_START_TIMEOUT_MS = 10000;

const oursNtp: BenchTarget = {
  name: "ntpd-ts",
  workload: "ntp",
  ours: true,
  async start(ctx) {
    const entry = ctx.daemonEntry;
    if (!existsSync(entry)) throw new SkipTarget(`${entry} does not exist (yet)`);
    const port = await freeUdpPort();
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
        "[synchronization]",
        "local-stratum = 1",
        "",
      ].join("\n"),
    );
    const proc = await spawnProcess(
      process.execPath,
      ["--import", "tsx", entry, "-c", config, "--no-clock-control"],
      { cwd: repoRoot, cpus: ctx.serverCpus, name: "ntp-daemon" },
    );
    const died = new AbortController();
    void proc.exited.then((s) => died.abort(new Error(`exited (${describeExit(s)})`)));
    try {
      await waitForNtpServer(port, "127.0.0.1", OURS_START_TIMEOUT_MS, { signal: died.signal });
    } catch (e) {
      await proc.stop(2000);
      const tail = proc.output().trim().split("\n").slice(-15).join("\n");
      throw new SkipTarget(
        `${entry} did not answer NTP on 127.0.0.1:${port} within ${OURS_START_TIMEOUT_MS / 1000} s: ${(e as Error).message}${tail ? `\n--- its output:\n${tail}` : ""}`,
        { cause: e },
      );
    }
    return {
      pid: proc.pid,
      host: "127.0.0.1",
      port,
      stop: async () => {
        await proc.stop(3000);
      },
    };
  },
};

/** Every target, in table order. */
export const targets: readonly BenchTarget[] = [chronyNtp, oursNtp];

export const defaultDaemonEntry = join(repoRoot, "src/cli/ntp-daemon.ts");
