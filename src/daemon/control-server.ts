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
// The socket file follows the observation socket's rules (unix-socket-file.ts).

import { createServer, type Server, type Socket } from "node:net";
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
import {
  checkSocketPath,
  publishSocket,
  removeSocketFile,
  type SocketFileOptions,
} from "./unix-socket-file.js";

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
    const file: SocketFileOptions = {
      path,
      key: "control-path",
      tag: "control",
      mode: this.mode,
      gid,
      error: (message) => new ControlServerError(message),
    };
    await checkSocketPath(file);
    const server = createServer((socket) => this.accept(socket));
    server.on("error", (error) => {
      this.options.log.error("control socket error", { path, error: error.message });
    });
    this.server = server;
    try {
      // Mode and group are set before the socket appears at `path`: no moment
      // where others could connect.
      this.identity = await publishSocket(server, file);
    } catch (error) {
      this.server = null;
      throw error;
    }
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
    if (this.identity !== null) removeSocketFile(this.options.path, this.identity);
    this.identity = null;
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
