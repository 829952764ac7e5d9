#!/usr/bin/env node
// ntp-ctl validate [-c PATH] | status [-f plain|prometheus] [-c PATH] | force-sync [-c PATH]
//   | source list|add|remove ... [--save] [-c PATH] | -h | -v
// `validate` checks a configuration the way the daemon reads it and also
// fails on the warnings ntpd-rs's `ntp-ctl validate` fails on. `status` reads
// the daemon's observation socket (the configuration only says where it is)
// and prints it in ntpd-rs's plain layout or as OpenMetrics text. `force-sync`
// (force-sync.ts) asks the configured sources once and offers to step the clock.
// `source` (source-command.ts) changes the running daemon's sources through
// its control socket.

import { existsSync } from "node:fs";
import { formatDiagnostic } from "../proto/config/index.js";
import { loadConfigFile } from "../daemon/config-file.js";
import { machineWarnings } from "./config-checks.js";
import { ObservationReadError, readObservation } from "./observation-client.js";
import { DEFAULT_CONFIG_PATH, parseCommandLine, UsageError } from "./args.js";
import { forceSync } from "./force-sync.js";
import { sourceCommand } from "./source-command.js";
import { renderMetrics } from "./metrics.js";
import { formatStatusPlain } from "./status-plain.js";
import { packageVersion } from "../daemon/version.js";
import { internalErrorText } from "./fatal.js";

/** Where `status` looks when the configuration names no observation-path (as ntpd-rs). */
export const DEFAULT_OBSERVATION_PATH = "/var/run/ntpd-rs/observe";

const USAGE = `usage: ntp-ctl validate [-c PATH]
       ntp-ctl status [-f FORMAT] [-c PATH]
       ntp-ctl force-sync [-c PATH]
       ntp-ctl source list [-c PATH]
       ntp-ctl source add MODE ADDRESS [KEY=VALUE ...] [--save] [-c PATH]
       ntp-ctl source remove ID|ADDRESS [--save] [-c PATH]
       ntp-ctl -h | -v

Commands:
  validate    check a configuration file; prints "Config looks good" or the problems
  status      show the daemon's sources, servers and synchronization status
  force-sync  ask the configured sources for the time and offer to step the clock
  source      list, add or remove the running daemon's sources (control-path)

Options:
  -c, --config PATH     configuration file (default ${DEFAULT_CONFIG_PATH})
  -f, --format FORMAT   status output: plain (default) or prometheus
      --save            source add/remove: also change the configuration file
  -h, --help            this help
  -v, --version         print the version
`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv, {
      config: { type: "string", short: "c" },
      format: { type: "string", short: "f" },
      save: { type: "boolean" },
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
    case "status": {
      const format = values.format ?? "plain";
      if (format !== "plain" && format !== "prometheus") {
        process.stderr.write(`ntp-ctl: invalid format option provided: ${format}\n${USAGE}`);
        return 1;
      }
      return status(values.config, format);
    }
    case "force-sync":
      return forceSync(values.config ?? DEFAULT_CONFIG_PATH);
    case "source":
      return sourceCommand(positionals.slice(1), {
        configPath: values.config ?? DEFAULT_CONFIG_PATH,
        save: values.save === true,
        out: (text) => process.stdout.write(text),
        err: (text) => process.stderr.write(text),
      });
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
  if (result.ok) result.warnings.push(...machineWarnings(result.config, path));
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

async function status(
  configPath: string | undefined,
  format: "plain" | "prometheus",
): Promise<number> {
  const path = await observationPath(configPath);
  let observation;
  try {
    observation = await readObservation(path);
  } catch (error) {
    if (error instanceof ObservationReadError && error.stage === "connect") {
      process.stderr.write(`Could not open socket at ${path}: ${error.message}\n`);
      return 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`Failed to read state from observation socket: ${message}\n`);
    return 1;
  }
  process.stdout.write(
    format === "plain" ? formatStatusPlain(observation) : await renderMetrics(observation),
  );
  return 0;
}

/**
 * The socket path from the configuration. As ntpd-rs, a configuration that
 * cannot be loaded is a warning and the default path is used; so is a missing
 * default configuration file (silently).
 */
async function observationPath(configPath: string | undefined): Promise<string> {
  const file = configPath ?? DEFAULT_CONFIG_PATH;
  if (configPath === undefined && !existsSync(file)) return DEFAULT_OBSERVATION_PATH;
  const result = await loadConfigFile(file);
  if (!result.ok) {
    const first = result.errors[0];
    process.stderr.write(
      `Warning: Unable to load configuration file: ${first ? formatDiagnostic(first) : file}\n`,
    );
    return DEFAULT_OBSERVATION_PATH;
  }
  return result.config.observability.observationPath ?? DEFAULT_OBSERVATION_PATH;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(internalErrorText("ntp-ctl", error));
    process.exitCode = 1;
  },
);
