// The observation socket (ntpd-rs ntpd/src/daemon/observer.rs): a Unix stream
// socket at `observation-path`. Each client that connects gets one message,
// a u64 big-endian length and the observation JSON, and is disconnected. The
// socket never interprets what a client sends (it is read and discarded).
//
// Bounded like ntpd-rs: at most 8 connections are served at once and each gets
// 500 ms; whatever is not written by then is dropped with the connection, so
// a client that never reads costs one slot for half a second and nothing else.
// ntpd-rs leaves further connections in the kernel's backlog until a slot
// frees; Node always accepts, so they wait here in a short queue instead (same
// 500 ms limit), and beyond that they are closed at once.
//
// Start-up as ntpd-rs: the parent directory must exist (it is not created);
// a stale socket file from an earlier run is removed; the socket gets
// `observation-permissions`. Unlike ntpd-rs, a path that exists and is not a
// socket is left alone and reported, and a clean stop removes the socket
// (unix-socket-file.ts, shared with the control socket).
// A live socket of another daemon at the same path is replaced too (ntpd-rs
// does the same): the path belongs to whoever started last.

import { createServer, type Server, type Socket } from "node:net";
import type { Logger } from "./log.js";
import {
  checkSocketPath,
  publishSocket,
  removeSocketFile,
  type SocketFileOptions,
} from "./unix-socket-file.js";

export const OBSERVER_MAX_CONNECTIONS = 8;
export const OBSERVER_TIMEOUT_MS = 500;
/** Connections waiting for a slot, at most; more are closed at once. */
const MAX_WAITING = 32;
/** Served connections left open until the client closes (see serve()). */
const MAX_LINGERING = 64;

export interface ObserverOptions {
  path: string;
  /** File mode of the socket, e.g. 0o666. */
  permissions: number;
  /** The whole message for one client (length prefix included). */
  message: () => Buffer;
  log: Logger;
  maxConnections?: number;
  timeoutMs?: number;
}

/** The socket could not be set up; the message says why and what to fix. */
export class ObserverError extends Error {}

interface Waiting {
  socket: Socket;
  timer: NodeJS.Timeout;
}

export class Observer {
  private server: Server | null = null;
  private readonly active = new Set<Socket>();
  private readonly lingering = new Set<Socket>();
  private readonly waiting: Waiting[] = [];
  /** Identity of the socket file we created: inode and change time (inodes get reused). */
  private identity: string | null = null;
  private readonly maxConnections: number;
  private readonly timeoutMs: number;

  constructor(private readonly options: ObserverOptions) {
    this.maxConnections = options.maxConnections ?? OBSERVER_MAX_CONNECTIONS;
    this.timeoutMs = options.timeoutMs ?? OBSERVER_TIMEOUT_MS;
  }

  /** Connections being served now. */
  get activeConnections(): number {
    return this.active.size;
  }

  /** Connections waiting for a slot. */
  get waitingConnections(): number {
    return this.waiting.length;
  }

  /** Creates the socket; throws ObserverError with a usable message. */
  async start(): Promise<void> {
    const { path, permissions } = this.options;
    const file: SocketFileOptions = {
      path,
      key: "observation-path",
      tag: "observe",
      mode: permissions,
      error: (message) => new ObserverError(message),
    };
    if (await checkSocketPath(file)) {
      this.options.log.debug("replacing a stale observation socket", { path });
    }
    const server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    server.on("error", (error) => {
      this.options.log.error("observation socket error", { path, error: error.message });
    });
    this.server = server;
    try {
      this.identity = await publishSocket(server, file);
    } catch (error) {
      this.server = null;
      throw error;
    }
    this.options.log.info("observation socket ready", {
      path,
      permissions: `0o${permissions.toString(8)}`,
    });
  }

  /** Closes the socket and every connection; removes the socket file if it is still ours. */
  stop(): void {
    const server = this.server;
    this.server = null;
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.socket.destroy();
    }
    for (const socket of this.active) socket.destroy();
    for (const socket of this.lingering) socket.destroy();
    server?.close();
    if (this.identity !== null) removeSocketFile(this.options.path, this.identity);
    this.identity = null;
  }

  private accept(socket: Socket): void {
    socket.on("error", () => {});
    if (this.server === null) {
      socket.destroy();
    } else if (this.active.size < this.maxConnections) {
      this.serve(socket);
    } else if (this.waiting.length < MAX_WAITING) {
      const entry: Waiting = {
        socket,
        timer: setTimeout(() => {
          const i = this.waiting.indexOf(entry);
          if (i >= 0) this.waiting.splice(i, 1);
          socket.destroy();
        }, this.timeoutMs),
      };
      this.waiting.push(entry);
    } else {
      socket.destroy();
    }
  }

  private serve(socket: Socket): void {
    this.active.add(socket);
    const timer = setTimeout(() => {
      this.options.log.debug("observation client too slow; disconnected");
      socket.destroy();
    }, this.timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      this.active.delete(socket);
      this.next();
    });
    let message: Buffer;
    try {
      message = this.options.message();
    } catch (error) {
      this.options.log.error("could not build the observation", {
        error: error instanceof Error ? error.message : String(error),
      });
      socket.destroy();
      return;
    }
    // Whatever a client sends is discarded, never interpreted. Closing a Unix
    // socket with unread input resets it, which can cost the client the
    // message (seen on Node 24), so once the message is in the kernel the
    // slot is freed and the connection lingers, half-closed, until the
    // client closes its side or the deadline passes (at most MAX_LINGERING).
    socket.on("data", () => {});
    socket.resume();
    socket.end(message, () => {
      this.active.delete(socket);
      if (this.lingering.size >= MAX_LINGERING) {
        socket.destroy();
      } else {
        this.lingering.add(socket);
        socket.once("close", () => this.lingering.delete(socket));
      }
      this.next();
    });
  }

  private next(): void {
    while (this.waiting.length > 0 && this.active.size < this.maxConnections) {
      const entry = this.waiting.shift()!;
      clearTimeout(entry.timer);
      if (entry.socket.destroyed) continue;
      this.serve(entry.socket);
    }
  }
}
