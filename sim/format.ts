// Text output of the simulator: one block per scenario, or one table row each.

import type { Scenario } from "./scenario.js";
import type { Summary } from "./summary.js";

/** An offset or duration in s, with a unit that fits: "17.4 µs", "0.88 ms", "5.29 s". */
export function formatSeconds(s: number): string {
  const a = Math.abs(s);
  if (a === 0) return "0 s";
  if (a < 1e-6) return `${(s * 1e9).toPrecision(3)} ns`;
  if (a < 1e-3) return `${(s * 1e6).toPrecision(3)} µs`;
  if (a < 1) return `${(s * 1e3).toPrecision(3)} ms`;
  return `${s.toPrecision(4)} s`;
}

/** A point in simulated time: "24 s", "6.5 min", "2.00 h". */
export function formatTime(s: number | null): string {
  if (s === null) return "never";
  if (s < 120) return `${Math.round(s)} s`;
  if (s < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(2)} h`;
}

function signed(s: number): string {
  return (s >= 0 ? "+" : "") + formatSeconds(s);
}

export function formatSteps(summary: Summary): string {
  if (summary.steps.length === 0) return "none";
  return summary.steps
    .map((s) => `${signed(s.offset)} at ${formatTime(s.at)}${s.startup ? " (start-up)" : ""}`)
    .join(", ");
}

/** The detailed report of one run. */
export function formatSummary(scenario: Scenario, summary: Summary, cpuSeconds?: number): string {
  const s = summary;
  const a = s.afterConvergence;
  const cpu = cpuSeconds === undefined ? "" : `, ${cpuSeconds.toFixed(2)} s CPU`;
  const lines = [
    `${s.scenario} (seed ${s.seed}, ${s.hours} h simulated${cpu})`,
    `  ${scenario.description}`,
    `  |offset| < 1 ms from         ${formatTime(s.within1ms)} (held 5 min); last above 1 ms: ${formatTime(s.lastAbove1ms)}`,
    `  |offset| < 100 µs from       ${formatTime(s.within100us)} (held 5 min)`,
    a === null
      ? "  after convergence            —"
      : `  after convergence            RMS ${formatSeconds(a.rms)}, p95 ${formatSeconds(a.p95)}, max ${formatSeconds(a.max)}`,
    `  published estimate           within 100 µs from ${formatTime(s.estimate.within100us)} on; then |error| median ${formatSeconds(s.estimate.median)}, p95 ${formatSeconds(s.estimate.p95)}, max ${formatSeconds(s.estimate.max)}`,
    `  final offset                 ${signed(s.finalOffset)}`,
    `  final frequency error        ${s.finalFrequencyError >= 0 ? "+" : ""}${s.finalFrequencyError.toFixed(4)} ppm`,
    `  steps                        ${s.steps.length}: ${formatSteps(s)}`,
    `  falseticker selected         ${
      s.firstFalsetickerSelection === null
        ? "never"
        : `${s.falsetickerSelected} updates, first ${s.firstFalsetickerSelection.server} at ${formatTime(s.firstFalsetickerSelection.at)} (${signed(s.firstFalsetickerSelection.error)} off)`
    }`,
    `  no consensus                 ${s.noConsensus}${s.lastNoConsensus === null ? "" : ` (last at ${formatTime(s.lastNoConsensus)})`}`,
    `  panics                       ${
      s.panics.length === 0
        ? "0"
        : s.panics
            .map((p) => `${p.threshold} ${signed(p.offset)} at ${formatTime(p.at)}`)
            .join(", ")
    }`,
    `  meddling / updates / slews   ${s.meddling} / ${s.updates} / ${s.slews}`,
    "  servers (polls, lost requests/replies, measurements, selected in updates, respawns):",
  ];
  for (const srv of s.servers) {
    const ignored = Object.entries(srv.ignored)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ");
    lines.push(
      `    ${srv.name.padEnd(14)} ${String(srv.polls).padStart(6)} ` +
        `${String(srv.lostRequests).padStart(5)}/${String(srv.lostReplies).padEnd(5)} ` +
        `${String(srv.measurements).padStart(6)} ${String(srv.selected).padStart(6)} ` +
        `${String(srv.respawns).padStart(5)}${ignored === "" ? "" : `  ignored: ${ignored}`}`,
    );
  }
  return lines.join("\n");
}

const COLUMNS = [
  "scenario",
  "<1 ms",
  "<100 µs",
  "RMS",
  "p95",
  "max",
  "est <100 µs",
  "est p95",
  "freq err",
  "steps",
  "false sel.",
  "no-cons.",
  "panics",
  "CPU",
] as const;

/** One row per summary (the `all` table). */
export function formatTable(rows: { summary: Summary; cpuSeconds?: number }[]): string {
  const cells = rows.map(({ summary: s, cpuSeconds }) => {
    const a = s.afterConvergence;
    return [
      s.scenario,
      formatTime(s.within1ms),
      formatTime(s.within100us),
      a === null ? "—" : formatSeconds(a.rms),
      a === null ? "—" : formatSeconds(a.p95),
      a === null ? "—" : formatSeconds(a.max),
      formatTime(s.estimate.within100us),
      s.estimate.within100us === null ? "—" : formatSeconds(s.estimate.p95),
      `${s.finalFrequencyError.toFixed(3)} ppm`,
      s.steps.length === 0
        ? "0"
        : `${s.steps.length} (${s.steps.map((x) => formatTime(x.at)).join(", ")})`,
      String(s.falsetickerSelected),
      String(s.noConsensus),
      String(s.panics.length),
      cpuSeconds === undefined ? "" : `${cpuSeconds.toFixed(2)} s`,
    ];
  });
  const widths = COLUMNS.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: readonly string[]): string =>
    r
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(COLUMNS), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}
