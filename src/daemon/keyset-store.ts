// The NTS cookie key set on disk (`[keyset] key-storage-path`) and its
// rotation timer. The rules an operator relies on:
//   - a missing file is created, with a warning, from a fresh key set; so are
//     its missing directories (mode 0700). When it cannot be written at all,
//     that is a warning too and the daemon serves with the new keys: NTS
//     works, but cookies will not survive a restart;
//   - a file that exists but cannot be read or parsed is NEVER replaced: the
//     daemon refuses to start and says why, because a new key set would
//     invalidate every cookie its clients hold;
//   - writes are atomic (temporary file in the same directory, fsync, rename)
//     and the file is mode 0600; a file others can read draws a warning;
//   - a restart keeps the rotation schedule: the first rotation comes one
//     interval after the stored time, not after the restart.

import { randomBytes } from "node:crypto";
import { accessSync, constants, mkdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { KeySet } from "../proto/nts/keyset/keyset.js";
import { nextRotationDelay, parseKeySet, serializeKeySet } from "../proto/nts/keyset/storage.js";
import type { KeysetConfig } from "../proto/config/types.js";
import { writeFileAtomically } from "./atomic-file.js";
import { fsReason } from "./fs-reason.js";
import type { Logger } from "./log.js";
import type { KeysetStatus } from "./keyset-status.js";

export class KeyFileError extends Error {}

export interface LoadedKeySet {
  keyset: KeySet;
  /** Unix seconds of the last rotation (the stored time, or now for a new set). */
  rotatedAt: number;
}

const random = (n: number) => new Uint8Array(randomBytes(n));

/**
 * Loads the key set from `config.keyStoragePath`, or makes a new one when the
 * path is unset (ephemeral keys) or the file does not exist. Throws
 * KeyFileError when the file exists but is unusable.
 */
export async function loadKeySet(
  config: KeysetConfig,
  nowUnixSeconds: number,
  log: Logger,
): Promise<LoadedKeySet> {
  const path = config.keyStoragePath;
  if (path === null) {
    return { keyset: KeySet.generate(random, config.staleKeyCount), rotatedAt: nowUnixSeconds };
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // ENOTDIR: a part of the path is a file, so there is no key file to keep.
    if (code === "ENOENT" || code === "ENOTDIR") {
      log.warn("Could not load nts server keys, starting with new set", {
        path,
        reason: "the file does not exist",
      });
      const keyset = KeySet.generate(random, config.staleKeyCount);
      keyset.publishNext(random);
      createFirstKeyFile(path, keyset, nowUnixSeconds, log);
      return { keyset, rotatedAt: nowUnixSeconds };
    }
    throw new KeyFileError(
      `cannot read the NTS key file ${path}: ${fsReason(error)}; ` +
        "fix this and start again (the file is kept: replacing it would invalidate every client's cookies)",
    );
  }
  const parsed = parseKeySet(bytes, config.staleKeyCount);
  if (!parsed.ok) {
    throw new KeyFileError(
      `the NTS key file ${path} is corrupt (${parsed.error}); it was left untouched, ` +
        "because replacing it would invalidate every client's cookies. " +
        "Restore it from a backup, or delete it to start with a new key set",
    );
  }
  warnIfReadableByOthers(path, log);
  log.info("loaded nts server keys", { path, keys: parsed.keyset.size });
  return { keyset: parsed.keyset, rotatedAt: parsed.storedAt };
}

/**
 * Stores a new key set where none was: creates the missing directories (0700:
 * they hold nothing but secrets), then the file. Failing either is a warning,
 * not a reason to stop serving time.
 */
function createFirstKeyFile(path: string, keyset: KeySet, now: number, log: Logger): void {
  try {
    const created = mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (created !== undefined) {
      log.info("created the directory of the NTS key file", { directory: dirname(path) });
    }
    storeKeySet(path, keyset, now);
  } catch (error) {
    log.warn(
      "could not store the NTS keys; NTS is served, but cookies will not survive a restart",
      {
        path,
        // mkdir says EEXIST when a part of the path is a file: name that part.
        reason: keyFileLocationProblem(path) ?? fsReason(error),
      },
    );
  }
}

/**
 * What makes `path` unusable as the key file for any user, or null: a part of
 * it that is no directory, the path being a directory, a read-only file
 * system. (`ntp-ctl validate` reports it; permissions are not judged, since
 * validate and the daemon may run as different users.)
 */
export function keyFileLocationProblem(path: string): string | null {
  const kind = statKind(path);
  if (kind === "directory") return `${path} is a directory`;
  if (kind !== "missing") return null;
  let ancestor = dirname(path);
  for (;;) {
    const ancestorKind = statKind(ancestor);
    if (ancestorKind === "other") return `${ancestor} is not a directory`;
    if (ancestorKind === "directory") break;
    const parent = dirname(ancestor);
    if (parent === ancestor) return null;
    ancestor = parent;
  }
  try {
    accessSync(ancestor, constants.W_OK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EROFS") {
      return `${ancestor} is on a read-only file system`;
    }
  }
  return null;
}

function statKind(path: string): "missing" | "directory" | "other" {
  try {
    return statSync(path).isDirectory() ? "directory" : "other";
  } catch {
    return "missing";
  }
}

/** Writes the key file atomically with mode 0600. Throws on failure. */
export function storeKeySet(path: string, keyset: KeySet, storedAtUnixSeconds: number): void {
  const bytes = serializeKeySet(keyset, storedAtUnixSeconds);
  try {
    writeFileAtomically(path, bytes, 0o600);
  } finally {
    bytes.fill(0);
  }
}

function warnIfReadableByOthers(path: string, log: Logger): void {
  try {
    const mode = statSync(path).mode & 0o777;
    if ((mode & 0o077) !== 0) {
      log.warn("the NTS key file can be read or written by others; it holds the cookie keys", {
        path,
        mode: `0${mode.toString(8)}`,
        fix: `chmod 600 ${path}`,
      });
    }
  } catch {
    // It was just read; a stat failure here changes nothing.
  }
}

/**
 * Rotates the key set every `key-rotation-interval` seconds, the first time
 * one interval after `rotatedAt`, and stores it after each rotation. The set
 * always holds the key the next rotation makes primary (KeySet.publishNext),
 * so the stored file announces every key one interval before its first
 * cookie: what lets followers (KeySetFollower) accept it in time. A failed
 * store is logged and the rotated keys stay in use.
 */
export class KeySetRotation {
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners: ((keyset: KeySet) => void)[] = [];
  private readonly stats = { storeFailures: 0 };

  constructor(
    private readonly loaded: LoadedKeySet,
    private readonly config: KeysetConfig,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {
    if (!loaded.keyset.hasNext) {
      // A set from before publishing ahead, or a new one: announce the next
      // key now, keeping the stored time (the rotation schedule) as it was.
      loaded.keyset.publishNext(random);
      this.store("could not store the NTS keys with the next key published");
    }
  }

  get keyset(): KeySet {
    return this.loaded.keyset;
  }

  /** What the observation shows of the key set. */
  status(): KeysetStatus {
    return {
      role: "primary",
      primaryKeyId: this.loaded.keyset.primaryId,
      keys: this.loaded.keyset.size,
      storedAt: Math.floor(this.loaded.rotatedAt),
      reloads: 0,
      fileErrors: this.stats.storeFailures,
      late: false,
    };
  }

  start(): void {
    const delay = nextRotationDelay(
      this.loaded.rotatedAt,
      this.now(),
      this.config.keyRotationInterval,
    );
    this.schedule(delay);
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Calls `listener` after every rotation (serving threads get the new set this way). */
  onRotate(listener: (keyset: KeySet) => void): void {
    this.listeners.push(listener);
  }

  /** Rotates now; exposed for tests and the timer. */
  rotate(): void {
    this.loaded.keyset.rotate(random);
    this.loaded.keyset.publishNext(random);
    this.loaded.rotatedAt = this.now();
    this.store("could not store the rotated NTS keys");
    this.log.info("rotated nts server keys", { primary_id: this.loaded.keyset.primaryId });
    for (const listener of this.listeners) listener(this.loaded.keyset);
  }

  private store(failure: string): void {
    const path = this.config.keyStoragePath;
    if (path === null) return;
    try {
      storeKeySet(path, this.loaded.keyset, this.loaded.rotatedAt);
    } catch (error) {
      this.stats.storeFailures++;
      this.log.error(failure, { path, reason: fsReason(error) });
    }
  }

  private schedule(delaySeconds: number): void {
    // setTimeout takes at most 2^31-1 ms (24.8 days); longer waits are chained.
    const ms = Math.min(delaySeconds * 1000, 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      const remaining = delaySeconds - ms / 1000;
      if (remaining > 0) {
        this.schedule(remaining);
        return;
      }
      this.rotate();
      this.schedule(this.config.keyRotationInterval);
    }, ms);
    this.timer.unref();
  }
}
