// Private network namespaces for tests that need fixed, privileged ports
// (NTPsec always binds NTP 123 and NTS-KE 4460 on every address): a
// namespace made here has only its own loopback, up, and nothing can reach
// it from outside. Processes are started in it with `ip netns exec NAME CMD`
// (ip execs CMD, so the PID we get is CMD's own), and `delete()` ends every
// process still in the namespace, by PID, before `ip netns del`. As a safety
// net, namespaces still present when the test file ends (or the process
// exits) are removed the same way.
import { execFileSync } from "node:child_process";
import { after } from "node:test";
import { isAlive, killPid, runCommand, spawnProcess, which } from "./process.js";
import type { SpawnOptions, Spawned, RunResult } from "./process.js";

const live = new Set<string>();
let counter = 0;
let exitHookInstalled = false;

export interface Netns {
  readonly name: string;
  /** `ip netns exec NAME command args...` as a tracked process. */
  spawn(command: string, args: readonly string[], opts?: SpawnOptions): Promise<Spawned>;
  /** Runs a command to completion inside the namespace (with a deadline). */
  run(
    command: string,
    args: readonly string[],
    opts?: SpawnOptions & { timeoutMs?: number },
  ): Promise<RunResult>;
  /** PIDs of the processes in the namespace now. */
  pids(): Promise<number[]>;
  /** Ends the processes left in it (SIGTERM, then SIGKILL) and deletes it. Idempotent. */
  delete(): Promise<void>;
}

/** Why namespaces cannot be made here, or undefined when `ip netns` should work. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "creating a network namespace needs root";
  if (!which("ip")) return "ip is not installed (apt-get install -y iproute2)";
  return undefined;
}

function ipArgsPids(name: string): string[] {
  return ["netns", "pids", name];
}

function parsePids(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((s) => /^\d+$/.test(s))
    .map(Number);
}

/** Synchronous last-resort removal (exit hook): kill what is left, delete. */
function sweepSync(name: string): void {
  try {
    const out = execFileSync("ip", ipArgsPids(name), { encoding: "utf8", timeout: 5000 });
    for (const pid of parsePids(out)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  } catch {
    // the namespace may be gone already
  }
  try {
    execFileSync("ip", ["netns", "del", name], { stdio: "ignore", timeout: 5000 });
  } catch {
    // best effort
  }
}

if (
  process.env.NODE_TEST_CONTEXT !== undefined ||
  /\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? "")
) {
  after(() => {
    for (const name of live) {
      console.error(`test helpers: removing leaked network namespace ${name}`);
      sweepSync(name);
    }
    live.clear();
  });
}

/**
 * Creates a namespace (name: PREFIX-PID-N) with loopback up. Throws with
 * ip's own message when that is impossible (no CAP_SYS_ADMIN, no netns
 * support in the kernel or sandbox).
 */
export async function createNetns(prefix = "ntpdts"): Promise<Netns> {
  const name = `${prefix}-${process.pid}-${++counter}`;
  const add = await runCommand("ip", ["netns", "add", name], { timeoutMs: 10_000 });
  if (add.code !== 0) {
    throw new Error(`ip netns add ${name} failed: ${add.stderr.trim() || add.stdout.trim()}`);
  }
  live.add(name);
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once("exit", () => {
      for (const n of live) sweepSync(n);
    });
  }
  let deleted = false;
  const ns: Netns = {
    name,
    spawn: (command, args, opts = {}) =>
      spawnProcess("ip", ["netns", "exec", name, command, ...args], {
        ...opts,
        name: opts.name ?? `${command} (netns ${name})`,
      }),
    run: (command, args, opts = {}) =>
      runCommand("ip", ["netns", "exec", name, command, ...args], opts),
    pids: async () => {
      const r = await runCommand("ip", ipArgsPids(name), { timeoutMs: 5000 });
      return r.code === 0 ? parsePids(r.stdout) : [];
    },
    delete: async () => {
      if (deleted) return;
      deleted = true;
      try {
        // Processes in it are ours (nothing else can enter a namespace we
        // just made): end them by PID, a few rounds in case one was starting.
        for (let round = 0; round < 3; round++) {
          const pids = (await ns.pids()).filter(isAlive);
          if (pids.length === 0) break;
          await Promise.all(pids.map((pid) => killPid(pid, 2000)));
        }
        const del = await runCommand("ip", ["netns", "del", name], { timeoutMs: 10_000 });
        if (del.code !== 0) throw new Error(`ip netns del ${name} failed: ${del.stderr.trim()}`);
      } finally {
        live.delete(name);
      }
    },
  };
  try {
    const up = await ns.run("ip", ["link", "set", "lo", "up"], { timeoutMs: 10_000 });
    if (up.code !== 0) throw new Error(`ip link set lo up in ${name} failed: ${up.stderr.trim()}`);
  } catch (e) {
    await ns.delete();
    throw e;
  }
  return ns;
}

/**
 * Whether a namespace can really be made here: undefined if yes, else the
 * precise reason (the tool's own message). Creates and deletes one.
 */
export async function netnsProbe(): Promise<string | undefined> {
  const why = netnsUnavailable();
  if (why) return why;
  try {
    const ns = await createNetns("ntpdts-probe");
    await ns.delete();
    return undefined;
  } catch (e) {
    return `network namespaces are not available here: ${(e as Error).message}`;
  }
}
