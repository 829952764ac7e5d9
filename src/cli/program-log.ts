// A program's logger: to `path` when set (opened here; the caller reopens it
// on SIGHUP), else standard output, with colours as `ansi-colors` says or,
// when unset, only on a terminal without a log file (as ntpd-rs).

import { fsReason } from "../daemon/fs-reason.js";
import { createLogger, streamSink, type LogLevel, type Logger } from "../daemon/log.js";
import { LogFileSink } from "../daemon/log-file.js";

export interface ProgramLog {
  log: Logger;
  fileSink: LogFileSink | null;
}

/**
 * Null when the log file cannot be opened: `program` says why on standard
 * error (and exits 70).
 */
export function openProgramLog(
  program: string,
  level: LogLevel,
  path: string | null,
  ansiColors: boolean | null,
): ProgramLog | null {
  let fileSink: LogFileSink | null;
  try {
    fileSink = path === null ? null : new LogFileSink(path);
  } catch (error) {
    process.stderr.write(
      `${program}: could not open the log file ${path ?? ""}: ${fsReason(error)}\n`,
    );
    return null;
  }
  const colors = ansiColors ?? (fileSink === null && process.stdout.isTTY);
  return { log: createLogger(level, fileSink ?? streamSink(), colors), fileSink };
}

export interface SignalActions {
  /** SIGTERM or SIGINT: stop everything (called once). */
  stop(): void;
  /** SIGHUP, after the log file was reopened. */
  reload?(): void;
}

/**
 * Resolves with exit code 0 once SIGTERM or SIGINT has stopped the program.
 * SIGHUP reopens the log file (logrotate) and then calls `reload`.
 */
export function waitForSignals(
  { log, fileSink }: ProgramLog,
  actions: SignalActions,
): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info("shutting down", { signal });
      actions.stop();
      fileSink?.close();
      resolve(0);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
    process.on("SIGHUP", () => {
      try {
        fileSink?.reopen();
        if (fileSink) log.info("log file reopened");
      } catch (error) {
        log.error("could not reopen the log file", { error: String(error) });
      }
      actions.reload?.();
    });
  });
}
