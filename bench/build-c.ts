// Compiles one of the bench's C programs (bench/NAME.c) into bench/build/NAME
// unless the binary is newer than its source: the load generators and the
// OpenSSL floor server are built on first use, with the machine's cc.
import { existsSync, mkdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCommand } from "../test/helpers/process.js";

const here = dirname(fileURLToPath(import.meta.url));

/**
 * The path of bench/build/NAME, built from bench/NAME.c with `libs` (e.g.
 * ["-lssl", "-lcrypto"]), or the compiler's first line of complaint (with
 * `hint`, e.g. the package that may be missing).
 */
export async function buildCProgram(
  name: string,
  libs: readonly string[] = [],
  hint = "",
): Promise<{ bin: string } | { error: string }> {
  const source = join(here, `${name}.c`);
  const binary = join(here, "build", name);
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) {
    return { bin: binary };
  }
  mkdirSync(dirname(binary), { recursive: true });
  const r = await runCommand("cc", ["-O2", "-Wall", "-Wextra", "-o", binary, source, ...libs], {
    timeoutMs: 60000,
  });
  if (r.code !== 0) {
    const why = (r.stderr + r.stdout).trim().split("\n")[0];
    return { error: `cc failed to build ${source}${hint ? ` (${hint})` : ""}: ${why}` };
  }
  return { bin: binary };
}
