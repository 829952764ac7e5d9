// Where a program finds its configuration, as ntpd-rs's programs do: the -c
// path when given, else /etc/ntpd-rs/ntp.toml when it exists, else the
// built-in defaults.

import { existsSync } from "node:fs";
import { defaultConfig, type ConfigResult } from "../proto/config/index.js";
import { loadConfigFile } from "../daemon/config-file.js";
import { DEFAULT_CONFIG_PATH } from "./args.js";

/** The file to read, or null for the built-in defaults. */
export function configPathFor(option: string | undefined): string | null {
  if (option !== undefined) return option;
  return existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : null;
}

export function loadProgramConfig(path: string | null): Promise<ConfigResult> {
  if (path === null) return Promise.resolve({ ok: true, config: defaultConfig(), warnings: [] });
  return loadConfigFile(path);
}
