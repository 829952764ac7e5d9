// The scenario's reference servers, run in a process of their own
// (reference-process.ts): honest ones on 127.0.0.11, .12, ... then the
// falsetickers, each on its own loopback address (Linux routes all of
// 127.0.0.0/8 to lo, and both daemons accept such sources).
//
// The process is given a real-time priority (SCHED_FIFO, every thread) when
// the bench may (root, or CAP_SYS_NICE): on a machine with two cores shared by
// two daemons, a capture and the bench, a reference at normal priority
// measured 0.6–3 ms late on the wire at p99 (preempted between its scheduled
// instant and the send), noise both daemons took for path delay. It blocks
// the CPU for at most 0.3 ms a reply (server.ts, atMono).
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { spawnProcess } from "../../test/helpers/process.js";
import type { TempDir } from "../../test/helpers/tmp.js";
import type { ReferenceProcessConfig, ReferenceProcessResult } from "./reference-process.js";
import { referenceClock, type Scenario } from "./scenarios.js";
import type { TimeBase } from "./server.js";

const ENTRY = new URL("./reference-process.ts", import.meta.url).pathname;

/** SCHED_FIFO priority of the reference servers' threads. */
export const REFERENCE_RT_PRIORITY = 20;

export interface References {
  servers: { address: string; port: number; error: number }[];
  /** Why the servers run at normal priority, or null when they run at REFERENCE_RT_PRIORITY. */
  normalPriority: string | null;
  /** The falsetickers' addresses. */
  falseAddresses: string[];
  /** Stops the servers and returns what they did. */
  finish(): Promise<ReferenceProcessResult>;
  /** Stops them without a result (idempotent). */
  stop(): Promise<void>;
}

export async function startReferences(
  s: Scenario,
  duration: number,
  base: TimeBase,
  seed: number,
  dir: TempDir,
): Promise<References> {
  const clock = referenceClock(s, duration);
  const errors = [...Array<number>(s.honest).fill(0), ...s.falsetickers];
  const config: ReferenceProcessConfig = {
    base: base.toJSON(),
    servers: errors.map((error, i) => ({
      address: `127.0.0.${11 + i}`,
      clock,
      path: s.path,
      error,
      seed: seed * 1000 + i,
    })),
    resultPath: dir.file("references.json"),
  };
  const proc = await spawnProcess(
    process.execPath,
    ["--import", "tsx", ENTRY, JSON.stringify(config)],
    { name: "reference servers" },
  );
  let line: string;
  try {
    line = await proc.waitForOutput(/^READY /, 30_000);
  } catch (e) {
    await proc.stop(1000);
    throw new Error(`the reference servers did not start: ${proc.output()}`, { cause: e });
  }
  const { ports } = JSON.parse(line.slice(line.indexOf(" ") + 1)) as { ports: number[] };
  const normalPriority = raisePriority(proc.pid);
  const servers = config.servers.map((c, i) => ({
    address: c.address,
    port: ports[i]!,
    error: c.error,
  }));
  return {
    servers,
    normalPriority,
    falseAddresses: servers.filter((r) => r.error !== 0).map((r) => r.address),
    async finish() {
      const status = await proc.stop(5000);
      if (status.code !== 0) {
        throw new Error(
          `the reference servers failed (${JSON.stringify(status)}): ${proc.output()}`,
        );
      }
      return JSON.parse(await readFile(config.resultPath, "utf8")) as ReferenceProcessResult;
    },
    async stop() {
      await proc.stop(1000);
    },
  };
}

/** Puts every thread of `pid` under SCHED_FIFO; null when done, else why not. */
function raisePriority(pid: number): string | null {
  const r = spawnSync("chrt", ["-a", "-f", "-p", String(REFERENCE_RT_PRIORITY), String(pid)], {
    encoding: "utf8",
  });
  if (r.error) return `chrt: ${r.error.message}`;
  if (r.status !== 0) return `chrt: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}`;
  return null;
}
