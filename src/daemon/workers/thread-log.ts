// A serving thread's logger: each record goes to the main thread (postMessage), which
// logs it with its own logger, so lines from every thread go to the same place in the
// same format, with a `thread` field.

import {
  LOG_LEVELS,
  LogOutput,
  Logger,
  MemorySink,
  type LogFields,
  type LogLevel,
} from "../log.js";

export type LogRecordPoster = (
  level: LogLevel,
  component: string,
  message: string,
  fields?: LogFields,
) => void;

export class ForwardingLogger extends Logger {
  constructor(
    private readonly gate: LogOutput,
    component: string,
    private readonly post: LogRecordPoster,
  ) {
    super(gate, component);
  }

  /** Forwards records of `level` and above (the main thread's level). */
  static create(level: LogLevel, component: string, post: LogRecordPoster): ForwardingLogger {
    // The sink is never written: log() below forwards instead of formatting.
    return new ForwardingLogger(new LogOutput(level, new MemorySink(), false), component, post);
  }

  override child(component: string): Logger {
    return new ForwardingLogger(this.gate, component, this.post);
  }

  override log(level: LogLevel, message: string, fields?: LogFields): void {
    if (this.gate.enabled(level)) this.post(level, this.component, message, fields);
  }
}

/** The least severe level `log` lets through. */
export function loggedLevel(log: Logger): LogLevel {
  return LOG_LEVELS.find((level) => log.enabled(level)) ?? "error";
}
