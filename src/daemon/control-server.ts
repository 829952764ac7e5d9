// The control socket (`[observability] control-path`, an ntpd-ts extension):
// a Unix stream socket through which `ntp-ctl source add/list/remove` change
// the running daemon's sources. One request and one reply per connection
// (control-protocol.ts); the request is bounded in size and a client gets
// CONTROL_TIMEOUT_MS to send it; at most CONTROL_MAX_CONNECTIONS are served at
// once and further ones are closed at once. A malformed request is answered
// with an error and counted, never acted on.
//
// Who may use it is decided by the socket file, not by asking the peer: the
// socket is created with mode 0o600 (the daemon's user, and root) or, with
// `control-group`, 0o660 and that group. Linux checks write permission on a
// socket file for connect(2) (unix(7)), so the kernel refuses everyone else
// before a byte is read. SO_PEERCRED would say the same thing later and needs
// the native addon, which the daemon can run without.
//
// Start-up as the observation socket's: the directory must exist, a stale
// socket is replaced (bound under a temporary name, then renamed into place),
// a path that is not a socket is left alone, and a clean stop removes it.

import { lstatSync, unlinkSync, type BigIntStats } from "node:fs";
import { chmod, chown, lstat, rename, stat, unlink } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { dirname, join } from "node:path";
import { ObservationFrameReader } from "./message-frame.js";
import {
  ControlRequestError,
  decodeControlRequest,
  encodeControlMessage,
  MAX_CONTROL_REQUEST_BYTES,
  type ControlReply,
  type ControlRequest,
} from "./control-protocol.js";
import type { Logger } from "./log.js";

export const CONTROL_MAX_CONNECTIONS = 4;
export const CONTROL_TIMEOUT_MS = 2_000;

export interface ControlServerOptions {
  path: string;
  /** Numeric group allowed besides the daemon's user (mode 0o660), or null (0o600). */
  gid: number | null;
  handle(request: ControlRequest): ControlReply;
  log: Logger;
  timeoutMs?: number;
}

export interface ControlStats {
  requests: number;
  malformedRequests: number;
  /** Connections closed unread: too many at once. */
  refusedConnections: number;
}

export class ControlServerError extends Error {}

export class ControlServer {
  readonly stats: ControlStats = { requests: 0, malformedRequests: 0, refusedConnections: 0 };
  private server: Server | null = null;
  private readonly active = new Set<Socket>();
  private identity: string | null = null;
  /**
   * Set once the socket has its mode and group and is in place: a connection
   * accepted before (under the temporary name, with the umask's mode) is
   * closed unread.
   */
  private ready = false;

  constructor(private readonly options: ControlServerOptions) {}

  get mode(): number {
    return this.options.gid === null ? 0o600 : 0o660;
  }

  async start(): Promise<void> {
    const { path, gid } = this.options;
    await this.prepare(path);
    const temporary = join(dirname(path), `.ntpd-ts-control-${process.pid}`);
    await unlink(temporary).catch(() => {});
    const server = createServer((socket) => this.accept(socket));
    server.on("error", (error) => {
      this.options.log.error("control socket error", { path, error: error.message });
    });
    const fail = (what: string, error: unknown): never => {
      this.server = null;
      server.close();
      try {
        unlinkSync(temporary);
      } catch {
        // Not created.
      }
      throw new ControlServerError(
        `control-path ${path}: ${what}: ${error instanceof Error ? error.message : String(error)}`,
      );
    };
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(temporary, () => {
        server.off("error", reject);
        resolve();
      });
    }).catch((error: unknown) => fail("cannot listen", error));
    this.server = server;
    // Mode and group are set before the socket appears at `path`: no moment
    // where others could connect.
    await chmod(temporary, this.mode).catch((error: unknown) =>
      fail(`cannot set permissions 0o${this.mode.toString(8)}`, error),
    );
    if (gid !== null) {
      await chown(temporary, -1, gid).catch((error: unknown) =>
        fail(`cannot give the socket to group ${gid}`, error),
      );
    }
    await rename(temporary, path).catch((error: unknown) => fail("cannot create", error));
    this.identity = fileIdentity(lstatSync(path, { bigint: true }));
    this.ready = true;
    this.options.log.info("control socket ready", {
      path,
      permissions: `0o${this.mode.toString(8)}`,
      ...(gid === null ? {} : { group: gid }),
    });
  }

  stop(): void {
    const server = this.server;
    this.server = null;
    this.ready = false;
    for (const socket of this.active) socket.destroy();
    server?.close();
    if (this.identity === null) return;
    const identity = this.identity;
    this.identity = null;
    try {
      const st = lstatSync(this.options.path, { bigint: true });
      if (st.isSocket() && fileIdentity(st) === identity) unlinkSync(this.options.path);
    } catch {
      // Already gone.
    }
  }

  private async prepare(path: string): Promise<void> {
    const dir = dirname(path);
    const st = await stat(dir).catch(() => null);
    if (st === null || !st.isDirectory()) {
      throw new ControlServerError(
        `control-path ${path}: the directory ${dir} does not exist; create it first (the daemon does not)`,
      );
    }
    const existing = await lstat(path).catch(() => null);
    if (existing !== null && !existing.isSocket()) {
      throw new ControlServerError(
        `control-path ${path}: exists and is not a socket; not replacing it`,
      );
    }
  }

  private accept(socket: Socket): void {
    socket.on("error", () => {});
    if (!this.ready) {
      socket.destroy();
      return;
    }
    if (this.active.size >= CONTROL_MAX_CONNECTIONS) {
      this.stats.refusedConnections++;
      socket.destroy();
      return;
    }
    this.active.add(socket);
    const timer = setTimeout(() => {
      this.options.log.debug("control client too slow; disconnected");
      this.stats.malformedRequests++;
      socket.destroy();
    }, this.options.timeoutMs ?? CONTROL_TIMEOUT_MS);
    socket.once("close", () => {
      clearTimeout(timer);
      this.active.delete(socket);
    });
    const frame = new ObservationFrameReader(MAX_CONTROL_REQUEST_BYTES);
    let answered = false;
    const answer = (reply: ControlReply) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      socket.end(encodeControlMessage(reply));
    };
    const progress = (p: ReturnType<ObservationFrameReader["push"]>) => {
      if (p.status === "incomplete" || answered) return;
      this.stats.requests++;
      if (p.status === "error") {
        answer(this.malformed(`malformed request: ${p.message}`));
        return;
      }
      answer(this.respond(p.text));
    };
    socket.on("data", (chunk: Buffer) => progress(frame.push(chunk)));
    socket.on("end", () => progress(frame.end()));
  }

  private respond(text: string): ControlReply {
    let request: ControlRequest;
    try {
      request = decodeControlRequest(text);
    } catch (error) {
      if (!(error instanceof ControlRequestError)) throw error;
      return this.malformed(error.message);
    }
    try {
      return this.options.handle(request);
    } catch (error) {
      this.options.log.error("control request failed", {
        command: request.command,
        error: error instanceof Error ? error.message : String(error),
      });
      return { ok: false, error: "internal error; see the daemon's log" };
    }
  }

  private malformed(message: string): ControlReply {
    this.stats.malformedRequests++;
    this.options.log.debug("malformed control request", { error: message });
    return { ok: false, error: message };
  }
}

function fileIdentity(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.ctimeNs}`;
}
