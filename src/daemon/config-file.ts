// Reads ntp.toml from disk and hands the text to the pure parser. Never throws: a file that
// cannot be read (or is not UTF-8) is an ordinary ok:false result naming the file.
import { readFile } from "node:fs/promises";
import { parseConfig } from "../proto/config/index.js";
import type { ConfigResult } from "../proto/config/index.js";
import { fsReason as reason } from "./fs-reason.js";

function failure(path: string, message: string): ConfigResult {
  return {
    ok: false,
    errors: [{ file: path, line: 0, column: 0, path: "", message }],
    warnings: [],
  };
}

export async function loadConfigFile(path: string): Promise<ConfigResult> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    return failure(path, `cannot read the configuration file: ${reason(e)}`);
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return failure(path, "cannot read the configuration file: it is not valid UTF-8 text");
  }
  return parseConfig(text, path);
}

/**
 * Why the configuration file's permissions are risky, or null: a file others
 * may write lets them choose our time sources (ntpd-rs warns about this too).
 */
export function configPermissionProblem(mode: number): string | null {
  const permissions = mode & 0o777;
  if ((permissions & 0o022) === 0) return null;
  const who = (permissions & 0o002) !== 0 ? "everyone" : "its group";
  return `the configuration file can be changed by ${who} (mode 0${permissions.toString(8)})`;
}
