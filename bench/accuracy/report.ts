// The accuracy bench's tables: one per scenario (both daemons, the reference's
// own latency) and a summary with the ratios ours/chrony.
import type { ReferenceLatency } from "./capture.js";
import type { SelectionCount } from "./daemons.js";
import { pathBias, type ClockModel, type Scenario } from "./scenarios.js";
import type { ReferenceStats } from "./server.js";
import { nearestRank, type ErrorStats, type Sample } from "./stats.js";

export interface DaemonResult {
  name: string;
  samples: Sample[];
  conv1ms: number | null;
  conv100us: number | null;
  /** After the scenario's event (step, restart): seconds until back within 1 ms / 100 µs. */
  back1ms: number | null;
  back100us: number | null;
  window: number;
  stats: ErrorStats | null;
  finalFrequency: number | null;
  steps: number | null;
  /** How often a falseticker was in use (falseticker scenarios only). */
  selection: SelectionCount | null;
}

export interface ScenarioResult {
  scenario: Scenario;
  /** The seed of the references' paths and clocks in this run. */
  seed: number;
  duration: number;
  /** Seconds into the run of the step or restart, or null. */
  event: number | null;
  /** The honest references' clock as run (step placed). */
  clock: ClockModel;
  references: (ReferenceStats & { address: string; error: number })[];
  /** From the capture on lo, or null if it was skipped. */
  latency: ReferenceLatency | null;
  /** Why the references ran at normal priority, or null (real-time; references.ts). */
  normalPriority: string | null;
  /** Our daemon's log (stdout and stderr), for the JSON file. */
  oursLog: string;
  daemons: DaemonResult[];
}

export const us = (s: number | null | undefined) =>
  s == null || Number.isNaN(s)
    ? "-"
    : `${(s * 1e6).toFixed(s !== 0 && Math.abs(s) < 1e-5 ? 1 : 0)}`;
const sec = (s: number | null) => (s == null ? "never" : s.toFixed(1));
const ppm = (p: number | null) => (p == null ? "-" : p.toFixed(3));
export const ratio = (a: number | null | undefined, b: number | null | undefined) =>
  a == null || b == null || b === 0 ? "-" : (a / b).toFixed(2);

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  "),
    )
    .join("\n");
}

/** "median / p99 / max µs (n)" of µs values. */
function spread(xs: readonly number[]): string {
  if (xs.length === 0) return "none";
  const s = [...xs].sort((a, b) => a - b);
  const f = (x: number) => x.toFixed(1);
  return `${f(nearestRank(s, 0.5))} / ${f(nearestRank(s, 0.99))} / ${f(s[s.length - 1]!)} µs (n ${s.length})`;
}

function selectionText(c: SelectionCount | null): string {
  if (c === null) return "-";
  return `${c.used}/${c.reads}` + (c.firstAt === null ? "" : ` from ${c.firstAt.toFixed(1)} s`);
}

export function report(r: ScenarioResult): string {
  const s = r.scenario;
  const lines: string[] = [];
  const replies = r.references.reduce((a, x) => a + x.replies, 0);
  const lost = r.references.reduce((a, x) => a + x.lost, 0);
  const lateness = r.references.flatMap((x) => x.lateness.map((l) => l * 1e6));
  const c = r.clock;
  const bias = pathBias(s.path);
  lines.push(
    `\n== ${s.name}: ${s.description}` +
      `\n   truth = ${c.offset0 * 1e3} ms + ${c.ppm} ppm·t` +
      (c.step ? ` + ${c.step.by * 1e3} ms from t = ${c.step.at.toFixed(0)} s` : "") +
      (bias !== 0
        ? `; errors against truth ${bias < 0 ? "−" : "+"} ${us(Math.abs(bias))} µs (path asymmetry)`
        : "") +
      (s.restartAt !== undefined ? `; restart at t = ${r.event?.toFixed(0)} s` : "") +
      `; ${r.duration} s; ${r.references.length} reference(s), ${replies} replies, ${lost} unanswered` +
      `; poll 2^${s.poll.min}..2^${s.poll.max} s; error window from t = ${r.daemons[0]!.window.toFixed(1)} s` +
      `\n   reference lateness (median / p99 / max): wire ${r.latency ? spread(r.latency.us) : "not captured"}` +
      (r.latency && r.latency.unmatched > 0 ? ` [${r.latency.unmatched} unmatched]` : "") +
      `; TX time stamp ${spread(lateness)}` +
      `; ${r.normalPriority === null ? "SCHED_FIFO" : `normal priority (${r.normalPriority})`}`,
  );
  const hasEvent = r.event !== null;
  const hasFalse = s.falsetickers.length > 0;
  const header = [
    "daemon",
    "conv≤1ms s",
    "conv≤100µs s",
    ...(hasEvent ? ["back≤1ms s", "back≤100µs s"] : []),
    "median µs",
    "p95 µs",
    "max µs",
    "mean µs",
    "n",
    `freq ppm (truth ${c.ppm})`,
    "steps",
    ...(hasFalse ? ["falseticker used"] : []),
  ];
  const rows = [header];
  for (const d of r.daemons) {
    rows.push([
      d.name,
      sec(d.conv1ms),
      sec(d.conv100us),
      ...(hasEvent ? [sec(d.back1ms), sec(d.back100us)] : []),
      us(d.stats?.median),
      us(d.stats?.p95),
      us(d.stats?.max),
      us(d.stats?.mean),
      String(d.stats?.count ?? 0),
      ppm(d.finalFrequency),
      d.steps == null ? "-" : String(d.steps),
      ...(hasFalse ? [selectionText(d.selection)] : []),
    ]);
  }
  lines.push(table(rows));
  const ours = r.daemons.find((d) => d.name === "ntpd-ts")!;
  const chrony = r.daemons.find((d) => d.name === "chrony");
  if (chrony) {
    const freqErr = (d: DaemonResult) =>
      d.finalFrequency == null ? null : Math.abs(d.finalFrequency - c.ppm);
    lines.push(
      `ours/chrony: median ${ratio(ours.stats?.median, chrony.stats?.median)}, ` +
        `p95 ${ratio(ours.stats?.p95, chrony.stats?.p95)}, max ${ratio(ours.stats?.max, chrony.stats?.max)}, ` +
        `conv≤1ms ${ratio(ours.conv1ms, chrony.conv1ms)}, conv≤100µs ${ratio(ours.conv100us, chrony.conv100us)}` +
        (hasEvent
          ? `, back≤1ms ${ratio(ours.back1ms, chrony.back1ms)}, back≤100µs ${ratio(ours.back100us, chrony.back100us)}`
          : "") +
        `, |freq error| ${ratio(freqErr(ours), freqErr(chrony))}`,
    );
  }
  return lines.join("\n");
}

/** Ours and chrony's figure side by side ("a / b"). */
function pair<T>(o: T | undefined, c: T | undefined, f: (x: T | undefined) => string): string {
  return `${f(o)} / ${f(c)}`;
}

export function summary(results: readonly ScenarioResult[]): string {
  const rows = [
    [
      "scenario",
      "median µs",
      "p95 µs",
      "max µs",
      "≤1ms s",
      "≤100µs s",
      "|freq err| ppm",
      "median x",
      "p95 x",
      "≤100µs x",
      "ref wire p50/p99 µs",
    ],
  ];
  for (const r of results) {
    const o = r.daemons.find((d) => d.name === "ntpd-ts")!;
    const c = r.daemons.find((d) => d.name === "chrony");
    // For a step or a restart the convergence that matters is back after it.
    const t1 = (d: DaemonResult | undefined) => (r.event === null ? d?.conv1ms : d?.back1ms);
    const t100 = (d: DaemonResult | undefined) => (r.event === null ? d?.conv100us : d?.back100us);
    const fe = (d: DaemonResult | undefined) =>
      d?.finalFrequency == null ? undefined : Math.abs(d.finalFrequency - r.clock.ppm);
    const lat = r.latency?.us.slice().sort((a, b) => a - b) ?? [];
    rows.push([
      r.scenario.name + (r.event === null ? "" : " (after)"),
      pair(o.stats?.median, c?.stats?.median, us),
      pair(o.stats?.p95, c?.stats?.p95, us),
      pair(o.stats?.max, c?.stats?.max, us),
      pair(t1(o), t1(c), (x) => sec(x ?? null)),
      pair(t100(o), t100(c), (x) => sec(x ?? null)),
      pair(fe(o), fe(c), (x) => (x === undefined ? "-" : x.toFixed(3))),
      ratio(o.stats?.median, c?.stats?.median),
      ratio(o.stats?.p95, c?.stats?.p95),
      ratio(t100(o), t100(c)),
      lat.length === 0
        ? "-"
        : `${nearestRank(lat, 0.5).toFixed(1)}/${nearestRank(lat, 0.99).toFixed(1)}`,
    ]);
  }
  return (
    "\n== summary, ours / chrony (goal: ours at least as accurate and as fast as chrony; x = ours/chrony)\n" +
    table(rows)
  );
}
