// What every campaign scenario prints: what it offered, what came back, the
// daemon's own counters, its RSS before and after, and one PASS/FAIL line per
// check with the reason. The command exits non-zero when any check failed.

export interface Check {
  name: string;
  pass: boolean;
  /** Why: the figures the verdict was drawn from. */
  detail: string;
}

export interface ScenarioReport {
  scenario: string;
  /** What the scenario sent (counts by kind). */
  offered: Record<string, number | string>;
  /** What came back to the scenario's clients. */
  received: Record<string, number | string>;
  /** The daemon's own counters (observation socket) and kernel counters. */
  counters: Record<string, number | string>;
  rssKiB: { before: number; after: number; peak?: number };
  checks: Check[];
  /** Anything else worth reading (e.g. log excerpts). */
  notes?: string[];
}

export function check(name: string, pass: boolean, detail: string): Check {
  return { name, pass, detail };
}

function line(label: string, values: Record<string, number | string>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  return `  ${label.padEnd(9)} ${parts.join(" ")}`;
}

export function formatReport(r: ScenarioReport): string {
  const out = [`== ${r.scenario}`];
  out.push(line("offered", r.offered));
  out.push(line("received", r.received));
  out.push(line("counters", r.counters));
  const rss = r.rssKiB;
  out.push(
    `  rss       before=${rss.before}KiB after=${rss.after}KiB` +
      (rss.peak !== undefined ? ` peak=${rss.peak}KiB` : ""),
  );
  for (const c of r.checks) out.push(`  ${c.pass ? "PASS" : "FAIL"} ${c.name}: ${c.detail}`);
  for (const n of r.notes ?? []) out.push(`  note: ${n}`);
  return out.join("\n");
}

export const passed = (r: ScenarioReport): boolean => r.checks.every((c) => c.pass);

/** A scenario that threw is a failed scenario with the error as its reason. */
export function crashedReport(scenario: string, error: unknown): ScenarioReport {
  return {
    scenario,
    offered: {},
    received: {},
    counters: {},
    rssKiB: { before: 0, after: 0 },
    checks: [check("scenario ran", false, error instanceof Error ? error.message : String(error))],
  };
}
