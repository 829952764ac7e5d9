// The drift file (`[synchronization] drift-file`): the clock's frequency
// correction and its uncertainty, kept across restarts so that a rebooted host
// (whose kernel starts again at frequency 0) does not spend its first minutes
// re-learning it. chrony keeps one (driftfile); ntpd-rs relies on the kernel
// keeping `freq` across daemon restarts, which a reboot loses.
//
// The file is text, one record:
//
//   # ntpd-ts drift file: frequency correction and its uncertainty, ppm
//   12.345678 0.004321
//
// the frequency as the kernel's `freq` (positive: the clock is made to run
// faster), within ±500 ppm, and the one-σ uncertainty the last clock update gave,
// >= 0. Comments (#) and blank lines are ignored; anything else is an error
// naming the line. Pure: the daemon reads and writes (src/daemon/drift-file.ts).

/** What is kept. */
export interface DriftRecord {
  frequencyPpm: number;
  uncertaintyPpm: number;
}

/** Largest drift file accepted, bytes: one line and a comment. */
export const MAX_DRIFT_FILE_BYTES = 4096;
/** A frequency beyond the kernel's ±500 ppm cannot have come from a clock we steered. */
export const MAX_DRIFT_PPM = 500;
/**
 * Seconds between periodic writes (and after start before the first): the
 * frequency moves slowly, and a write per hour costs the disk nothing. The
 * daemon writes once more at shutdown.
 */
export const DRIFT_WRITE_INTERVAL = 3600;
/**
 * Floor on the σ with which a kept frequency seeds the filters, ppm: a machine
 * that was warm when the file was written may boot cold (a quartz crystal moves
 * by a fraction of a ppm per °C). Chosen in the simulator (docs/ntp-daemon.md,
 * "The drift file"): 1 ppm makes a file 2 ppm off worse than none; 3 ppm keeps
 * most of the gain of a right file (first 5 min: 26 µs RMS against 137 µs
 * without a file) and limits the cost of a wrong one.
 */
export const DRIFT_PRIOR_FLOOR_PPM = 3;

export type DriftParseResult =
  { ok: true; record: DriftRecord } | { ok: false; line: number | null; error: string };

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a drift file's text; never throws. */
export function parseDriftFile(text: string): DriftParseResult {
  if (text.length > MAX_DRIFT_FILE_BYTES) {
    return { ok: false, line: null, error: `larger than ${MAX_DRIFT_FILE_BYTES} bytes` };
  }
  let record: DriftRecord | null = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === "" || line.startsWith("#")) continue;
    const fail = (error: string): DriftParseResult => ({ ok: false, line: i + 1, error });
    if (record !== null) return fail("a second record (one line of two numbers is expected)");
    const fields = line.split(/\s+/);
    if (fields.length !== 2 || !fields.every((f) => NUMBER.test(f))) {
      return fail("expected two numbers: <frequency ppm> <uncertainty ppm>");
    }
    const [frequencyPpm, uncertaintyPpm] = fields.map(Number) as [number, number];
    if (!Number.isFinite(frequencyPpm) || Math.abs(frequencyPpm) > MAX_DRIFT_PPM) {
      return fail(`frequency ${fields[0]} ppm is outside ±${MAX_DRIFT_PPM} ppm`);
    }
    if (!Number.isFinite(uncertaintyPpm) || uncertaintyPpm < 0) {
      return fail(`uncertainty ${fields[1]} ppm must be a number >= 0`);
    }
    record = { frequencyPpm, uncertaintyPpm };
  }
  if (record === null) return { ok: false, line: null, error: "no record (the file is empty)" };
  return { ok: true, record };
}

/** The file's text for `record`. */
export function formatDriftFile(record: DriftRecord): string {
  return (
    "# ntpd-ts drift file: frequency correction and its uncertainty, ppm\n" +
    `${record.frequencyPpm.toFixed(6)} ${record.uncertaintyPpm.toFixed(6)}\n`
  );
}

/** The σ (ppm) with which a kept frequency seeds the filters. */
export function driftPrior(record: DriftRecord): number {
  return Math.hypot(record.uncertaintyPpm, DRIFT_PRIOR_FLOOR_PPM);
}
