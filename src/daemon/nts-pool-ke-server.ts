// One `[[nts-pool-ke-server]]`: an NTS pool's key exchange front
// (NTS-POOL.md §2). A client does an ordinary NTS-KE with the front (TLS for
// the pool's name); the front picks a back end, learns what it supports
// (Supported lists request, cached for 5 minutes), exports the client's keys
// from the client's TLS session, has the back end mint cookies for them
// (Fixed Key Request) and relays its answer with a Server record naming the
// back end. The NTP exchange then goes straight from client to back end.
//
// Choice of back end: round robin over `key-exchange-servers`, skipping those
// the client names in NTP Server Deny records and, while they stay down
// (30 s after a failure), back ends that failed; when nothing else is left,
// a down one is tried, then a denied one (as the pendulum pool does).
// A back end that cannot be reached, or that refuses the Supported lists
// request, is skipped for the next one: no keys have left the front yet. Once
// a Fixed Key Request was sent, a failure is an error to the client, never a
// retry elsewhere (a client's keys go to at most one time source).

import type { Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { NtsPoolKeServerConfig } from "../proto/config/types.js";
import { KeErrorCode, KeMessageDecoder } from "../proto/nts/ke/records.js";
import {
  buildErrorResponse,
  buildNoOverlapResponse,
  buildServerResponse,
} from "../proto/nts/ke/server-messages.js";
import {
  buildFixedKeyRequest,
  buildSupportRequest,
  classifyPoolClientRequest,
  parseFixedKeyResponse,
  parseSupportResponse,
  selectForBackend,
  type BackendSupport,
  type PoolClientRequest,
  type PoolSelection,
} from "../proto/nts/ke/pool-front.js";
import {
  keyExportContext,
  NTS_KE_ALPN,
  NTS_KE_EXPORTER_LABEL,
} from "../proto/nts/ke/key-export.js";
import type { Logger } from "./log.js";
import { TrustStore } from "./nts-ke-client.js";
import { NtsKeListenError, secureContextOptions } from "./nts-ke-server.js";
import { keRoundTrip } from "./nts-ke-upstream.js";
import { formatHostPort } from "./resolve.js";
import { errorText } from "./source-task.js";
import { CredentialsWatcher, loadTlsCredentials } from "./tls-credentials.js";

/** How long a back end's Supported lists are reused (the pendulum pool's default). */
const SUPPORT_CACHE_MS = 5 * 60_000;
/** How long a failed back end is passed over while others are there. */
const DOWN_HOLD_MS = 30_000;

interface Backend {
  host: string;
  port: number;
  token: string;
  /** What its Supported lists said, and when. */
  support: { value: BackendSupport; at: number } | null;
  /** Until when it is passed over after a failure (ms, performance.now()). */
  downUntil: number;
  /** The NTP server its last answer named (what clients put in NTP Server Deny). */
  servedName: string | null;
}

export interface PoolFrontStats {
  connections: number;
  /** Clients handed on to a back end. */
  delegated: number;
  /** Requests answered with an error or no-overlap reply by the front itself. */
  rejected: number;
  /** Clients that got an error because the back ends failed. */
  failed: number;
  /** Back-end exchanges that failed (unreachable, refused, bad answer). */
  backendFailures: number;
}

export class NtsPoolKeServer {
  readonly listenText: string;
  readonly stats: PoolFrontStats = {
    connections: 0,
    delegated: 0,
    rejected: 0,
    failed: 0,
    backendFailures: 0,
  };
  private readonly backends: Backend[];
  private server: Server | null = null;
  private trust: TrustStore | null = null;
  private readonly watcher: CredentialsWatcher;
  private next = 0;
  private active = 0;

  constructor(
    readonly config: NtsPoolKeServerConfig,
    private readonly log: Logger,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.listenText = formatHostPort(config.listen.address, config.listen.port);
    this.backends = config.keyExchangeServers.map((b) => ({
      host: b.address.host,
      port: b.address.port,
      token: b.authenticationToken,
      support: null,
      downUntil: 0,
      servedName: null,
    }));
    this.watcher = new CredentialsWatcher(
      config.certificateChainPath,
      config.privateKeyPath,
      (credentials) => this.server?.setSecureContext(secureContextOptions(credentials)),
      log,
    );
  }

  /** Back ends configured, and those not held back after a failure now. */
  backendHealth(): { backends: number; backendsUp: number } {
    const now = this.now();
    return {
      backends: this.backends.length,
      backendsUp: this.backends.filter((b) => b.downUntil <= now).length,
    };
  }

  async start(): Promise<void> {
    this.trust = await TrustStore.fromFile(this.config.certificateAuthority);
    const credentials = loadTlsCredentials(
      this.config.certificateChainPath,
      this.config.privateKeyPath,
    );
    const server = createServer({
      ...secureContextOptions(credentials),
      ALPNProtocols: [NTS_KE_ALPN],
    });
    server.on("connection", (socket: Socket) => {
      this.stats.connections++;
      if (this.active >= this.config.concurrentConnections) {
        socket.destroy();
        return;
      }
      this.active++;
      const deadline = setTimeout(() => socket.destroy(), this.config.keyExchangeTimeoutMs);
      socket.once("close", () => {
        clearTimeout(deadline);
        this.active--;
      });
    });
    server.on("secureConnection", (socket) => this.handle(socket));
    server.on("tlsClientError", (error) => {
      this.log.debug("TLS handshake failed", { error: error.message });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", (error: Error) =>
        reject(new NtsKeListenError(`cannot listen on ${this.listenText}: ${error.message}`)),
      );
      server.listen(this.config.listen.port, this.config.listen.address, () => resolve());
    });
    server.on("error", (error: Error) =>
      this.log.error("NTS pool front error", { error: error.message }),
    );
    this.server = server;
    this.watcher.start(credentials);
    this.log.info("serving NTS pool key exchange", {
      listen: this.listenText,
      back_ends: this.backends.map((b) => formatHostPort(b.host, b.port)).join(","),
    });
  }

  reloadCredentials(reason: string): boolean {
    return this.watcher.reload(reason);
  }

  /** The port actually bound (useful with port 0 in tests). */
  get port(): number {
    const address = this.server?.address();
    return address && typeof address === "object" ? address.port : this.config.listen.port;
  }

  stop(): void {
    this.watcher.stop();
    this.server?.close();
    this.server = null;
  }

  private handle(socket: TLSSocket): void {
    if (socket.alpnProtocol !== NTS_KE_ALPN) {
      socket.destroy();
      return;
    }
    const decoder = new KeMessageDecoder();
    let started = false;
    const onProgress = (progress: ReturnType<KeMessageDecoder["push"]>) => {
      if (started || progress.status === "incomplete") return;
      started = true;
      socket.off("data", onData);
      if (progress.status === "error") {
        this.stats.rejected++;
        socket.end(buildErrorResponse(KeErrorCode.BadRequest));
        return;
      }
      void this.serve(socket, classifyPoolClientRequest(progress.records));
    };
    const onData = (chunk: Buffer) => onProgress(decoder.push(new Uint8Array(chunk)));
    socket.on("data", onData);
    socket.on("end", () => onProgress(decoder.end()));
    socket.on("error", (error: Error) => {
      this.log.debug("NTS pool front connection error", { error: error.message });
    });
  }

  private async serve(
    socket: TLSSocket,
    decision: ReturnType<typeof classifyPoolClientRequest>,
  ): Promise<void> {
    if (decision.kind === "reject") {
      this.stats.rejected++;
      this.log.debug("NTS pool front request rejected", { reason: decision.message });
      socket.end(decision.response);
      return;
    }
    let response: Uint8Array;
    try {
      response = await this.delegate(socket, decision.request);
    } catch (error) {
      this.stats.failed++;
      this.log.warn("NTS pool front could not serve a client", { error: errorText(error) });
      response = buildErrorResponse(KeErrorCode.InternalServerError);
    }
    if (!socket.destroyed) socket.end(response);
  }

  /** Back ends in the order to try them for a client that denies `denied`. */
  private candidates(denied: readonly string[]): Backend[] {
    const n = this.backends.length;
    const start = n === 0 ? 0 : this.next++ % n;
    const rotated = [...this.backends.slice(start), ...this.backends.slice(0, start)];
    const now = this.now();
    const isDenied = (b: Backend) =>
      denied.includes(b.host) || (b.servedName !== null && denied.includes(b.servedName));
    const up = rotated.filter((b) => !isDenied(b) && b.downUntil <= now);
    const down = rotated.filter((b) => !isDenied(b) && b.downUntil > now);
    return [...up, ...down, ...rotated.filter(isDenied)];
  }

  private async support(backend: Backend): Promise<BackendSupport> {
    const cached = backend.support;
    if (cached && this.now() - cached.at < SUPPORT_CACHE_MS) return cached.value;
    const records = await keRoundTrip(this.upstream(backend), buildSupportRequest(backend.token));
    const parsed = parseSupportResponse(records);
    if (!parsed.ok) throw new Error(parsed.error);
    backend.support = { value: parsed.value, at: this.now() };
    return parsed.value;
  }

  private upstream(backend: Backend) {
    return {
      host: backend.host,
      port: backend.port,
      trust: this.trust!,
      timeoutMs: this.config.timesourceTimeoutMs,
    };
  }

  private backendFailed(backend: Backend, what: string, error: unknown): void {
    this.stats.backendFailures++;
    backend.downUntil = this.now() + DOWN_HOLD_MS;
    backend.support = null;
    this.log.warn(what, {
      back_end: formatHostPort(backend.host, backend.port),
      error: errorText(error),
    });
  }

  /** The response for the client: the chosen back end's cookies, or a no-overlap reply. */
  private async delegate(socket: TLSSocket, request: PoolClientRequest): Promise<Uint8Array> {
    let lastMismatch: PoolSelection | null = null;
    for (const backend of this.candidates(request.denied)) {
      if (socket.destroyed) throw new Error("the client went away");
      let support: BackendSupport;
      try {
        support = await this.support(backend);
      } catch (error) {
        this.backendFailed(backend, "NTS pool back end unusable, trying the next", error);
        continue;
      }
      const selection = selectForBackend(request, support);
      if (selection.kind !== "selected") {
        lastMismatch = selection;
        continue;
      }
      return await this.fixedKeyExchange(socket, backend, selection);
    }
    if (lastMismatch?.kind === "no-aead-overlap") {
      this.stats.rejected++;
      return buildNoOverlapResponse(lastMismatch.protocol);
    }
    if (lastMismatch?.kind === "no-protocol-overlap") {
      this.stats.rejected++;
      return buildNoOverlapResponse();
    }
    throw new Error("no back end could be reached");
  }

  private async fixedKeyExchange(
    socket: TLSSocket,
    backend: Backend,
    selection: Extract<PoolSelection, { kind: "selected" }>,
  ): Promise<Uint8Array> {
    const exportKey = (direction: "c2s" | "s2c") =>
      new Uint8Array(
        socket.exportKeyingMaterial(
          selection.keyLength,
          NTS_KE_EXPORTER_LABEL,
          Buffer.from(keyExportContext(selection.protocol, selection.aead, direction)),
        ),
      );
    const c2sKey = exportKey("c2s");
    const s2cKey = exportKey("s2c");
    const request = buildFixedKeyRequest({
      token: backend.token,
      protocol: selection.protocol,
      aead: selection.aead,
      c2sKey,
      s2cKey,
    });
    c2sKey.fill(0);
    s2cKey.fill(0);
    let records;
    try {
      records = await keRoundTrip(this.upstream(backend), request);
    } catch (error) {
      this.backendFailed(backend, "NTS pool back end failed after the keys were sent", error);
      throw error;
    } finally {
      request.fill(0);
    }
    const parsed = parseFixedKeyResponse(records, selection);
    if (!parsed.ok) {
      this.backendFailed(backend, "NTS pool back end gave no cookies", parsed.error);
      throw new Error(parsed.error);
    }
    backend.downUntil = 0;
    this.stats.delegated++;
    const server = parsed.value.server ?? backend.host;
    backend.servedName = server;
    if (this.log.enabled("debug")) {
      this.log.debug("NTS pool client handed on", {
        client: socket.remoteAddress,
        back_end: formatHostPort(backend.host, backend.port),
        ntp_server: server,
      });
    }
    return buildServerResponse({
      protocol: selection.protocol,
      aead: selection.aead,
      cookies: parsed.value.cookies,
      // The client must not send NTP to the front: name the back end if it did not.
      server,
      ...(parsed.value.port === undefined ? {} : { port: parsed.value.port }),
    });
  }
}
