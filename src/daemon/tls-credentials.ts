// The NTS-KE server's certificate chain and private key: loaded from PEM
// files, checked, and loaded again when either file changes (or on SIGHUP),
// so a renewal by certbot or an ACME client needs no restart. A reload that
// fails keeps the credentials in use and logs why. A certificate that is
// expired, not yet valid or about to expire (certificate-dates.ts) is served
// all the same (clients judge it; refusing to start would help no one) with a
// warning at start, at each reload and once a day while the problem lasts.

import { X509Certificate, createPrivateKey } from "node:crypto";
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { certificateDateProblem } from "./certificate-dates.js";
import { fsReason } from "./fs-reason.js";
import type { Logger } from "./log.js";

export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  /** The leaf certificate, for logs (subject, expiry). */
  leaf: X509Certificate;
}

export class CredentialsError extends Error {}

/** Reads and checks the chain and key; throws CredentialsError with a precise reason. */
export function loadTlsCredentials(chainPath: string, keyPath: string): TlsCredentials {
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(chainPath);
  } catch (error) {
    throw new CredentialsError(
      `cannot read certificate-chain-path ${chainPath}: ${fsReason(error)}`,
    );
  }
  try {
    key = readFileSync(keyPath);
  } catch (error) {
    throw new CredentialsError(`cannot read private-key-path ${keyPath}: ${fsReason(error)}`);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new CredentialsError(
      `${chainPath} holds no PEM certificate: ${(error as Error).message}`,
    );
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new CredentialsError(
      `${keyPath} holds no usable private key: ${(error as Error).message}`,
    );
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new CredentialsError(
      `the private key in ${keyPath} does not belong to the certificate in ${chainPath}`,
    );
  }
  return { cert, key, leaf };
}

/**
 * Watches the two files (stat polling, which survives the rename-into-place
 * that certbot and most ACME clients do) and calls `onChange` with fresh,
 * checked credentials.
 */
export class CredentialsWatcher {
  private readonly listener = () => this.reload("files changed");
  private leaf: X509Certificate | null = null;
  private dailyCheck: NodeJS.Timeout | null = null;

  constructor(
    private readonly chainPath: string,
    private readonly keyPath: string,
    private readonly onChange: (credentials: TlsCredentials) => void,
    private readonly log: Logger,
    private readonly intervalMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts watching the files that `initial` was loaded from; checks its dates. */
  start(initial: TlsCredentials): void {
    this.leaf = initial.leaf;
    this.checkDates();
    for (const path of [this.chainPath, this.keyPath]) {
      watchFile(path, { interval: this.intervalMs, persistent: false }, this.listener);
    }
    this.dailyCheck = setInterval(() => this.checkDates(), 86_400_000);
    this.dailyCheck.unref();
  }

  stop(): void {
    for (const path of [this.chainPath, this.keyPath]) unwatchFile(path, this.listener);
    if (this.dailyCheck) clearInterval(this.dailyCheck);
    this.dailyCheck = null;
  }

  /** When the certificate in use expires; null before start(). */
  get notAfter(): Date | null {
    return this.leaf ? new Date(this.leaf.validTo) : null;
  }

  /** Warns when the certificate in use is out of date or about to be. */
  checkDates(): void {
    if (!this.leaf) return;
    const problem = certificateDateProblem(this.leaf, this.now());
    if (problem === null) return;
    const consequence = problem.startsWith("expires")
      ? "renew it: the new file is picked up without a restart"
      : "NTS clients refuse it";
    this.log.warn(`the NTS-KE certificate ${problem}: ${consequence}`, {
      path: this.chainPath,
      subject: this.leaf.subject.replace(/\n/g, ", "),
    });
  }

  /** Loads the files again; on failure keeps the old credentials. */
  reload(reason: string): boolean {
    let credentials: TlsCredentials;
    try {
      credentials = loadTlsCredentials(this.chainPath, this.keyPath);
      // The TLS library may still refuse what node:crypto accepted (GnuTLS, nts-ke-native.ts).
      this.onChange(credentials);
    } catch (error) {
      this.log.error("could not reload the NTS-KE certificate; keeping the current one", {
        reason,
        error: (error as Error).message,
      });
      return false;
    }
    this.leaf = credentials.leaf;
    this.log.info("reloaded the NTS-KE certificate", {
      reason,
      subject: credentials.leaf.subject.replace(/\n/g, ", "),
      valid_to: credentials.leaf.validTo,
    });
    this.checkDates();
    return true;
  }
}
