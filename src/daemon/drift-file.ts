// Reads and writes `[synchronization] drift-file` (src/proto/system/drift.ts has
// the format). Reading: a missing file is the first run; a corrupt one is
// reported with its line and ignored, never deleted (an operator may want to see
// it). Writing: a temporary file beside it, then a rename, so that a crash or a
// full disk leaves the old file whole; 0644 (a frequency is no secret).

import { accessSync, constants, statSync } from "node:fs";
import { dirname } from "node:path";
import {
  formatDriftFile,
  MAX_DRIFT_FILE_BYTES,
  parseDriftFile,
  type DriftRecord,
} from "../proto/system/drift.js";
import { writeFileAtomically } from "./atomic-file.js";
import { fsReason } from "./fs-reason.js";
import { readBounded } from "./leap-file.js";

export type DriftReadOutcome =
  { kind: "ok"; record: DriftRecord } | { kind: "missing" } | { kind: "bad"; problem: string };

export function readDriftFile(path: string): DriftReadOutcome {
  let bytes: Buffer;
  try {
    bytes = readBounded(path, MAX_DRIFT_FILE_BYTES + 1);
  } catch (error) {
    if ((error as { code?: unknown }).code === "ENOENT") return { kind: "missing" };
    return { kind: "bad", problem: `drift file ${path}: ${fsReason(error)}; not used` };
  }
  const parsed = parseDriftFile(bytes.toString("latin1"));
  if (!parsed.ok) {
    const where = parsed.line === null ? path : `${path}:${parsed.line}`;
    return { kind: "bad", problem: `drift file ${where}: ${parsed.error}; ignored (not deleted)` };
  }
  return { kind: "ok", record: parsed.record };
}

/** Writes `record` atomically; throws an Error with the reason in words. */
export function writeDriftFile(path: string, record: DriftRecord): void {
  try {
    writeFileAtomically(path, formatDriftFile(record), 0o644);
  } catch (error) {
    throw new Error(`cannot write drift file ${path}: ${fsReason(error)}`, { cause: error });
  }
}

/**
 * For `ntp-ctl validate`: why the daemon could not keep its drift file at `path`
 * (its directory missing or not writable by this user, which should be the
 * daemon's; an existing file corrupt), or null.
 */
export function driftFileLocationProblem(path: string): string | null {
  const directory = dirname(path);
  try {
    if (!statSync(directory).isDirectory()) return `${directory} is not a directory`;
  } catch (error) {
    return `its directory ${directory}: ${fsReason(error)}`;
  }
  try {
    accessSync(directory, constants.W_OK);
  } catch (error) {
    return `its directory ${directory} is not writable by this user: ${fsReason(error)}`;
  }
  const existing = readDriftFile(path);
  return existing.kind === "bad" ? existing.problem : null;
}
