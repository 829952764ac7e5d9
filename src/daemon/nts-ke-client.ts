// The NTS-KE client: one TLS 1.3 connection with ALPN ntske/1, one request,
// one response, keys exported from the session (RFC 8915 §4). Trust is the
// system roots plus the source's `certificate-authority` file; that file may
// also hold the server's own self-signed certificate, which is then trusted
// for that server (ntpd-rs does not support this). The server may be named by
// a DNS name or by a raw IPv4/IPv6 address, checked against the certificate's
// IP SANs (ntpd-rs does not support this either).
//
// With `ignoreCertificateDates` (`[synchronization] no-certificate-time-check`,
// for machines without a real-time clock) a chain that fails only on its
// validity dates is accepted after every other check is made again without
// the dates (certificate-chain.ts); the result then carries the chain's
// validity window, to be checked once the clock is right.

import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import {
  checkServerIdentity,
  connect,
  createSecureContext,
  rootCertificates,
  type ConnectionOptions,
  type DetailedPeerCertificate,
  type PeerCertificate,
  type SecureContext,
  type TLSSocket,
} from "node:tls";
import { X509Certificate } from "node:crypto";
import { SUPPORTED_AEADS } from "../proto/crypto/registry.js";
import { buildClientRequest, ClientResponseDecoder } from "../proto/nts/ke/client-messages.js";
import {
  aeadKeyLength,
  keyExportContext,
  NTS_KE_ALPN,
  NTS_KE_EXPORTER_LABEL,
} from "../proto/nts/ke/key-export.js";
import { NextProtocolId } from "../proto/nts/ke/records.js";
import { isoSeconds } from "./certificate-dates.js";
import {
  peerChain,
  verifyChainIgnoringDates,
  type ChainValidity,
  type TrustAnchors,
} from "./certificate-chain.js";
import { fsReason } from "./fs-reason.js";
import { formatHostPort } from "./resolve.js";

/** ntpd-rs bounds the whole TLS handshake and exchange by 5 s. */
export const NTS_KE_TIMEOUT_MS = 5_000;
/** Default NTP port when the server sends no Port record. */
const DEFAULT_NTP_PORT = 123;

export interface KeyExchangeOptions {
  /** The server's name: what TLS checks, and where NTP goes without a Server record. */
  host: string;
  port: number;
  /** Connect to this address instead of resolving `host` (an SRV target already resolved). */
  address?: string;
  /** NTP Server Deny records: servers an NTS pool should not hand out (those in use). */
  denyServers?: readonly string[];
  /** Extra trust: PEM certificates (CAs, or the server's self-signed certificate). */
  trust: TrustStore;
  timeoutMs?: number;
  /** AEAD ids to offer, in order of preference (default 17, 15, 30). */
  aeadAlgorithms?: readonly number[];
  /** Gives up at once when aborted (the connection is closed). */
  signal?: AbortSignal;
  /** Accept a chain whose only fault is its validity dates by this machine's clock. */
  ignoreCertificateDates?: boolean;
  /** Next protocols to offer, in order of preference (default [0]: NTPv4; ntsNextProtocols). */
  nextProtocols?: readonly number[];
}

export interface KeyExchangeResult {
  aead: number;
  c2s: Uint8Array;
  s2c: Uint8Array;
  cookies: Uint8Array[];
  /** The next protocol the server chose (0 NTPv4, 0x8001 draft NTPv5). */
  protocol: number;
  /** Where to send NTP: the Server record, or the KE host. */
  ntpServer: string;
  ntpPort: number;
  /** Set when the chain was accepted out of its dates: its validity window, to check later. */
  uncheckedValidity?: ChainValidity;
}

export class KeyExchangeError extends Error {}

/** System roots plus the certificates of a `certificate-authority` file, built once. */
export class TrustStore implements TrustAnchors {
  readonly context: SecureContext;
  private parsedAnchors: X509Certificate[] | null = null;
  /** Fingerprints of self-signed end-entity certificates trusted as such. */
  private readonly pinned: Set<string>;

  private constructor(private readonly extra: string[]) {
    this.context = createSecureContext({
      ca: [...rootCertificates, ...extra],
      minVersion: "TLSv1.3",
      maxVersion: "TLSv1.3",
    });
    this.pinned = new Set();
    for (const pem of extra) {
      const cert = new X509Certificate(pem);
      if (!cert.ca && cert.checkIssued(cert)) this.pinned.add(cert.fingerprint256);
    }
  }

  static systemOnly(): TrustStore {
    return new TrustStore([]);
  }

  /** Reads a PEM file of one or more certificates; throws with the path on failure. */
  static async fromFile(path: string | null): Promise<TrustStore> {
    if (path === null) return TrustStore.systemOnly();
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (error) {
      throw new KeyExchangeError(`cannot read certificate-authority ${path}: ${fsReason(error)}`);
    }
    const pems = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g);
    if (!pems) throw new KeyExchangeError(`certificate-authority ${path} holds no PEM certificate`);
    try {
      return new TrustStore(pems);
    } catch (error) {
      throw new KeyExchangeError(
        `certificate-authority ${path}: a certificate cannot be parsed: ${(error as Error).message}`,
      );
    }
  }

  /** The system roots and the certificate-authority file, parsed the first time they are needed. */
  anchors(): readonly X509Certificate[] {
    this.parsedAnchors ??= [...rootCertificates, ...this.extra].flatMap((pem) => {
      try {
        return [new X509Certificate(pem)];
      } catch {
        return [];
      }
    });
    return this.parsedAnchors;
  }

  /** A pinned self-signed certificate identifies its server whatever its names say. */
  isPinned(certificate: PeerCertificate): boolean {
    return this.pinned.has(certificate.fingerprint256);
  }
}

/** What every NTS-KE connection of ours asks for: TLS 1.3 only, ALPN ntske/1. */
function keConnection(
  options: KeyExchangeOptions,
  servername: string | undefined,
): ConnectionOptions {
  return {
    host: options.address ?? options.host,
    port: options.port,
    servername,
    ALPNProtocols: [NTS_KE_ALPN],
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
  };
}

/** Runs one NTS-KE exchange; rejects with KeyExchangeError saying what failed. */
export function performKeyExchange(options: KeyExchangeOptions): Promise<KeyExchangeResult> {
  const aeads = options.aeadAlgorithms ?? SUPPORTED_AEADS;
  const offered = {
    nextProtocols: options.nextProtocols ?? [NextProtocolId.NTPv4],
    aeadAlgorithms: aeads,
  };
  const request = buildClientRequest({ ...offered, denyServers: options.denyServers ?? [] });
  const decoder = new ClientResponseDecoder({ offered });
  // SNI must be a DNS name (RFC 6066); an IP literal is checked against IP SANs.
  const servername = isIP(options.host) !== 0 ? undefined : options.host;

  return new Promise((resolve, reject) => {
    let settled = false;
    const ignoreDates = options.ignoreCertificateDates === true;
    let uncheckedValidity: ChainValidity | undefined;
    const socket: TLSSocket = connect({
      ...keConnection(options, servername),
      secureContext: options.trust.context,
      // Verified by hand in secureConnect instead (node calls this only for chains it trusts).
      rejectUnauthorized: !ignoreDates,
      checkServerIdentity: (host, certificate) =>
        options.trust.isPinned(certificate) ? undefined : checkServerIdentity(host, certificate),
    });
    socket.setNoDelay(true);
    const timer = setTimeout(
      () => fail(`no complete answer within ${options.timeoutMs ?? NTS_KE_TIMEOUT_MS} ms`),
      options.timeoutMs ?? NTS_KE_TIMEOUT_MS,
    );

    const onAbort = () => fail("aborted");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    if (options.signal?.aborted) onAbort();

    function fail(message: string): void {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(new KeyExchangeError(message));
    }

    function finish(): void {
      const result = decoder.end();
      if (settled) return;
      if (!result.ok) {
        fail(`bad NTS-KE response: ${result.error.message}`);
        return;
      }
      const response = result.value;
      const keyLength = aeadKeyLength(response.aead);
      if (keyLength === undefined) {
        fail(`server chose AEAD ${response.aead}, which has no known key length`);
        return;
      }
      const exportKey = (direction: "c2s" | "s2c") =>
        new Uint8Array(
          socket.exportKeyingMaterial(
            keyLength,
            NTS_KE_EXPORTER_LABEL,
            Buffer.from(
              keyExportContext(response.protocol, response.exporterContextAead, direction),
            ),
          ),
        );
      const c2s = exportKey("c2s");
      const s2c = exportKey("s2c");
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      socket.end();
      resolve({
        aead: response.aead,
        c2s,
        s2c,
        cookies: response.cookies,
        protocol: response.protocol,
        ntpServer: response.server ?? options.host,
        ntpPort: response.port ?? DEFAULT_NTP_PORT,
        ...(uncheckedValidity === undefined ? {} : { uncheckedValidity }),
      });
    }

    socket.once("secureConnect", () => {
      if (ignoreDates) {
        const problem = verifyIgnoringDates(socket, options);
        if (typeof problem === "string") {
          fail(problem);
          return;
        }
        uncheckedValidity = problem ?? undefined;
      }
      if (socket.alpnProtocol !== NTS_KE_ALPN) {
        fail(`server did not select ALPN ${NTS_KE_ALPN}`);
        return;
      }
      socket.write(request); // one write: some servers want the request in one segment
    });
    socket.on("data", (chunk: Buffer) => {
      const result = decoder.push(chunk);
      if (result !== null) finish();
    });
    socket.once("end", () => finish());
    socket.once("error", (error: NodeJS.ErrnoException) => {
      // A reset after End of Message is success (NTPsec answers close_notify with RST).
      if (!settled && decoder.push(new Uint8Array(0)) !== null) {
        finish();
        return;
      }
      if (error.code === "CERT_HAS_EXPIRED" || error.code === "CERT_NOT_YET_VALID") {
        // Node's message only repeats the code: look at the dates, then fail.
        settled = true;
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        void explainCertificateDates(options, servername).then((text) =>
          reject(new KeyExchangeError(text)),
        );
        return;
      }
      fail(describeTlsError(error));
    });
  });
}

const DATE_ERRORS = new Set(["CERT_HAS_EXPIRED", "CERT_NOT_YET_VALID"]);

/**
 * With `ignoreCertificateDates`: null when the handshake's verification
 * passed as it is (node then checked the name too), the chain's validity
 * window when it failed on dates only and everything else holds without them,
 * or what is wrong.
 */
function verifyIgnoringDates(
  socket: TLSSocket,
  options: KeyExchangeOptions,
): ChainValidity | string | null {
  const peer = socket.getPeerCertificate(true);
  if (socket.authorized) {
    const identity = options.trust.isPinned(peer)
      ? undefined
      : checkServerIdentity(options.host, peer);
    return identity === undefined ? null : describeTlsError(identity);
  }
  const code = String(socket.authorizationError);
  if (!DATE_ERRORS.has(code)) {
    const error = Object.assign(new Error(code), { code });
    return describeTlsError(error);
  }
  try {
    return verifyChainIgnoringDates(peerChain(peer), options.host, peer, options.trust);
  } catch (error) {
    return (error as Error).message;
  }
}

function describeTlsError(error: NodeJS.ErrnoException): string {
  switch (error.code) {
    case "ERR_TLS_CERT_ALTNAME_INVALID":
      return `certificate does not match the server name: ${error.message}`;
    case "UNABLE_TO_VERIFY_LEAF_SIGNATURE":
    case "UNABLE_TO_GET_ISSUER_CERT_LOCALLY":
    case "SELF_SIGNED_CERT_IN_CHAIN":
    case "DEPTH_ZERO_SELF_SIGNED_CERT":
      return `certificate is not trusted (add its CA with certificate-authority): ${error.message}`;
    case "ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION":
    case "ERR_SSL_UNSUPPORTED_PROTOCOL":
      return `server does not speak TLS 1.3: ${error.message}`;
    case "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL":
      return `server does not support ALPN ${NTS_KE_ALPN}: ${error.message}`;
    default:
      return error.message;
  }
}

/**
 * Why a server's certificate chain is out of its dates, naming the server, the
 * certificate and the date. It takes a second connection that verifies
 * nothing and only reads the chain (Node drops the certificate of a failed
 * verification); that connection sends no data.
 */
function explainCertificateDates(
  options: KeyExchangeOptions,
  servername?: string,
): Promise<string> {
  const server = formatHostPort(options.host, options.port);
  const fallback = `a certificate in the chain of ${server} is out of its validity dates (the server must renew it, or this machine's clock is wrong)`;
  return new Promise((resolve) => {
    const socket = connect({
      ...keConnection(options, servername),
      rejectUnauthorized: false,
    });
    const done = (text: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(text);
    };
    const timer = setTimeout(() => done(fallback), 2_000);
    socket.once("error", () => done(fallback));
    socket.once("secureConnect", () => {
      const now = Date.now();
      let certificate: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
      for (let depth = 0; certificate?.valid_to !== undefined && depth < 10; depth++) {
        const notBefore = Date.parse(certificate.valid_from);
        const notAfter = Date.parse(certificate.valid_to);
        const whose =
          depth === 0
            ? `the certificate of ${server}`
            : `the CA certificate "${String(certificate.subject?.CN ?? "?")}" in the chain of ${server}`;
        if (now > notAfter) {
          done(
            `${whose} expired on ${isoSeconds(notAfter)} (it must be renewed, or this machine's clock is wrong)`,
          );
          return;
        }
        if (now < notBefore) {
          done(
            `${whose} is not valid before ${isoSeconds(notBefore)} (is this machine's clock right?)`,
          );
          return;
        }
        if (certificate.issuerCertificate === certificate) break;
        certificate = certificate.issuerCertificate;
      }
      done(fallback);
    });
  });
}
