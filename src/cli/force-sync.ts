// `ntp-ctl force-sync [-c PATH]`, as ntpd-rs 1.3–1.9: asks the configured
// sources for the time once, and when enough of them agree and the local clock
// is off by a second or more, offers to step the clock (ignoring the panic
// thresholds). Interactive only: stdin and stdout must be terminals.
//
// Each `server` address, `pool` address and `nts` source is measured by the
// daemon's own source code (daemon/measure-source.ts): an NtpSource driven
// over the daemon's UDP socket, with kernel timestamps where the addon is
// loaded, after the daemon's NTS key exchange for NTS sources. A few requests
// per target, the reply with the least delay kept: plenty for a decision made
// at one-second resolution.

import { createInterface } from "node:readline";
import { formatDiagnostic } from "../proto/config/index.js";
import { loadConfigFile } from "../daemon/config-file.js";
import { FORBID_CLOCK_CONTROL_ENV } from "../daemon/clock-choice.js";
import { collectTargets, measureTarget } from "../daemon/measure-targets.js";
import { unixNowSeconds } from "../daemon/wall-clock.js";

/** Offsets within this of the cluster's centre agree (ntpd-rs: ±0.5 s). */
export const AGREEMENT_WINDOW_SECONDS = 0.5;
/** Below this the clock is left alone. */
export const ALREADY_SYNCED_SECONDS = 1;
/** The whole query phase (resolution and exchanges) is bounded by this. */
export const QUERY_DEADLINE_MS = 10_000;

/** How many agreeing offsets force-sync needs (ntpd-rs: max(minimum-agreeing-sources, n/2)). */
export function requiredAgreement(minimumAgreeingSources: number, sourceCount: number): number {
  return Math.max(1, minimumAgreeingSources, Math.floor(sourceCount / 2));
}

export interface Agreement {
  /** Median of the agreeing cluster, s (positive: the local clock is behind). */
  offset: number;
  /** The offsets in that cluster, sorted. */
  cluster: number[];
}

/**
 * The largest set of offsets that all lie within ±`window` of a common centre
 * (max − min ≤ 2·window; ties go to the tighter set), and its median, or null
 * when that set has fewer than `required` members.
 */
export function selectAgreeingOffset(
  offsets: readonly number[],
  required: number,
  window = AGREEMENT_WINDOW_SECONDS,
): Agreement | null {
  const sorted = offsets.filter((o) => Number.isFinite(o)).sort((a, b) => a - b);
  let best: number[] = [];
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! > 2 * window) lo++;
    const candidate = sorted.slice(lo, hi + 1);
    const spread = (c: number[]) => c[c.length - 1]! - c[0]!;
    if (
      candidate.length > best.length ||
      (candidate.length === best.length && spread(candidate) < spread(best))
    ) {
      best = candidate;
    }
  }
  if (best.length === 0 || best.length < required) return null;
  return { offset: median(best), cluster: best };
}

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  const mid = Math.floor(n / 2);
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "N day(s) N hour(s) N minute(s) N second(s)", zero leading parts left out. */
export function humanDuration(seconds: number): string {
  let rest = Math.round(Math.abs(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ] as const) {
    if (rest >= size || parts.length > 0) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      parts.push(`${n} ${unit}(s)`);
    }
  }
  parts.push(`${rest} second(s)`);
  return parts.join(" ");
}

/** "ahead by …" when the clock is ahead (offset < 0), else "behind by …". */
export function aheadBehindText(offset: number): string {
  return `${offset < 0 ? "ahead" : "behind"} by ${humanDuration(offset)}`;
}

// ---------------------------------------------------------------------------------------------
// The command

function localTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toString();
}

function ask(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    rl.on("close", () => {
      if (!answered) resolve("");
    });
  });
}

/** Steps the kernel clock by `offset` s; returns an error message or null. */
async function stepClock(offset: number): Promise<string | null> {
  if (process.env[FORBID_CLOCK_CONTROL_ENV] === "1") {
    return `refusing to step the clock: ${FORBID_CLOCK_CONTROL_ENV}=1 forbids changing it`;
  }
  const { KernelClock } = await import("../daemon/clock/kernel-clock.js");
  let clock;
  try {
    clock = KernelClock.open();
  } catch (error) {
    return `cannot step the clock: ${(error as Error).message}`;
  }
  const probe = clock.canControl();
  if (!probe.permitted) {
    return `cannot step the clock: ${probe.reason} (needs root or CAP_SYS_TIME)`;
  }
  try {
    clock.step(offset);
  } catch (error) {
    const message = (error as Error).message;
    return `cannot step the clock: ${message} (needs root or CAP_SYS_TIME)`;
  }
  return null;
}

export async function forceSync(configPath: string): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      "ntp-ctl force-sync must be run interactively: standard input and output must be a terminal\n",
    );
    return 1;
  }
  const result = await loadConfigFile(configPath);
  if (!result.ok) {
    process.stderr.write("Error: Could not load configuration:\n");
    for (const e of result.errors) process.stderr.write(`${formatDiagnostic(e)}\n`);
    return 1;
  }
  const config = result.config;
  const note = (line: string) => process.stderr.write(`${line}\n`);
  const deadline = Date.now() + QUERY_DEADLINE_MS;
  const targets = await collectTargets(config, note, deadline);
  if (targets.length === 0) {
    process.stderr.write(
      "No NTP sources to query (force-sync uses server, pool, nts and nts-pool sources)\n",
    );
    return 1;
  }
  const required = requiredAgreement(config.synchronization.minimumAgreeingSources, targets.length);
  process.stdout.write(`Querying ${targets.length} source address(es)...\n`);
  const results = await Promise.all(targets.map((t) => measureTarget(t, config, deadline)));
  const offsets: number[] = [];
  for (const r of results) {
    if (r.offset !== null) {
      offsets.push(r.offset);
      process.stdout.write(`  ${r.label}: ${r.offset >= 0 ? "+" : ""}${r.offset.toFixed(6)}s\n`);
    } else {
      process.stdout.write(`  ${r.label}: ${r.problem}\n`);
    }
  }
  const agreement = selectAgreeingOffset(offsets, required);
  if (agreement === null) {
    process.stderr.write(
      `Could not determine the time: ${required} source(s) must agree within ` +
        `±${AGREEMENT_WINDOW_SECONDS}s, ${offsets.length} answered\n`,
    );
    return 1;
  }
  const offset = agreement.offset;
  if (Math.abs(offset) < ALREADY_SYNCED_SECONDS) {
    process.stdout.write("Your clock is already within 1s of the correct time\n");
    return 0;
  }
  const now = unixNowSeconds();
  process.stdout.write(`Current local time:  ${localTime(now)}\n`);
  process.stdout.write(`Proposed local time: ${localTime(now + offset)}\n`);
  process.stdout.write(`Your clock is ${aheadBehindText(offset)}\n`);
  const answer = (await ask("Do you want to update your local clock? [y/N] ")).trim().toLowerCase();
  if (answer !== "y" && answer !== "yes") {
    process.stdout.write("The clock was not changed\n");
    return 0;
  }
  const error = await stepClock(offset);
  if (error !== null) {
    process.stderr.write(`${error}\n`);
    return 1;
  }
  process.stdout.write("Time updated successfully\n");
  return 0;
}
