// Verifying an NTS-KE server's certificate chain with its validity dates left
// out, for `no-certificate-time-check` (machines that boot without a
// real-time clock). OpenSSL verified the chain during the handshake and
// reported a date error; OpenSSL keeps only the last error it found, and a
// date error can hide an earlier one (an unknown issuer, a bad signature), so
// everything but the dates is verified again here, on its own:
//   - the leaf is a pinned self-signed certificate of `certificate-authority`,
//     or it names the server (checkServerIdentity: DNS names, IP SANs) and
//     allows TLS server use (extended key usage, when present);
//   - every certificate is issued by the next one (names and signature), and
//     each issuer is a CA;
//   - the chain ends at a trust anchor: the system roots plus the
//     `certificate-authority` file.
// The validity window of the chain (latest notBefore, earliest notAfter) is
// returned, to be checked once the clock has been set.

import { X509Certificate } from "node:crypto";
import { checkServerIdentity, type DetailedPeerCertificate } from "node:tls";
import { certificateDates } from "./certificate-dates.js";

/** TLS Web Server Authentication (RFC 5280 §4.2.1.12). */
const SERVER_AUTH = "1.3.6.1.5.5.7.3.1";
const MAX_DEPTH = 10;

export interface ChainValidity {
  /** Unix milliseconds: the chain is valid from the latest notBefore to the earliest notAfter. */
  notBefore: number;
  notAfter: number;
}

export interface TrustAnchors {
  /** The certificates trusted as anchors. */
  anchors(): readonly X509Certificate[];
  /** A pinned self-signed end-entity certificate (certificate-authority). */
  isPinned(certificate: { fingerprint256: string }): boolean;
}

/** The chain the server sent, leaf first, as Node reports it. */
export function peerChain(leaf: DetailedPeerCertificate): X509Certificate[] {
  const chain: X509Certificate[] = [];
  let current: DetailedPeerCertificate | undefined = leaf;
  const seen = new Set<string>();
  while (
    current?.raw !== undefined &&
    chain.length < MAX_DEPTH &&
    !seen.has(current.fingerprint256)
  ) {
    seen.add(current.fingerprint256);
    chain.push(new X509Certificate(current.raw));
    current = current.issuerCertificate;
  }
  return chain;
}

/**
 * Throws an Error saying what is wrong with `chain` (leaf first) for `host`,
 * dates aside; returns the chain's validity window otherwise.
 */
export function verifyChainIgnoringDates(
  chain: readonly X509Certificate[],
  host: string,
  peer: DetailedPeerCertificate,
  trust: TrustAnchors,
): ChainValidity {
  const leaf = chain[0];
  if (leaf === undefined) throw new Error("the server sent no certificate");
  if (trust.isPinned(leaf)) return windowOf([leaf]);
  const identity = checkServerIdentity(host, peer);
  if (identity !== undefined) {
    throw new Error(`certificate does not match the server name: ${identity.message}`);
  }
  const usage = leaf.keyUsage;
  if (usage !== undefined && usage.length > 0 && !usage.includes(SERVER_AUTH)) {
    throw new Error("the certificate is not for TLS servers (extended key usage)");
  }
  const anchors = trust.anchors();
  const isAnchor = (c: X509Certificate) =>
    anchors.some((a) => a.fingerprint256 === c.fingerprint256);
  const used: X509Certificate[] = [];
  for (let i = 0; i < MAX_DEPTH; i++) {
    const cert = chain[i];
    if (cert === undefined) break;
    used.push(cert);
    if (isAnchor(cert)) return windowOf(used);
    const next = chain[i + 1];
    if (next !== undefined && issues(next, cert)) continue;
    // The chain as sent ends here: an anchor must have issued its last certificate.
    const anchor = anchors.find((a) => issues(a, cert));
    if (anchor !== undefined) return windowOf([...used, anchor]);
    break;
  }
  throw new Error(
    "certificate is not trusted (add its CA with certificate-authority): no chain to a trusted CA",
  );
}

/** Whether `issuer` is a CA that issued and signed `cert`. */
function issues(issuer: X509Certificate, cert: X509Certificate): boolean {
  return (
    issuer.ca &&
    issuer.fingerprint256 !== cert.fingerprint256 &&
    cert.checkIssued(issuer) &&
    cert.verify(issuer.publicKey)
  );
}

function windowOf(chain: readonly X509Certificate[]): ChainValidity {
  const dates = chain.map(certificateDates);
  return {
    notBefore: Math.max(...dates.map((d) => d.notBefore)),
    notAfter: Math.min(...dates.map((d) => d.notAfter)),
  };
}

/** Whether `nowMs` is inside the window. */
export function withinValidity(validity: ChainValidity, nowMs: number): boolean {
  return nowMs >= validity.notBefore && nowMs <= validity.notAfter;
}
