// A last-resort safety net for integration tests: every process and temp dir a
// helper creates is registered here, and whatever is still alive or present
// at the end is killed (SIGKILL, by PID) or removed — after the last test of a
// node:test file (a leaked child would otherwise keep the file's process
// alive until the runner's timeout), and again when the process exits. Tests
// should still clean up themselves (t.after / finally); this only catches
// crashes and forgotten handles, and says so on stderr.
import { rmSync } from "node:fs";
import { after } from "node:test";

const pids = new Set<number>();
const dirs = new Set<string>();
let installed = false;

function sweep(warn: boolean): void {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
      if (warn) console.error(`test helpers: killed leaked process ${pid}`);
    } catch {
      // already gone
    }
  }
  pids.clear();
  for (const dir of dirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
      if (warn) console.error(`test helpers: removed leaked temp dir ${dir}`);
    } catch {
      // best effort
    }
  }
  dirs.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", () => sweep(false));
}

// Under node:test (a file run by `node --test`, or a *.test.ts run directly),
// sweep after the file's last test. Registered at import time, so it is a hook
// of the file's root test.
if (
  process.env.NODE_TEST_CONTEXT !== undefined ||
  /\.test\.[cm]?[jt]s$/.test(process.argv[1] ?? "")
) {
  after(() => sweep(true));
}

export function trackPid(pid: number): void {
  install();
  pids.add(pid);
}

export function untrackPid(pid: number): void {
  pids.delete(pid);
}

export function trackDir(dir: string): void {
  install();
  dirs.add(dir);
}

export function untrackDir(dir: string): void {
  dirs.delete(dir);
}
