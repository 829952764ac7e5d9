// The offset check for a measurement between two clocks that are the same clock (both
// ends on this machine, over loopback). With t1 ≤ t2 ≤ t3 ≤ t4 read from one clock, the
// offset ((t2 − t1) + (t3 − t4)) / 2 can never exceed half the delay
// (t4 − t1) − (t3 − t2): a loaded machine that delays one leg shows a larger offset, but
// never beyond that bound. A fixed bound (5 ms) failed on a machine with load average
// ~20 (offset −7.7 ms with delay 15 ms), which is within what the delay permits.
import assert from "node:assert/strict";

/**
 * Beyond delay/2: timestamp rounding (log lines print microseconds, NTP timestamps
 * 2^-32 s) and a possible slew of the shared clock between the four readings.
 */
export const LOOPBACK_OFFSET_MARGIN_S = 0.0005;

/** Asserts |offset| ≤ delay/2 + margin (seconds), naming `context` (the log line...) if not. */
export function assertLoopbackOffset(offset: number, delay: number, context: string): void {
  assert.ok(delay >= 0, `negative delay ${delay} s: ${context}`);
  assertOffsetWithin(offset, delay / 2, `delay ${(delay * 1e3).toFixed(3)} ms: ${context}`);
}

/**
 * The same check against an error bound a client reports instead of the delay (chronyc
 * sources' "+/-": half the delay plus the dispersion, root delay 0 from a stratum 1).
 */
export function assertOffsetWithin(offset: number, halfDelay: number, context: string): void {
  assert.ok(
    Number.isFinite(offset) && Number.isFinite(halfDelay) && halfDelay >= 0,
    `offset ${offset} s or bound ${halfDelay} s not a measurement: ${context}`,
  );
  const bound = halfDelay + LOOPBACK_OFFSET_MARGIN_S;
  assert.ok(
    Math.abs(offset) <= bound,
    `offset too large: ${(offset * 1e3).toFixed(3)} ms, beyond ${(bound * 1e3).toFixed(3)} ms ` +
      `(half the delay + ${LOOPBACK_OFFSET_MARGIN_S * 1e3} ms): ${context}`,
  );
}
