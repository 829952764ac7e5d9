// The last resort of a program's start-up: an error nothing else turned into a
// message. The operator gets one line (no stack trace); NTPD_TS_BACKTRACE=1
// adds the stack, for a bug report.

import { EXIT_SOFTWARE } from "./args.js";

/** The line for an unexpected error, ending in a newline. */
export function internalErrorText(
  program: string,
  error: unknown,
  env: NodeJS.ProcessEnv = process.env,
): string {
  const message = error instanceof Error ? error.message : String(error);
  const oneLine = message.replace(/\s*\n\s*/g, " ").trim() || "unknown error";
  if (env.NTPD_TS_BACKTRACE === "1" && error instanceof Error && error.stack) {
    return `${program}: internal error: ${oneLine}\n${error.stack}\n`;
  }
  return (
    `${program}: internal error: ${oneLine} ` +
    "(a bug: please report it; NTPD_TS_BACKTRACE=1 shows where it happened)\n"
  );
}

/**
 * Runs a long-lived program's main (ntp-daemon, ntp-metrics-exporter) to its
 * exit code; an unexpected error is one line and exit 70.
 */
export function exitWith(program: string, main: Promise<number>): void {
  main.then(
    (code) => {
      process.exitCode = code;
      // Sockets and timers are closed by now; nothing left pending may keep us alive.
      setTimeout(() => process.exit(code), 500).unref();
    },
    (error: unknown) => {
      process.stderr.write(internalErrorText(program, error));
      process.exit(EXIT_SOFTWARE);
    },
  );
}
