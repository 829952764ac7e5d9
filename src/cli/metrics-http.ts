// The metrics exporter's HTTP side (ntpd-rs ntpd/src/metrics/exporter.rs):
// a deliberately small HTTP/1.1 responder, not a general web server. It reads
// the request head (at most 2048 bytes, up to the blank line), answers one
// response and closes the connection:
//   GET, any path    200 with the metrics (ntpd-rs answers every path too);
//                    500 with an empty body when they cannot be produced
//                    (the daemon's observation socket is not there);
//   another method   405 (ntpd-rs closes without answering);
//   no blank line within 2048 bytes, or bytes that are no HTTP request head
//                    400 (ntpd-rs closes without answering).
// The body's content type is `text/plain` as ntpd-rs sends it, or the
// OpenMetrics type when the client's Accept header asks for OpenMetrics (the
// body is the same; this lets Prometheus use its OpenMetrics parser).
//
// Bounded as ntpd-rs: at most 100 connections at once (more are closed at
// once; ntpd-rs leaves them in the kernel backlog) and 1 s per connection.
//
// A listen address that cannot be bound is a MetricsListenError, whatever the
// reason: the exporter exits 70 with its one line, as the daemon does for its
// own addresses. (It used to retry an address not on the machine every 2 s,
// as ntpd-rs does, behind a start that looked successful.)

import { createServer, type Server, type Socket } from "node:net";
import { formatHostPort } from "../daemon/resolve.js";
import type { Logger } from "../daemon/log.js";
import { bindReason } from "../daemon/bind-reason.js";

export const HTTP_MAX_CONNECTIONS = 100;
export const HTTP_TIMEOUT_MS = 1000;
export const HTTP_MAX_REQUEST_BYTES = 2048;

/** The listen address could not be bound; the message is one line for the operator. */
export class MetricsListenError extends Error {}

export interface MetricsBody {
  body: string;
  /** Content type when the client accepts OpenMetrics. */
  openMetricsType: string;
}

export interface MetricsHttpOptions {
  address: string;
  port: number;
  /** Produces the metrics; a rejection becomes a 500. */
  metrics: () => Promise<MetricsBody>;
  log: Logger;
  maxConnections?: number;
  timeoutMs?: number;
}

export class MetricsHttpServer {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private stopped = false;
  private readonly timeoutMs: number;

  constructor(private readonly options: MetricsHttpOptions) {
    this.timeoutMs = options.timeoutMs ?? HTTP_TIMEOUT_MS;
  }

  get listenText(): string {
    return formatHostPort(this.options.address, this.options.port);
  }

  /** Binds; rejects with a MetricsListenError when that fails. */
  async start(): Promise<void> {
    // Half-open allowed: a client may shut down its side after the request.
    const server = createServer({ allowHalfOpen: true }, (socket) => this.accept(socket));
    server.maxConnections = this.options.maxConnections ?? HTTP_MAX_CONNECTIONS;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: this.options.address, port: this.options.port }, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      server.close();
      throw new MetricsListenError(
        `cannot listen on ${this.listenText} (HTTP): ${bindReason(error, "another exporter?")}`,
      );
    }
    server.on("error", (error) => {
      this.options.log.warn("metrics listener error", { error: error.message });
    });
    if (this.stopped) {
      server.close();
      return;
    }
    this.server = server;
  }

  /** The bound port (useful with port 0). */
  get port(): number {
    const address = this.server?.address();
    return address && typeof address === "object" ? address.port : this.options.port;
  }

  stop(): void {
    this.stopped = true;
    this.server?.close();
    this.server = null;
    for (const socket of this.sockets) socket.destroy();
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on("error", () => {});
    const timer = setTimeout(() => socket.destroy(), this.timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      this.sockets.delete(socket);
    });
    let head = Buffer.alloc(0);
    let answered = false;
    socket.on("end", () => {
      if (!answered) socket.destroy();
    });
    socket.on("data", (chunk: Buffer) => {
      if (answered) return; // read and dropped, so closing sends no RST
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf("\r\n\r\n");
      if (end < 0 && head.length < HTTP_MAX_REQUEST_BYTES) return;
      answered = true;
      if (end < 0 || end + 4 > HTTP_MAX_REQUEST_BYTES) {
        respond(socket, "400 Bad Request");
        return;
      }
      const text = head.subarray(0, end).toString("latin1");
      if (!/^[A-Z]+ \S+ HTTP\/1\.[01]\r?$/m.test(text.split("\n")[0] ?? "")) {
        respond(socket, "400 Bad Request");
      } else if (!text.startsWith("GET ")) {
        respond(socket, "405 Method Not Allowed", "", "text/plain", ["allow: GET"]);
      } else {
        void this.answer(socket, acceptsOpenMetrics(text));
      }
    });
  }

  private async answer(socket: Socket, openMetrics: boolean): Promise<void> {
    let result: MetricsBody;
    try {
      result = await this.options.metrics();
    } catch (error) {
      this.options.log.warn("could not produce the metrics", {
        error: error instanceof Error ? error.message : String(error),
      });
      respond(socket, "500 Internal Server Error");
      return;
    }
    respond(socket, "200 OK", result.body, openMetrics ? result.openMetricsType : "text/plain");
  }
}

function acceptsOpenMetrics(head: string): boolean {
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim().toLowerCase() !== "accept") continue;
    if (
      line
        .slice(colon + 1)
        .toLowerCase()
        .includes("application/openmetrics-text")
    )
      return true;
  }
  return false;
}

function respond(
  socket: Socket,
  status: string,
  body = "",
  contentType = "text/plain",
  extraHeaders: string[] = [],
): void {
  if (socket.destroyed || socket.writableEnded) return;
  const payload = Buffer.from(body, "utf8");
  const head = [
    `HTTP/1.1 ${status}`,
    `content-type: ${contentType}`,
    `content-length: ${payload.length}`,
    "connection: close",
    ...extraHeaders,
    "",
    "",
  ].join("\r\n");
  socket.end(Buffer.concat([Buffer.from(head, "latin1"), payload]));
}
