// Builds bench/gnutls-floor.c, the server of the `gnutls-floor` bench target
// (targets.ts): ke-floor.c's twin on GnuTLS (chrony's TLS library), whose CPU
// per exchange is what GnuTLS alone costs with the bench's certificate.
import { buildCProgram } from "./build-c.js";

/** Compiles gnutls-floor.c into bench/build/ unless up to date; its path, or the compiler's complaint. */
export function buildGnuTlsFloor(): Promise<{ bin: string } | { error: string }> {
  return buildCProgram("gnutls-floor", ["-lgnutls"], "libgnutls28-dev missing?");
}
