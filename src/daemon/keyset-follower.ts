// `[keyset] role = "follower"`: the key set of a daemon in a fleet
// (docs/nts-fleet.md), read from the file another daemon, the primary,
// rotates and stores, carried here by whatever the operator uses (a
// Kubernetes Secret volume, Vault Agent, configuration management, a shared
// disk). The rules:
//   - a follower never writes the file and never rotates;
//   - it takes the file again when it changes: at once when the directory
//     reports a change (a rename, as both the primary's atomic store and a
//     Secret volume's symlink swap are), and at the latest one poll period
//     later (for file systems that report nothing);
//   - a read that is not a whole, valid key file (a half-written copy, a
//     corrupt or missing file) changes nothing: the keys it has stay in use,
//     it warns once per problem and counts it;
//   - the primary publishes every key one rotation interval before sealing
//     a cookie with it (KeySetRotation), so a follower that is less than one
//     interval behind knows every key its clients present. A file older than
//     `lateAfter` draws a warning and `late` in the observation: once it is
//     two intervals old, clients start presenting keys the follower has not
//     seen.
// At start the file must be there and valid: without the fleet's keys a
// follower would hand out cookies nobody else accepts, or reject every one.

import { watch, type FSWatcher } from "node:fs";
import { readFile, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { KeysetConfig } from "../proto/config/types.js";
import type { KeySet } from "../proto/nts/keyset/keyset.js";
import { parseKeySet } from "../proto/nts/keyset/storage.js";
import { fsReason } from "./fs-reason.js";
import { KeyFileError } from "./keyset-store.js";
import type { KeysetStatus } from "./keyset-status.js";
import type { Logger } from "./log.js";

/** Longest wait between two looks at the file when the directory reports nothing. */
const MAX_POLL_SECONDS = 60;
/** Shortest: a key-rotation-interval of a few seconds (tests) polls every second. */
const MIN_POLL_SECONDS = 1;

/** How often a follower looks at the file: a quarter interval, within 1 s and 60 s. */
export function followerPollSeconds(rotationInterval: number): number {
  return Math.min(MAX_POLL_SECONDS, Math.max(MIN_POLL_SECONDS, rotationInterval / 4));
}

/**
 * Age of the key file (seconds since the rotation it stores) past which a
 * follower warns: one interval, the primary's next store, plus a quarter
 * interval for the distribution to carry it.
 */
export function lateAfterSeconds(rotationInterval: number): number {
  return rotationInterval * 1.25;
}

interface FileIdentity {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

function sameFile(a: FileIdentity | null, b: FileIdentity | null): boolean {
  return (
    a !== null &&
    b !== null &&
    a.dev === b.dev &&
    a.ino === b.ino &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs
  );
}

async function identify(path: string): Promise<FileIdentity> {
  // stat follows symlinks: a Secret volume's swap changes what the path resolves to.
  const s = await stat(path);
  return { dev: s.dev, ino: s.ino, size: s.size, mtimeMs: s.mtimeMs, ctimeMs: s.ctimeMs };
}

type ReadResult =
  | { ok: true; keyset: KeySet; storedAt: number; identity: FileIdentity }
  | { ok: false; reason: string };

/** One consistent read: the file did not change while it was read, and it parses. */
async function readWhole(path: string, staleKeyCount: number): Promise<ReadResult> {
  let before: FileIdentity;
  let bytes: Uint8Array;
  try {
    before = await identify(path);
    bytes = await readFile(path);
  } catch (error) {
    return { ok: false, reason: fsReason(error) };
  }
  try {
    const after = await identify(path).catch(() => null);
    if (!sameFile(before, after)) {
      return { ok: false, reason: "the file changed while it was read" };
    }
    const parsed = parseKeySet(bytes, staleKeyCount);
    if (!parsed.ok) return { ok: false, reason: parsed.error };
    return { ok: true, keyset: parsed.keyset, storedAt: parsed.storedAt, identity: before };
  } finally {
    bytes.fill(0);
  }
}

export class KeySetFollower {
  private timer: NodeJS.Timeout | null = null;
  private watcher: FSWatcher | null = null;
  private readonly listeners: ((keyset: KeySet) => void)[] = [];
  private checking: Promise<void> | null = null;
  private again = false;
  private lastProblem: string | null = null;
  private warnedLate = false;
  private reloads = 0;
  private fileErrors = 0;

  private constructor(
    private current: KeySet,
    private storedAt: number,
    private identity: FileIdentity,
    private readonly path: string,
    private readonly config: KeysetConfig,
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /**
   * Reads the key file a follower starts with. Throws KeyFileError when it is
   * missing, unreadable or not a valid key file (it is never created here).
   */
  static async load(config: KeysetConfig, now: () => number, log: Logger): Promise<KeySetFollower> {
    const path = config.keyStoragePath;
    if (path === null) throw new KeyFileError('[keyset] role = "follower" needs key-storage-path');
    const read = await readWhole(path, config.staleKeyCount);
    if (!read.ok) {
      throw new KeyFileError(
        `cannot load the NTS key file ${path} this follower shares with the primary: ${read.reason}; ` +
          "a follower never makes keys of its own, because the other servers of the fleet would reject its cookies",
      );
    }
    log.info("loaded nts server keys from the primary's key file", {
      path,
      keys: read.keyset.size,
      primary_id: read.keyset.primaryId,
    });
    const follower = new KeySetFollower(
      read.keyset,
      read.storedAt,
      read.identity,
      path,
      config,
      now,
      log,
    );
    follower.checkLate();
    return follower;
  }

  get keyset(): KeySet {
    return this.current;
  }

  /** Calls `listener` with every key set taken from a changed file (serving threads get it so). */
  onRotate(listener: (keyset: KeySet) => void): void {
    this.listeners.push(listener);
  }

  status(): KeysetStatus {
    return {
      role: "follower",
      primaryKeyId: this.current.primaryId,
      keys: this.current.size,
      storedAt: this.storedAt,
      reloads: this.reloads,
      fileErrors: this.fileErrors,
      late: this.isLate(),
    };
  }

  start(): void {
    const pollMs = followerPollSeconds(this.config.keyRotationInterval) * 1000;
    this.timer = setInterval(() => void this.check(), pollMs);
    this.timer.unref();
    try {
      // The directory, not the file: a rename over the file (the primary's
      // store, a Secret's `..data` swap) replaces the inode a file watch holds.
      const name = basename(this.path);
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, changed) => {
        if (changed === null || changed === name || changed.startsWith("..")) void this.check();
      });
      this.watcher.on("error", () => {
        // The directory went away or cannot be watched any more: polling goes on.
        this.watcher?.close();
        this.watcher = null;
      });
    } catch (error) {
      this.log.info("cannot watch the key file's directory; polling it instead", {
        path: this.path,
        every_s: pollMs / 1000,
        reason: fsReason(error),
      });
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.watcher?.close();
    this.watcher = null;
  }

  /**
   * Looks at the file now and takes it when it changed and is whole and
   * valid. Checks asked for while one runs are merged into one more run.
   */
  check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = (async () => {
      do {
        this.again = false;
        await this.checkOnce();
      } while (this.again);
    })().finally(() => {
      this.checking = null;
    });
    return this.checking;
  }

  private async checkOnce(): Promise<void> {
    let identity: FileIdentity;
    try {
      identity = await identify(this.path);
    } catch (error) {
      this.problem(fsReason(error));
      this.checkLate();
      return;
    }
    if (sameFile(identity, this.identity)) {
      this.checkLate();
      return;
    }
    const read = await readWhole(this.path, this.config.staleKeyCount);
    if (!read.ok) {
      this.problem(read.reason);
      this.checkLate();
      return;
    }
    this.take(read.keyset, read.storedAt, read.identity);
    this.checkLate();
  }

  private take(keyset: KeySet, storedAt: number, identity: FileIdentity): void {
    const previous = this.current;
    this.current = keyset;
    this.storedAt = storedAt;
    this.identity = identity;
    this.reloads++;
    if (this.lastProblem !== null) {
      this.log.info("the NTS key file is usable again", { path: this.path });
      this.lastProblem = null;
    }
    this.log.info("took the primary's rotated nts server keys", {
      path: this.path,
      keys: keyset.size,
      primary_id: keyset.primaryId,
    });
    if (!keyset.ids().includes(previous.primaryId)) {
      this.log.warn(
        "the new key file no longer holds the key this server sealed its cookies with: " +
          "its clients need a new key exchange (was the file replaced by an older or another fleet's?)",
        { path: this.path, previous_primary_id: previous.primaryId },
      );
    }
    for (const listener of this.listeners) listener(keyset);
    previous.dispose();
  }

  private problem(reason: string): void {
    this.fileErrors++;
    if (reason === this.lastProblem) return;
    this.lastProblem = reason;
    this.log.warn("cannot use the NTS key file; serving on with the keys already loaded", {
      path: this.path,
      reason,
      primary_id: this.current.primaryId,
    });
  }

  private isLate(): boolean {
    return this.now() - this.storedAt > lateAfterSeconds(this.config.keyRotationInterval);
  }

  private checkLate(): void {
    const late = this.isLate();
    if (late && !this.warnedLate) {
      this.log.warn(
        "the NTS key file is late: the primary has not stored a rotation for longer than " +
          "key-rotation-interval; clients will present keys this server does not know once it is two intervals old",
        {
          path: this.path,
          age_s: Math.round(this.now() - this.storedAt),
          key_rotation_interval_s: this.config.keyRotationInterval,
        },
      );
    }
    this.warnedLate = late;
  }
}
