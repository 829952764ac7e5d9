// Where a program finds its configuration, as ntpd-rs's programs do: the -c
// path when given, else /etc/ntpd-rs/ntp.toml when it exists, else the
// built-in defaults. ntp-daemon and ntp-metrics-exporter load it the same way:
// warnings and errors to standard error, exit 78 on an error.

import { existsSync } from "node:fs";
import {
  formatDiagnostic,
  parseConfig,
  type Config,
  type ConfigResult,
} from "../proto/config/index.js";
import { loadConfigFile } from "../daemon/config-file.js";
import { DEFAULT_CONFIG_PATH } from "./args.js";

/** The file to read, or null for the built-in defaults. */
export function configPathFor(option: string | undefined): string | null {
  if (option !== undefined) return option;
  return existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null;
}

/**
 * The configuration, or the built-in defaults (with their warnings: they do
 * nothing). Warnings and errors go to standard error; null when there were
 * errors (the program exits 78).
 */
export async function loadProgramConfig(path: string | null): Promise<Config | null> {
  const loaded = await readProgramConfig(path);
  for (const w of loaded.warnings) process.stderr.write(`warning: ${formatDiagnostic(w)}\n`);
  if (!loaded.ok) {
    for (const e of loaded.errors) process.stderr.write(`${formatDiagnostic(e)}\n`);
    return null;
  }
  return loaded.config;
}

function readProgramConfig(path: string | null): Promise<ConfigResult> {
  if (path === null) {
    const defaults = parseConfig("", "built-in defaults (no ntp.toml)");
    // No file, so no position in it.
    defaults.warnings = defaults.warnings.map((w) => ({ ...w, line: 0, column: 0 }));
    return Promise.resolve(defaults);
  }
  return loadConfigFile(path);
}
