// One `[[nts-ke-server]]`: TLS 1.3 on `listen`, ALPN ntske/1 required, one
// request and one response per connection (RFC 8915 §4). The protocol
// decisions come from src/proto/nts/ke; this file moves bytes, exports the
// keys from the TLS session and mints the cookies.
//
// Limits: at most `concurrent-connections` connections at once (further ones
// are closed at once, so a flood cannot exhaust memory), and each connection
// must finish handshake and exchange within `key-exchange-timeout-ms`.

import { constants as cryptoConstants, randomBytes } from "node:crypto";
import type { Socket } from "node:net";
import { createServer, type Server, type TLSSocket } from "node:tls";
import type { NtsKeServerConfig } from "../proto/config/types.js";
import { SUPPORTED_AEADS } from "../proto/crypto/registry.js";
import { COOKIE_NONCE_LENGTH, encodeCookie } from "../proto/nts/cookie/cookie.js";
import { MAX_COOKIES } from "../proto/nts/cookie/stash.js";
import { defaultAeadProvider } from "./native/aead.js";
import type { KeySet } from "../proto/nts/keyset/keyset.js";
import { KeErrorCode } from "../proto/nts/ke/records.js";
import {
  buildErrorResponse,
  buildServerResponse,
  buildSupportedListsResponse,
  ServerRequestDecoder,
  type KeServerConfig,
  type KeServerDecision,
} from "../proto/nts/ke/server-messages.js";
import {
  aeadKeyLength,
  keyExportContext,
  NTS_KE_ALPN,
  NTS_KE_EXPORTER_LABEL,
} from "../proto/nts/ke/key-export.js";
import type { AeadId } from "../proto/crypto/aead.js";
import type { Logger } from "./log.js";
import { formatHostPort } from "./resolve.js";
import { CredentialsWatcher, loadTlsCredentials, type TlsCredentials } from "./tls-credentials.js";
import { NtsKeStats, type NtsKeOutcome } from "./nts-ke-stats.js";
import { NtpServerChoice } from "../proto/nts/ke/ntp-server-choice.js";

export { NtsKeStats } from "./nts-ke-stats.js";

/** Where the cookie master keys come from: read once per key exchange. */
export interface KeySetProvider {
  current(): KeySet;
}

/** The NTS-KE listener could not be opened (address in use, no permission). */
export class NtsKeListenError extends Error {}

/** One accepted connection: its outcome is counted once, by the first to settle it. */
interface Connection {
  outcome: NtsKeOutcome | null;
}

const random = (n: number) => new Uint8Array(randomBytes(n));

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
  readonly stats = new NtsKeStats();
  readonly listenText: string;
  private server: Server | null = null;
  private readonly watcher: CredentialsWatcher;
  private readonly keConfig: KeServerConfig;
  /** `ntp-server` / `ntp-port`: where each client is sent. */
  private readonly ntpServers: NtpServerChoice;
  private active = 0;
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

  /** Loads the certificate (throws CredentialsError) and starts listening. */
  async start(): Promise<void> {
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
    this.watcher.start(credentials);
    this.log.info("serving NTS-KE", {
      listen: this.listenText,
      subject: credentials.leaf.subject.replace(/\n/g, ", "),
      valid_to: credentials.leaf.validTo,
    });
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
    return this.active;
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

  private useCredentials(credentials: TlsCredentials): void {
    // New connections use the new context; the listener keeps running.
    this.server?.setSecureContext(secureContextOptions(credentials));
  }

  private settle(connection: Connection, outcome: NtsKeOutcome): void {
    if (connection.outcome !== null) return;
    connection.outcome = outcome;
    this.stats[outcome]++;
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
      this.stats.noAlpn++;
      this.log.debug("NTS-KE client without ALPN ntske/1 refused", {
        client: socket.remoteAddress,
      });
      socket.destroy();
      return;
    }
    const decoder = new ServerRequestDecoder(this.keConfig);
    let answered = false;
    const answer = (decision: KeServerDecision) => {
      if (answered) return;
      answered = true;
      socket.off("data", onData);
      let response: Uint8Array;
      try {
        response = this.respond(socket, decision);
        this.settle(connection, "served");
      } catch (error) {
        this.settle(connection, "failed");
        this.log.error("NTS-KE internal error", { error: (error as Error).message });
        response = buildErrorResponse(KeErrorCode.InternalServerError);
      }
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

  private respond(socket: TLSSocket, decision: KeServerDecision): Uint8Array {
    switch (decision.kind) {
      case "key-exchange": {
        const keyLength = aeadKeyLength(decision.aead);
        if (keyLength === undefined) throw new Error(`no key length for AEAD ${decision.aead}`);
        const c2s = socket.exportKeyingMaterial(
          keyLength,
          NTS_KE_EXPORTER_LABEL,
          Buffer.from(keyExportContext(decision.protocol, decision.exporterContextAead, "c2s")),
        );
        const s2c = socket.exportKeyingMaterial(
          keyLength,
          NTS_KE_EXPORTER_LABEL,
          Buffer.from(keyExportContext(decision.protocol, decision.exporterContextAead, "s2c")),
        );
        const cookies = this.mintCookies(decision.aead, c2s, s2c);
        c2s.fill(0);
        s2c.fill(0);
        this.stats.keyExchanges++;
        // socket.remoteAddress is a getpeername(2): only when it is logged.
        if (this.log.enabled("debug")) {
          this.log.debug("NTS-KE key exchange", {
            client: socket.remoteAddress,
            aead: decision.aead,
          });
        }
        return buildServerResponse({
          protocol: decision.protocol,
          aead: decision.aead,
          cookies,
          ...this.ntpServers.choose(decision.deniedServers),
          compliantGcmSivContext: decision.compliantGcmSivContext,
        });
      }
      case "fixed-key": {
        this.stats.keyExchanges++;
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
        this.stats.rejected++;
        if (this.log.enabled("debug")) {
          this.log.debug("NTS-KE request rejected", {
            client: socket.remoteAddress,
            reason: decision.rejection.message,
          });
        }
        return decision.response;
    }
  }

  private mintCookies(aead: number, c2s: Uint8Array, s2c: Uint8Array): Uint8Array[] {
    const keyset = this.keys.current();
    // The nonces of all cookies from one CSPRNG call (each a fresh slice):
    // a randomBytes call costs about as much as sealing a cookie.
    const nonces = randomBytes(COOKIE_NONCE_LENGTH * MAX_COOKIES);
    let used = 0;
    const nonce = (n: number) => {
      if (used + n > nonces.length) return random(n);
      const slice = new Uint8Array(nonces.buffer, nonces.byteOffset + used, n);
      used += n;
      return slice;
    };
    const cookies: Uint8Array[] = [];
    for (let i = 0; i < MAX_COOKIES; i++) {
      cookies.push(
        encodeCookie(keyset, { aead: aead as AeadId, c2s, s2c }, nonce, defaultAeadProvider()),
      );
    }
    return cookies;
  }
}
