#!/usr/bin/env node
// ntp-ctl validate [-c PATH] | -h | -v
// `validate` checks a configuration the way the daemon reads it and also
// fails on the warnings ntpd-rs's `ntp-ctl validate` fails on.

import { formatDiagnostic } from "../proto/config/index.js";
import { loadConfigFile } from "../daemon/config-file.js";
import { DEFAULT_CONFIG_PATH, parseCommandLine, UsageError } from "./args.js";
import { packageVersion } from "./version.js";

const USAGE = `usage: ntp-ctl validate [-c PATH]
       ntp-ctl -h | -v

Commands:
  validate    check a configuration file; prints "Config looks good" or the problems

Options:
  -c, --config PATH   configuration file (default ${DEFAULT_CONFIG_PATH})
  -h, --help          this help
  -v, --version       print the version
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv, {
      config: { type: "string", short: "c" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    });
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`ntp-ctl: ${error.message}\n${USAGE}`);
    return 1;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stderr.write(`ntp-ctl ${packageVersion()}\n`);
    return 0;
  }
  const command = positionals[0];
  switch (command) {
    case "validate":
      return validate(values.config ?? DEFAULT_CONFIG_PATH);
    case undefined:
      process.stderr.write(`ntp-ctl: a command is required\n${USAGE}`);
      return 1;
    default:
      process.stderr.write(`ntp-ctl: unknown command "${command}"\n${USAGE}`);
      return 1;
  }
}

async function validate(path: string): Promise<number> {
  const result = await loadConfigFile(path);
  if (!result.ok) {
    process.stderr.write(`Error: Could not load configuration:\n`);
    for (const e of result.errors) process.stderr.write(`${formatDiagnostic(e)}\n`);
  }
  for (const w of result.warnings) process.stderr.write(`Warning: ${formatDiagnostic(w)}\n`);
  if (result.ok && result.warnings.length === 0) {
    process.stderr.write("Config looks good\n");
    return 0;
  }
  return 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`ntp-ctl: internal error: ${String(error)}\n`);
    process.exitCode = 1;
  },
);
