// Skipping integration tests whose external tools are missing — with the
// reason printed — except under CI (CI=true), where a missing tool means the
// CI script forgot to install it: that is a failure, not a skip.
import type { TestContext } from "node:test";

/**
 * If `reason` is set: under CI throws it as an error; otherwise marks the test
 * skipped with it and returns true (the caller returns). Returns false when
 * nothing is missing.
 *
 *   if (skipIfMissing(t, chronyUnavailable())) return;
 */
export function skipIfMissing(t: TestContext, reason: string | undefined): boolean {
  if (reason === undefined) return false;
  if (process.env.CI === "true" || process.env.CI === "1") {
    throw new Error(`${reason} — required under CI`);
  }
  t.skip(reason);
  return true;
}

/**
 * For a describe()'s `skip` option, where there is no TestContext yet: the reason
 * outside CI; under CI false, so the suite runs and fails on what is missing.
 */
export function skipOutsideCi(reason: string | false): string | false {
  return process.env.CI === "true" || process.env.CI === "1" ? false : reason;
}
