#!/usr/bin/env node
// ntp-daemon [-c PATH] [-l LEVEL] [--no-clock-control] | -h | -v
// Exit codes as ntpd-rs: 78 configuration error, 70 fatal (cannot control the
// clock, cannot open the log file, internal error).
// This file reads the command line and the configuration and opens the log;
// daemon/start.ts starts the daemon, and this file waits for signals.

import "./heap-tuning.js"; // first: before the program allocates
import { isLogLevel, type LogLevel } from "../daemon/log.js";
import { startDaemon } from "../daemon/start.js";
import {
  DEFAULT_CONFIG_PATH,
  EXIT_CONFIG,
  EXIT_SOFTWARE,
  parseCommandLine,
  UsageError,
} from "./args.js";
import { configPathFor, loadProgramConfig } from "./program-config.js";
import { openProgramLog, waitForSignals } from "./program-log.js";
import { packageVersion } from "../daemon/version.js";
import { exitWith } from "./fatal.js";

const USAGE = `usage: ntp-daemon [-c PATH] [-l LOG_LEVEL] [--no-clock-control]
       ntp-daemon -h | -v

Options:
  -c, --config PATH        configuration file (default ${DEFAULT_CONFIG_PATH} if it exists)
  -l, --log-level LEVEL    trace, debug, info, warn or error (overrides [observability] log-level)
      --no-clock-control   never touch the system clock: measure and serve only
  -h, --help               this help
  -v, --version            print the version
`;

async function main(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseCommandLine(argv, {
      config: { type: "string", short: "c" },
      "log-level": { type: "string", short: "l" },
      "no-clock-control": { type: "boolean" },
      help: { type: "boolean", short: "h" },
      version: { type: "boolean", short: "v" },
    }));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`ntp-daemon: ${error.message}\n${USAGE}`);
    return EXIT_CONFIG;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stderr.write(`ntp-daemon ${packageVersion()}\n`);
    return 0;
  }
  const cliLevel = values["log-level"];
  if (cliLevel !== undefined && !isLogLevel(cliLevel)) {
    process.stderr.write(`ntp-daemon: unknown log level "${cliLevel}"\n`);
    return EXIT_CONFIG;
  }

  const configPath = configPathFor(values.config);
  const config = await loadProgramConfig(configPath);
  if (config === null) return EXIT_CONFIG;
  const level: LogLevel = cliLevel ?? config.observability.logLevel;
  const { logPath, ansiColors } = config.observability;
  const programLog = openProgramLog("ntp-daemon", level, logPath, ansiColors);
  if (programLog === null) return EXIT_SOFTWARE;
  const { log } = programLog;

  let panicked = false;
  let configError = false;
  const daemon = await startDaemon({
    config,
    configPath,
    log,
    clockControl: !values["no-clock-control"],
    onPanic: () => {
      // The reason was logged as an error; nothing was stepped. Exit 70, as ntpd-rs.
      panicked = true;
      process.kill(process.pid, "SIGTERM");
    },
    onConfigError: () => {
      configError = true;
    },
  });
  if (daemon === null) return configError ? EXIT_CONFIG : EXIT_SOFTWARE;

  const code = await waitForSignals(programLog, {
    stop: () => daemon.stop(),
    reload: () => daemon.reload(),
  });
  return panicked ? EXIT_SOFTWARE : code;
}

exitWith("ntp-daemon", main(process.argv.slice(2)));
