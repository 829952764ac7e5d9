// Temporary directories for tests: created 0700 under the OS temp dir and
// removed by cleanup() (and, as a safety net, when the process exits).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { trackDir, untrackDir } from "./cleanup.js";

export interface TempDir {
  /** Absolute path of the directory. */
  readonly path: string;
  /** Absolute path of `name` inside the directory. */
  file(...name: string[]): string;
  /** Removes the directory and everything in it. Safe to call twice. */
  cleanup(): Promise<void>;
}

export async function makeTempDir(prefix = "ntpd-ts-test-"): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  trackDir(path);
  return {
    path,
    file: (...name: string[]) => join(path, ...name),
    cleanup: async () => {
      await rm(path, { recursive: true, force: true });
      untrackDir(path);
    },
  };
}

/** Runs `fn` with a fresh temp dir that is removed afterwards, even on failure. */
export async function withTempDir<T>(
  fn: (dir: TempDir) => Promise<T>,
  prefix?: string,
): Promise<T> {
  const dir = await makeTempDir(prefix);
  try {
    return await fn(dir);
  } finally {
    await dir.cleanup();
  }
}
