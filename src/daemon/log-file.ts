// A log file sink: created (truncated) at start, as ntpd-rs does, and opened
// again on request (SIGHUP) so logrotate can move the old file away. Writes
// are synchronous: the daemon logs a few lines a minute, and a line written
// just before an exit must not be lost.

import { closeSync, openSync, writeSync } from "node:fs";
import type { LogSink } from "./log.js";

export class LogFileSink implements LogSink {
  private fd: number;

  /** Throws if the file cannot be opened (the daemon exits 70, as ntpd-rs). */
  constructor(readonly path: string) {
    this.fd = openSync(path, "w", 0o640);
  }

  write(line: string): void {
    try {
      writeSync(this.fd, line);
    } catch {
      // A full disk must not take the time service down with it.
    }
  }

  /** Opens the path again (after logrotate renamed the file); keeps the old fd on failure. */
  reopen(): void {
    const fd = openSync(this.path, "a", 0o640);
    const old = this.fd;
    this.fd = fd;
    closeSync(old);
  }

  close(): void {
    closeSync(this.fd);
  }
}
