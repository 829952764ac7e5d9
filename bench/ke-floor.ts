// Builds bench/ke-floor.c, the server of the `openssl-floor` bench target
// (targets.ts): a bare serial NTS-KE-shaped server on OpenSSL, whose CPU per
// exchange is what OpenSSL alone costs (handshake, key export, one write,
// close_notify) with the bench's certificate; ours minus it is node:tls plus
// our own code.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "../test/helpers/process.js";

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, "ke-floor.c");
const BINARY = join(here, "build", "ke-floor");

/** Compiles ke-floor.c into bench/build/ unless up to date; its path, or the compiler's complaint. */
export async function buildKeFloor(): Promise<{ bin: string } | { error: string }> {
  if (existsSync(BINARY) && statSync(BINARY).mtimeMs >= statSync(SOURCE).mtimeMs) {
    return { bin: BINARY };
  }
  mkdirSync(dirname(BINARY), { recursive: true });
  const r = await runCommand(
    "cc",
    ["-O2", "-Wall", "-Wextra", "-o", BINARY, SOURCE, "-lssl", "-lcrypto"],
    { timeoutMs: 60000 },
  );
  if (r.code !== 0) {
    return {
      error: `cc failed to build ${SOURCE} (libssl-dev missing?): ${(r.stderr + r.stdout).trim().split("\n")[0]}`,
    };
  }
  return { bin: BINARY };
}
