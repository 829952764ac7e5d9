// Builds bench/ke-floor.c, the server of the `openssl-floor` bench target
// (targets.ts): a bare serial NTS-KE-shaped server on OpenSSL, whose CPU per
// exchange is what OpenSSL alone costs (handshake, key export, one write,
// close_notify) with the bench's certificate; ours minus it is node:tls plus
// our own code.
import { buildCProgram } from "./build-c.js";

/** Compiles ke-floor.c into bench/build/ unless up to date; its path, or the compiler's complaint. */
export function buildKeFloor(): Promise<{ bin: string } | { error: string }> {
  return buildCProgram("ke-floor", ["-lssl", "-lcrypto"], "libssl-dev missing?");
}
