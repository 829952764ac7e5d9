// A program's logger: to `path` when set (opened here; the caller reopens it
// on SIGHUP), else standard output, with colours as `ansi-colors` says or,
// when unset, only on a terminal without a log file (as ntpd-rs).

import { createLogger, streamSink, type LogLevel, type Logger } from "../daemon/log.js";
import { LogFileSink } from "../daemon/log-file.js";

export interface ProgramLog {
  log: Logger;
  fileSink: LogFileSink | null;
}

/** Throws when the log file cannot be opened (the program exits 70). */
export function openProgramLog(
  level: LogLevel,
  path: string | null,
  ansiColors: boolean | null,
): ProgramLog {
  const fileSink = path === null ? null : new LogFileSink(path);
  const colors = ansiColors ?? (fileSink === null && process.stdout.isTTY);
  return { log: createLogger(level, fileSink ?? streamSink(), colors), fileSink };
}
