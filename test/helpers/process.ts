// Spawning processes for tests with captured output, and stopping them by PID
// (SIGTERM, then SIGKILL after a grace period). Every spawned process is also
// registered with the exit-time safety net in cleanup.ts.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { trackPid, untrackPid } from "./cleanup.js";
import { matchLine, orTimeout, sleep, waitForText } from "./wait.js";

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  cwd?: string;
  /** Environment (default: this process's environment). */
  env?: NodeJS.ProcessEnv;
  /** Name used in error messages (default: the command). */
  name?: string;
  /** Pin the process to these CPUs with `taskset -c` (e.g. "0" or "0,1"). */
  cpus?: string;
  /** Keep at most this many bytes of each of stdout and stderr (default 1 MiB, the tail). */
  maxOutputBytes?: number;
}

export interface Spawned {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** stdout and stderr as received, interleaved. */
  output(): string;
  stdout(): string;
  stderr(): string;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitStatus>;
  /** Resolves when the process has exited and its stdout/stderr are closed. */
  readonly closed: Promise<void>;
  /** The exit status if the process has exited, else undefined. */
  exitStatus(): ExitStatus | undefined;
  /** Waits until a line of the output matches; throws on timeout or if the process exits first. */
  waitForOutput(pattern: RegExp | string, timeoutMs: number): Promise<string>;
  /** SIGTERM, then SIGKILL after graceMs (default 3000); resolves when it has exited. */
  stop(graceMs?: number): Promise<ExitStatus>;
}

class Capture {
  private chunks: string[] = [];
  private size = 0;
  constructor(private readonly max: number) {}
  push(s: string): void {
    this.chunks.push(s);
    this.size += s.length;
    if (this.size > this.max * 2) {
      const all = this.chunks.join("").slice(-this.max);
      this.chunks = [all];
      this.size = all.length;
    }
  }
  text(): string {
    return this.chunks.join("").slice(-this.max);
  }
}

/**
 * Starts `command args...` with stdin closed and stdout/stderr captured.
 * Resolves once the process has been spawned; rejects if it could not be
 * (e.g. ENOENT).
 */
export function spawnProcess(
  command: string,
  args: readonly string[],
  opts: SpawnOptions = {},
): Promise<Spawned> {
  const name = opts.name ?? command;
  const max = opts.maxOutputBytes ?? 1 << 20;
  const [cmd, argv] =
    opts.cpus !== undefined
      ? ["taskset", ["-c", opts.cpus, command, ...args]]
      : [command, [...args]];
  const child = spawn(cmd, argv, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out = new Capture(max);
  const err = new Capture(max);
  const all = new Capture(max * 2);
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stdout.on("data", (s: string) => {
    out.push(s);
    all.push(s);
  });
  child.stderr.on("data", (s: string) => {
    err.push(s);
    all.push(s);
  });
  const closed = new Promise<void>((resolve) => child.once("close", () => resolve()));
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once("exit", (code, signal) => {
      status = { code, signal };
      if (child.pid !== undefined) untrackPid(child.pid);
      resolve(status);
    });
  });

  const closedOrSoon = () => orTimeout(closed, 200, undefined);

  return new Promise<Spawned>((resolve, reject) => {
    child.once("error", (e) => {
      if (child.pid === undefined) reject(new Error(`${name}: could not start: ${e.message}`));
    });
    child.once("spawn", () => {
      const pid = child.pid!;
      trackPid(pid);
      const spawned: Spawned = {
        name,
        pid,
        child,
        output: () => all.text(),
        stdout: () => out.text(),
        stderr: () => err.text(),
        exited,
        closed,
        exitStatus: () => status,
        waitForOutput: async (pattern, timeoutMs) => {
          const ac = new AbortController();
          void exited.then((s) =>
            ac.abort(
              new Error(
                `${name} exited (${describeExit(s)}) before printing ${String(pattern)}; output:\n${all.text()}`,
              ),
            ),
          );
          // One last look after exit: the line may have arrived with the exit.
          try {
            return await waitForText(
              () => all.text(),
              pattern,
              timeoutMs,
              `${name}'s output`,
              ac.signal,
            );
          } catch (e) {
            await closedOrSoon();
            const line = matchLine(all.text(), pattern);
            if (line !== undefined) return line;
            throw e;
          }
        },
        stop: async (graceMs = 3000) => {
          if (status) return status;
          await killPid(pid, graceMs);
          // The 'exit' event follows the reaping closely; bound the wait anyway.
          const unknown: ExitStatus = { code: null, signal: null };
          return orTimeout(exited, 2000, unknown);
        },
      };
      resolve(spawned);
    });
  });
}

export function describeExit(s: ExitStatus): string {
  return s.signal ? `signal ${s.signal}` : `code ${s.code}`;
}

/** True if `pid` exists and is not a zombie. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // "PID (comm) STATE ..." — comm may contain spaces and parentheses.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/**
 * Stops a process by PID: SIGTERM, wait up to graceMs for it to go, then
 * SIGKILL and wait up to 2 s more. Resolves true if it is gone.
 */
export async function killPid(pid: number, graceMs = 3000): Promise<boolean> {
  if (!isAlive(pid)) return true;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return true;
  }
  const termDeadline = Date.now() + graceMs;
  while (Date.now() < termDeadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return true;
  }
  const killDeadline = Date.now() + 2000;
  while (Date.now() < killDeadline) {
    if (!isAlive(pid)) return true;
    await sleep(20);
  }
  return !isAlive(pid);
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
  /** True if the deadline passed and the process was killed. */
  timedOut: boolean;
}

/** Runs a command to completion with a deadline (it is killed when the deadline passes). */
export async function runCommand(
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { timeoutMs?: number } = {},
): Promise<RunResult> {
  const p = await spawnProcess(command, args, opts);
  const first = await orTimeout(p.exited, opts.timeoutMs ?? 10000, "timeout" as const);
  let timedOut = false;
  let status: ExitStatus;
  if (first === "timeout") {
    timedOut = true;
    status = await p.stop(500);
  } else {
    status = first;
  }
  // Let the pipes drain after exit (bounded: a grandchild may hold them open).
  await orTimeout(p.closed, 1000, undefined);
  return { ...status, stdout: p.stdout(), stderr: p.stderr(), timedOut };
}

/** Absolute path of `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  const dirs = (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(":");
  for (const d of [...dirs, "/usr/sbin", "/sbin"]) {
    const p = `${d}/${name}`;
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}
