// The last resort of a program's start-up: an error nothing else turned into a
// message. The operator gets one line (no stack trace); NTPD_TS_BACKTRACE=1
// adds the stack, for a bug report.

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
