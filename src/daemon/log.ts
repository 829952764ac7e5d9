// The daemon's logger: one line per event, with a UTC timestamp, the level,
// the component and key=value fields, e.g.
//   2026-11-26T08:31:54.123Z  INFO source: new source address=127.0.0.1:123
// Values with spaces or quotes are quoted so a line stays machine-splittable.

import { LOG_LEVELS } from "../proto/config/schema-system.js";

export { LOG_LEVELS };
export type LogLevel = (typeof LOG_LEVELS)[number];

export type LogFields = Record<string, string | number | boolean | bigint | null | undefined>;

export interface LogSink {
  write(line: string): void;
}

const LEVEL_RANK: Record<LogLevel, number> = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };
const LEVEL_LABEL: Record<LogLevel, string> = {
  trace: "TRACE",
  debug: "DEBUG",
  info: " INFO",
  warn: " WARN",
  error: "ERROR",
};
const LEVEL_COLOR: Record<LogLevel, string> = {
  trace: "\x1b[35m",
  debug: "\x1b[34m",
  info: "\x1b[32m",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};
const RESET = "\x1b[0m";
const DIM = "\x1b[2m";

export function isLogLevel(value: string): value is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(value);
}

/** Shared state of all component loggers: where lines go and what passes. */
export class LogOutput {
  constructor(
    public level: LogLevel,
    public sink: LogSink,
    public colors: boolean,
  ) {}

  enabled(level: LogLevel): boolean {
    return LEVEL_RANK[level] >= LEVEL_RANK[this.level];
  }
}

export class Logger {
  constructor(
    private readonly output: LogOutput,
    readonly component: string,
  ) {}

  child(component: string): Logger {
    return new Logger(this.output, component);
  }

  enabled(level: LogLevel): boolean {
    return this.output.enabled(level);
  }

  trace(message: string, fields?: LogFields): void {
    this.log("trace", message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.log("debug", message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.log("info", message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.log("warn", message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.log("error", message, fields);
  }

  log(level: LogLevel, message: string, fields?: LogFields): void {
    if (!this.output.enabled(level)) return;
    this.output.sink.write(
      formatLogLine(new Date(), level, this.component, message, fields, this.output.colors),
    );
  }
}

export function formatLogLine(
  time: Date,
  level: LogLevel,
  component: string,
  message: string,
  fields: LogFields | undefined,
  colors: boolean,
): string {
  const stamp = time.toISOString();
  const label = colors ? `${LEVEL_COLOR[level]}${LEVEL_LABEL[level]}${RESET}` : LEVEL_LABEL[level];
  const head = colors ? `${DIM}${stamp}${RESET}` : stamp;
  let line = `${head} ${label} ${component}: ${message}`;
  if (fields) {
    for (const [key, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      line += ` ${key}=${formatValue(value)}`;
    }
  }
  return line + "\n";
}

function formatValue(value: string | number | boolean | bigint | null): string {
  if (value === null) return "null";
  if (typeof value !== "string") return String(value);
  return /^[^\s"=]+$/.test(value) ? value : JSON.stringify(value);
}

/** Writes to a stream (stdout by default). */
export function streamSink(stream: NodeJS.WritableStream = process.stdout): LogSink {
  return { write: (line) => void stream.write(line) };
}

/** Collects lines in memory; for tests. */
export class MemorySink implements LogSink {
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
}

export function createLogger(
  level: LogLevel,
  sink: LogSink = streamSink(),
  colors = false,
): Logger {
  return new Logger(new LogOutput(level, sink, colors), "ntp-daemon");
}
