// Validity dates of a TLS certificate, in words. The NTS-KE server warns about
// its own certificate; the client explains a server's.
//
// When to warn ahead of expiry: 14 days, or a third of the lifetime for a
// certificate that lives less than six weeks. ACME clients renew well before
// that (certbot at 30 days left of 90, a third of the lifetime; Let's
// Encrypt's short-lived certificates at half), so a certificate this close to
// its end has missed its renewal and someone should look. chrony and ntpd-rs
// only report an expired certificate when a client fails; neither warns ahead.

import type { X509Certificate } from "node:crypto";

const DAY_MS = 86_400_000;
const MAX_LEAD_MS = 14 * DAY_MS;

/** How long before its expiry a certificate living `lifetimeMs` draws a warning. */
export function expiryWarningLead(lifetimeMs: number): number {
  return Math.min(MAX_LEAD_MS, Math.max(0, lifetimeMs) / 3);
}

/** "2026-12-07T03:00:00Z": UTC, whole seconds. */
export function isoSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

export interface CertificateDates {
  /** Unix milliseconds. */
  notBefore: number;
  notAfter: number;
}

export function certificateDates(leaf: X509Certificate): CertificateDates {
  return { notBefore: Date.parse(leaf.validFrom), notAfter: Date.parse(leaf.validTo) };
}

/**
 * What is wrong with the certificate's dates at `nowMs`, as the end of a
 * sentence about the certificate ("expired on …", "is not valid before …",
 * "expires in 5 days, on …"), or null when nothing is.
 */
export function certificateDateProblem(leaf: X509Certificate, nowMs: number): string | null {
  const { notBefore, notAfter } = certificateDates(leaf);
  if (nowMs < notBefore) return `is not valid before ${isoSeconds(notBefore)}`;
  if (nowMs > notAfter) return `expired on ${isoSeconds(notAfter)}`;
  const left = notAfter - nowMs;
  if (left >= expiryWarningLead(notAfter - notBefore)) return null;
  const days = Math.floor(left / DAY_MS);
  const when = days === 0 ? "less than a day" : days === 1 ? "1 day" : `${days} days`;
  return `expires in ${when}, on ${isoSeconds(notAfter)}`;
}
