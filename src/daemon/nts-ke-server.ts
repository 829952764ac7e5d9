// One `[[nts-ke-server]]`: TLS 1.3 on `listen`, ALPN ntske/1 required, one
// request and one response per connection (RFC 8915 §4). The protocol
// decisions come from src/proto/nts/ke; this file moves bytes, exports the
// keys from the TLS session and mints the cookies. The TLS is the addon's
// GnuTLS listener when it has one, else node:tls (nts-ke-native.ts says why
// and how to choose).
//
// Limits: at most `concurrent-connections` connections at once (further ones
// are closed at once, so a flood cannot exhaust memory), and each connection
// must finish handshake and exchange within `key-exchange-timeout-ms`.

import { constants as cryptoConstants, randomBytes } from "node:crypto";
import { closeSync } from "node:fs";
import type { Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { NtsKeServerConfig } from "../proto/config/types.js";
import { SUPPORTED_AEADS } from "../proto/crypto/registry.js";
import { defaultAeadProvider, preparedKey } from "./native/aead.js";
import type { KeySet } from "../proto/nts/keyset/keyset.js";
import { DEFAULT_MAX_MESSAGE_LENGTH, KeErrorCode } from "../proto/nts/ke/records.js";
import {
  buildErrorResponse,
  buildServerResponse,
  buildSupportedListsResponse,
  ServerRequestDecoder,
  type KeServerConfig,
  type KeServerDecision,
} from "../proto/nts/ke/server-messages.js";
import { NTS_KE_ALPN, NTS_KE_EXPORTER_LABEL } from "../proto/nts/ke/key-export.js";
import type { Logger } from "./log.js";
import { formatHostPort } from "./resolve.js";
import {
  CredentialsError,
  CredentialsWatcher,
  loadTlsCredentials,
  type TlsCredentials,
} from "./tls-credentials.js";
import { getAddon } from "./native/addon.js";
import type { NativeNtsKeListener, NativeNtsKeOutcome } from "./native/types.js";
import {
  createNativeKeListener,
  gnutlsAvailability,
  NTS_KE_TLS_ENV,
  ntsKeTlsFromEnv,
  type NtsKeTls,
} from "./nts-ke-native.js";
import { NtsKeStats, type NtsKeOutcome } from "./nts-ke-stats.js";
import { NtpServerChoice } from "../proto/nts/ke/ntp-server-choice.js";
import {
  fastPathConfig,
  keyExchangeResponse,
  mintCookies,
  type KeyExporter,
} from "./nts-ke-fast.js";

export { NtsKeStats } from "./nts-ke-stats.js";

/**
 * Where the cookie master keys come from: read once per key exchange. A provider that
 * says when the primary key changes (`onRotate`) lets the GnuTLS listener seal cookies
 * itself (nts-ke-fast.ts).
 */
export interface KeySetProvider {
  current(): KeySet;
  onRotate?(listener: (keyset: KeySet) => void): void;
}

/** The NTS-KE listener could not be opened (address in use, no permission). */
export class NtsKeListenError extends Error {}

/** One accepted connection: its outcome is counted once, by the first to settle it. */
interface Connection {
  outcome: NtsKeOutcome | null;
}

/** node's listen() backlog, for the native listener's own socket. */
const LISTEN_BACKLOG = 511;

/**
 * The TLS settings of every context we serve with (at start and after a
 * certificate reload). TLS 1.3 only (RFC 8915 §3). SSL_OP_NO_TICKET: under
 * TLS 1.3 OpenSSL still sends its two NewSessionTickets after the handshake,
 * but as 57-octet session IDs instead of 265-octet encrypted sessions, which
 * spares sealing the session twice per connection. The IDs refer to
 * nothing (node keeps no server-side session cache), so a resumption
 * attempt falls back to a full handshake: NTS-KE clients never resume, and
 * each key exchange keeps its own ephemeral (EC)DHE secret. Node has no way
 * to send no ticket at all (SSL_CTX_set_num_tickets); see docs/nts.md.
 */
export function secureContextOptions(credentials: TlsCredentials) {
  return {
    cert: credentials.cert,
    key: credentials.key,
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
    secureOptions: cryptoConstants.SSL_OP_NO_TICKET,
  } as const;
}

export class NtsKeServer {
  readonly listenText: string;
  private readonly counts = new NtsKeStats();
  private server: Server | null = null;
  private native: NativeNtsKeListener | null = null;
  private readonly watcher: CredentialsWatcher;
  private readonly keConfig: KeServerConfig;
  /** `ntp-server` / `ntp-port`: where each client is sent. */
  private readonly ntpServers: NtpServerChoice;
  private active = 0;
  /** The native listener's fast key exchanges already added to `counts`. */
  private fastCounted = 0;
  /** The accepted (raw) socket's bookkeeping, found again from its TLSSocket. */
  private readonly connectionsBySocket = new WeakMap<Socket, Connection>();

  constructor(
    readonly config: NtsKeServerConfig,
    private readonly keys: KeySetProvider,
    private readonly log: Logger,
    /**
     * A listening socket's fd to serve on instead of binding `listen` (a serving thread's
     * SO_REUSEPORT listener, made by the addon's tcpListen); called once by start().
     */
    private readonly listenFd?: () => number,
    /** The TLS to serve with (default: NTPD_TS_NTS_KE_TLS, else "auto"); nts-ke-native.ts. */
    private readonly tls?: NtsKeTls,
  ) {
    this.ntpServers = new NtpServerChoice(config.ntpServer ?? [], config.ntpPort);
    this.listenText = formatHostPort(config.listen.address, config.listen.port);
    this.keConfig = {
      acceptNtpVersions: config.acceptNtpVersions,
      aeadAlgorithms: SUPPORTED_AEADS,
      acceptedPoolAuthenticationTokens: config.acceptedPoolAuthenticationTokens,
    };
    this.watcher = new CredentialsWatcher(
      config.certificateChainPath,
      config.privateKeyPath,
      (credentials) => this.useCredentials(credentials),
      log,
    );
  }

  /** The counters; `connections` is read from the native listener when there is one. */
  get stats(): NtsKeStats {
    if (this.native !== null) {
      this.counts.connections = this.native.accepted;
      const fast = this.native.fastKeyExchanges;
      this.counts.served += fast - this.fastCounted;
      this.counts.keyExchanges += fast - this.fastCounted;
      this.fastCounted = fast;
    }
    return this.counts;
  }

  /** Key exchanges the GnuTLS listener answered itself, without JavaScript (nts-ke-fast.ts). */
  get fastKeyExchanges(): number {
    return this.native?.fastKeyExchanges ?? 0;
  }

  /** Which TLS serves: "gnutls" (the addon's listener) or "node" (node:tls); null before start(). */
  get tlsInUse(): "gnutls" | "node" | null {
    return this.native !== null ? "gnutls" : this.server !== null ? "node" : null;
  }

  /** Loads the certificate (throws CredentialsError) and starts listening. */
  async start(): Promise<void> {
    const credentials = loadTlsCredentials(
      this.config.certificateChainPath,
      this.config.privateKeyPath,
    );
    let tls: NtsKeTls;
    try {
      tls = this.tls ?? ntsKeTlsFromEnv();
    } catch (error) {
      throw new NtsKeListenError(`cannot serve on ${this.listenText}: ${(error as Error).message}`);
    }
    const gnutls = tls === "node" ? null : gnutlsAvailability();
    if (tls === "gnutls" && gnutls?.available === false) {
      throw new NtsKeListenError(
        `NTS-KE on GnuTLS was asked for (${NTS_KE_TLS_ENV}=gnutls), but ${gnutls.reason}`,
      );
    }
    if (gnutls?.available === true) this.startNative(credentials);
    else await this.startNode(credentials);
    this.watcher.start(credentials);
    this.log.info("serving NTS-KE", {
      listen: this.listenText,
      tls: this.tlsInUse,
      subject: credentials.leaf.subject.replace(/\n/g, ", "),
      valid_to: credentials.leaf.validTo,
    });
  }

  /** Serves with the addon's GnuTLS listener (nts-ke-native.ts). */
  private startNative(credentials: TlsCredentials): void {
    let fd: number;
    try {
      if (this.listenFd !== undefined) {
        fd = this.listenFd();
      } else {
        const addon = getAddon();
        if (addon === null) throw new Error("the native addon is not loaded");
        const { family, address, port } = this.config.listen;
        fd = addon.tcpListen(family, address, port, LISTEN_BACKLOG, false);
      }
    } catch (error) {
      throw new NtsKeListenError(
        `cannot listen on ${this.listenText}: ${(error as Error).message}`,
      );
    }
    let listener: NativeNtsKeListener | null;
    try {
      listener = createNativeKeListener(
        fd,
        {
          maxConnections: this.config.concurrentConnections,
          timeoutMs: this.config.keyExchangeTimeoutMs,
          maxRequest: DEFAULT_MAX_MESSAGE_LENGTH,
          peers: this.log.enabled("debug"),
        },
        {
          request: (l, request, _ended, peer) => this.answerNative(l, request, peer),
          outcome: (outcome, detail, peer) => this.nativeOutcome(outcome, detail, peer),
        },
      );
    } catch (error) {
      closeSync(fd);
      throw new NtsKeListenError(`cannot serve on ${this.listenText}: ${(error as Error).message}`);
    }
    if (listener === null) {
      closeSync(fd);
      throw new NtsKeListenError("the native addon has no NTS-KE listener");
    }
    try {
      listener.setCredentials(credentials.cert, credentials.key);
    } catch (error) {
      listener.close();
      throw new CredentialsError(
        `${this.config.certificateChainPath} / ${this.config.privateKeyPath}: ${(error as Error).message}`,
      );
    }
    this.native = listener;
    this.startFastPath(listener);
  }

  /**
   * Lets the listener answer plain key exchanges itself (nts-ke-fast.ts says when not),
   * with the primary master key given again after every rotation.
   */
  private startFastPath(listener: NativeNtsKeListener): void {
    const onRotate = this.keys.onRotate?.bind(this.keys);
    if (onRotate === undefined || this.log.enabled("debug")) return;
    if ((this.config.ntpServer ?? []).length > 1) return;
    // With at most one ntp-server, every client is sent to the same place.
    const server = this.ntpServers.choose();
    listener.setFastPath(fastPathConfig(this.keConfig, server, DEFAULT_MAX_MESSAGE_LENGTH));
    const giveKey = () => {
      const keyset = this.keys.current();
      listener.setCookieKey(
        keyset.primaryId,
        preparedKey(keyset.primaryCipher(defaultAeadProvider())),
      );
    };
    giveKey();
    onRotate(giveKey);
  }

  /** The one call of an answered connection on the native listener: its response. */
  private answerNative(
    listener: NativeNtsKeListener,
    request: Buffer,
    peer: string | undefined,
  ): Uint8Array {
    const decoder = new ServerRequestDecoder(this.keConfig);
    // Native hands over a complete request, or all there was at EOF or the octet limit:
    // whatever is still incomplete then is a bad request.
    const decision = decoder.push(request) ?? decoder.end();
    const exporter: KeyExporter = (length, c2sContext, s2cContext) => {
      const both = listener.exportKeys(length, c2sContext, s2cContext);
      return { c2s: both.subarray(0, length), s2c: both.subarray(length) };
    };
    return this.answer(decision, exporter, () => peer);
  }

  /** A native connection that ended without an answer. */
  private nativeOutcome(outcome: NativeNtsKeOutcome, detail: string, peer: string | undefined) {
    switch (outcome) {
      case "refused":
      case "timeouts":
        this.counts[outcome]++;
        return;
      case "noAlpn":
        this.counts.failed++;
        this.counts.noAlpn++;
        this.log.debug("NTS-KE client without ALPN ntske/1 refused", { client: peer });
        return;
      case "failed":
        this.counts.failed++;
        this.log.debug("TLS handshake failed", { client: peer, error: detail });
        return;
    }
  }

  /** Serves with node:tls. */
  private async startNode(credentials: TlsCredentials): Promise<void> {
    const server = createServer({
      ...secureContextOptions(credentials),
      ALPNProtocols: [NTS_KE_ALPN],
    });
    server.on("connection", (socket: Socket) => {
      this.counts.connections++;
      const connection: Connection = { outcome: null };
      if (this.active >= this.config.concurrentConnections) {
        this.settle(connection, "refused");
        socket.destroy();
        return;
      }
      this.active++;
      this.connectionsBySocket.set(socket, connection);
      // One deadline for the handshake and the exchange together.
      const deadline = setTimeout(() => {
        this.settle(connection, "timeouts");
        socket.destroy();
      }, this.config.keyExchangeTimeoutMs);
      socket.once("close", () => {
        clearTimeout(deadline);
        this.active--;
        // Closed with no answer, not refused, not timed out: the handshake failed
        // or the client went away.
        this.settle(connection, "failed");
      });
    });
    server.on("secureConnection", (socket) => this.handle(socket));
    // Node emits this also for the connections refused and cut above ("socket hang
    // up"): the raw socket's close counts the outcome, this only logs.
    server.on("tlsClientError", (error) => {
      this.log.debug("TLS handshake failed", { error: error.message });
    });
    await new Promise<void>((resolve, reject) => {
      const fail = (error: Error) =>
        reject(new NtsKeListenError(`cannot listen on ${this.listenText}: ${error.message}`));
      server.once("error", fail);
      const listening = () => {
        server.off("error", fail);
        resolve();
      };
      if (this.listenFd === undefined) {
        server.listen(this.config.listen.port, this.config.listen.address, listening);
        return;
      }
      let fd: number;
      try {
        fd = this.listenFd();
      } catch (error) {
        fail(error as Error);
        return;
      }
      server.listen({ fd }, listening);
    });
    server.on("error", (error: Error) =>
      this.log.error("NTS-KE server error", { error: error.message }),
    );
    this.server = server;
  }

  /** Loads the certificate and key again (SIGHUP); keeps the old ones on failure. */
  reloadCredentials(reason: string): boolean {
    return this.watcher.reload(reason);
  }

  /** When the certificate in use expires (for the observation); null before start(). */
  get certificateNotAfter(): Date | null {
    return this.watcher.notAfter;
  }

  /** Connections open now (accepted, not refused, not yet closed). */
  get openConnections(): number {
    return this.native?.open ?? this.active;
  }

  /** The port actually bound (useful with port 0 in tests). */
  get port(): number {
    if (this.native !== null) return this.native.port;
    const address = this.server?.address();
    return address && typeof address === "object" ? address.port : this.config.listen.port;
  }

  stop(): void {
    this.watcher.stop();
    this.server?.close();
    this.server = null;
    // Kept (closed) so that its counters can still be read.
    this.native?.close();
  }

  private useCredentials(credentials: TlsCredentials): void {
    // New connections use the new credentials; the listener keeps running.
    this.server?.setSecureContext(secureContextOptions(credentials));
    this.native?.setCredentials(credentials.cert, credentials.key);
  }

  private settle(connection: Connection, outcome: NtsKeOutcome): void {
    if (connection.outcome !== null) return;
    connection.outcome = outcome;
    this.counts[outcome]++;
  }

  /**
   * The bookkeeping of the raw socket under `socket`. `_parent` (the socket a server's
   * TLSSocket wraps) is not in Node's documentation but has been there since TLSSocket
   * was; without it an answer would count as failed too, which nts-ke.test.ts checks.
   */
  private connectionOf(socket: TLSSocket): Connection {
    const raw = (socket as TLSSocket & { _parent?: Socket })._parent;
    return (raw && this.connectionsBySocket.get(raw)) ?? { outcome: null };
  }

  private handle(socket: TLSSocket): void {
    const connection = this.connectionOf(socket);
    // Node accepts a client that offers no ALPN at all; RFC 8915 requires it.
    if (socket.alpnProtocol !== NTS_KE_ALPN) {
      this.settle(connection, "failed");
      this.counts.noAlpn++;
      this.log.debug("NTS-KE client without ALPN ntske/1 refused", {
        client: socket.remoteAddress,
      });
      socket.destroy();
      return;
    }
    const decoder = new ServerRequestDecoder(this.keConfig);
    let answered = false;
    const exporter: KeyExporter = (length, c2sContext, s2cContext) => ({
      c2s: socket.exportKeyingMaterial(length, NTS_KE_EXPORTER_LABEL, Buffer.from(c2sContext)),
      s2c: socket.exportKeyingMaterial(length, NTS_KE_EXPORTER_LABEL, Buffer.from(s2cContext)),
    });
    // socket.remoteAddress is a getpeername(2): only when it is logged.
    const client = () => socket.remoteAddress;
    const answer = (decision: KeServerDecision) => {
      if (answered) return;
      answered = true;
      socket.off("data", onData);
      const response = this.answer(decision, exporter, client, (outcome) =>
        this.settle(connection, outcome),
      );
      socket.end(response);
    };
    const onData = (chunk: Buffer) => {
      const decision = decoder.push(chunk);
      if (decision) answer(decision);
    };
    socket.on("data", onData);
    socket.on("end", () => answer(decoder.end()));
    socket.on("error", (error: Error) => {
      this.log.debug("NTS-KE connection error", {
        client: socket.remoteAddress,
        error: error.message,
      });
    });
  }

  /**
   * The response to `decision`, its outcome settled by `settle` (served, or failed on an
   * internal error, which still gets an error record).
   */
  private answer(
    decision: KeServerDecision,
    exporter: KeyExporter,
    client: () => string | undefined,
    settle: (outcome: NtsKeOutcome) => void = (outcome) => this.counts[outcome]++,
  ): Uint8Array {
    try {
      const response = this.respond(decision, exporter, client);
      settle("served");
      return response;
    } catch (error) {
      settle("failed");
      this.log.error("NTS-KE internal error", { error: (error as Error).message });
      return buildErrorResponse(KeErrorCode.InternalServerError);
    }
  }

  private respond(
    decision: KeServerDecision,
    exporter: KeyExporter,
    client: () => string | undefined,
  ): Uint8Array {
    switch (decision.kind) {
      case "key-exchange": {
        const response = keyExchangeResponse(
          decision,
          exporter,
          this.keys.current(),
          randomBytes,
          this.ntpServers.choose(decision.deniedServers),
          defaultAeadProvider(),
        );
        this.counts.keyExchanges++;
        if (this.log.enabled("debug")) {
          this.log.debug("NTS-KE key exchange", { client: client(), aead: decision.aead });
        }
        return response;
      }
      case "fixed-key": {
        this.counts.keyExchanges++;
        return buildServerResponse({
          protocol: decision.protocol,
          aead: decision.aead,
          cookies: this.mintCookies(decision.aead, decision.c2sKey, decision.s2cKey),
          ...this.ntpServers.choose(),
        });
      }
      case "supported-lists":
        return buildSupportedListsResponse({
          protocols: decision.protocols,
          algorithms: decision.algorithms,
        });
      case "reject":
        this.counts.rejected++;
        if (this.log.enabled("debug")) {
          this.log.debug("NTS-KE request rejected", {
            client: client(),
            reason: decision.rejection.message,
          });
        }
        return decision.response;
    }
  }

  private mintCookies(aead: number, c2s: Uint8Array, s2c: Uint8Array): Uint8Array[] {
    return mintCookies(this.keys.current(), aead, c2s, s2c, randomBytes, defaultAeadProvider());
  }
}
