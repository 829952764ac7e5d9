// Command-line parsing shared by the programs, in the style of ntpd-rs: short
// and long options, `--` ends options, unknown options are errors.

import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {}

export type OptionSpec = NonNullable<ParseArgsConfig["options"]>;

export function parseCommandLine<T extends OptionSpec>(argv: string[], options: T) {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true, strict: true as const });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

export const DEFAULT_CONFIG_PATH = "/etc/ntpd-rs/ntp.toml";

/** Exit codes, as ntpd-rs (sysexits.h). */
export const EXIT_SOFTWARE = 70; // internal error, panic threshold, cannot control the clock
export const EXIT_NOPERM = 77; // cannot read the clock
export const EXIT_CONFIG = 78; // configuration error
