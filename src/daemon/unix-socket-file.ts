// A Unix stream socket the daemon publishes at a configured path (the
// observation socket, the control socket), with one set of rules:
//   - the directory must exist: it is not created;
//   - a path that exists and is not a socket is left alone and reported; a
//     stale socket is replaced;
//   - the socket is bound under a temporary name in the same directory, given
//     its mode (and group), and only then renamed over the path: no moment
//     where it is reachable with the umask's mode, and closing the server can
//     never delete the path (libuv unlinks the name it bound, which by then
//     could be another daemon's socket);
//   - a clean stop removes the path only if it is still the socket made here.

import { lstatSync, unlinkSync, type BigIntStats } from "node:fs";
import { chmod, chown, lstat, rename, stat, unlink } from "node:fs/promises";
import type { Server } from "node:net";
import { dirname, join } from "node:path";

export interface SocketFileOptions {
  path: string;
  /** The config key that names it, for messages ("observation-path"). */
  key: string;
  /** Part of the temporary name (.ntpd-ts-TAG-PID). */
  tag: string;
  mode: number;
  /** A group to give the socket to, or null. */
  gid?: number | null;
  /** The error the caller throws, from a message that starts with the key and path. */
  error: (message: string) => Error;
}

/** Identity of a socket file: device, inode and change time (inodes get reused). */
function fileIdentity(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.ctimeNs}`;
}

function errorCode(error: unknown): string {
  if (error && typeof error === "object" && "code" in error && typeof error.code === "string") {
    return error.code;
  }
  return String(error);
}

/**
 * Checks the path before binding: the directory exists, the path is free or a
 * socket. Resolves with whether a (stale) socket is there to be replaced.
 */
export async function checkSocketPath(o: SocketFileOptions): Promise<boolean> {
  const where = `${o.key} ${o.path}`;
  const dir = dirname(o.path);
  const st = await stat(dir).catch((error: unknown) => {
    throw o.error(
      `${where}: the directory ${dir} does not exist or cannot be read ` +
        `(${errorCode(error)}); create it first (the daemon does not)`,
    );
  });
  if (!st.isDirectory()) throw o.error(`${where}: ${dir} is not a directory`);
  const existing = await lstat(o.path).catch((error: unknown) => {
    if (errorCode(error) === "ENOENT") return null;
    throw o.error(`${where}: ${errorCode(error)}`);
  });
  if (existing === null) return false;
  if (!existing.isSocket()) throw o.error(`${where}: exists and is not a socket; not replacing it`);
  return true;
}

/**
 * Makes `server` listen at the path as the header says. Resolves with the
 * socket file's identity (for removeSocketFile); on failure closes the server,
 * removes the temporary name and throws the caller's error.
 */
export async function publishSocket(server: Server, o: SocketFileOptions): Promise<string> {
  const temporary = join(dirname(o.path), `.ntpd-ts-${o.tag}-${process.pid}`);
  await unlink(temporary).catch(() => {});
  const fail = (what: string, error: unknown): never => {
    server.close();
    try {
      unlinkSync(temporary);
    } catch {
      // Not created.
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw o.error(`${o.key} ${o.path}: ${what}: ${reason}`);
  };
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(temporary, () => {
      server.off("error", reject);
      resolve();
    });
  }).catch((error: unknown) => fail("cannot listen", error));
  await chmod(temporary, o.mode).catch((error: unknown) =>
    fail(`cannot set permissions 0o${o.mode.toString(8)}`, error),
  );
  const gid = o.gid ?? null;
  if (gid !== null) {
    await chown(temporary, -1, gid).catch((error: unknown) =>
      fail(`cannot give the socket to group ${gid}`, error),
    );
  }
  await rename(temporary, o.path).catch((error: unknown) => fail("cannot create", error));
  return fileIdentity(lstatSync(o.path, { bigint: true }));
}

/** Removes `path` if it is still the socket whose identity publishSocket gave. */
export function removeSocketFile(path: string, identity: string): void {
  try {
    const st = lstatSync(path, { bigint: true });
    if (st.isSocket() && fileIdentity(st) === identity) unlinkSync(path);
  } catch {
    // Already gone.
  }
}
