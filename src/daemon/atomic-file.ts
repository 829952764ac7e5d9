// Replacing a file so that a crash, a full disk or a failed write leaves the
// old file whole: a temporary file beside it (same file system, so the rename
// is atomic), written and fsynced, then renamed over it. The NTS key file and
// the drift file are written this way.

import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` to `path` atomically, the new file with `mode`. Throws the
 * file system's error; the temporary file is removed then.
 */
export function writeFileAtomically(path: string, data: string | Uint8Array, mode: number): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    const fd = openSync(temporary, "w", mode);
    try {
      if (typeof data === "string") writeSync(fd, data);
      else writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, path);
  } catch (error) {
    try {
      unlinkSync(temporary);
    } catch {
      // Nothing was created, or it is gone already.
    }
    throw error;
  }
}
