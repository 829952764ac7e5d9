// The accuracy bench repeated (`--runs N`): the same scenarios with N seeds
// (seed, seed + 1, ...), and per scenario the median over the runs of each
// daemon's figures. One run of 110 s is a handful of poll intervals: between
// runs of the same code the µs-level figures of both daemons moved by a
// factor of 2, so a single run's ratio near 1 says nothing. Pure (tested in
// test/bench/accuracy.test.ts).
import { ratio, table, us, type DaemonResult, type ScenarioResult } from "./report.js";
import { nearestRank } from "./stats.js";

/** One daemon's figures in one run: median and p95 |error| (s), time to 100 µs (s). */
export interface RunFigures {
  median: number | null;
  p95: number | null;
  within100us: number | null;
}

/** The figures that matter of `name` in a run: for a step or restart, back after it. */
export function runFigures(r: ScenarioResult, name: string): RunFigures | null {
  const d: DaemonResult | undefined = r.daemons.find((x) => x.name === name);
  if (d === undefined) return null;
  return {
    median: d.stats?.median ?? null,
    p95: d.stats?.p95 ?? null,
    within100us: r.event === null ? d.conv100us : d.back100us,
  };
}

/**
 * Median (nearest rank) of the runs' values, a missing one (a daemon that
 * never converged, or had no error window) counted as larger than any; null
 * when the median is such a one.
 */
export function medianOf(values: readonly (number | null)[]): number | null {
  const sorted = values.map((v) => v ?? Infinity).sort((a, b) => a - b);
  const m = nearestRank(sorted, 0.5);
  return Number.isFinite(m) ? m : null;
}

/** How many runs had ours at most chrony's, of the runs where both have the figure. */
function atMost(ours: readonly (number | null)[], chrony: readonly (number | null)[]): string {
  let both = 0;
  let wins = 0;
  ours.forEach((o, i) => {
    const c = chrony[i];
    if (o === null || c === null || c === undefined) return;
    both++;
    if (o <= c) wins++;
  });
  return `${wins}/${both}`;
}

/**
 * Per scenario, over the runs (`runs[k]` the results of run k): median over
 * the runs of each daemon's median, p95 and time to 100 µs, the ratio of
 * those medians, and in how many runs ours was at most chrony's.
 */
export function acrossRuns(runs: readonly (readonly ScenarioResult[])[]): string {
  const names = [...new Set(runs.flatMap((run) => run.map((r) => r.scenario.name)))];
  const rows = [
    [
      "scenario",
      "median µs",
      "p95 µs",
      "≤100µs s",
      "median x",
      "p95 x",
      "≤100µs x",
      "runs ours≤chrony med/p95/≤100µs",
    ],
  ];
  for (const name of names) {
    const results = runs.flatMap((run) => run.filter((r) => r.scenario.name === name));
    const ours = results.map((r) => runFigures(r, "ntpd-ts"));
    const chrony = results.map((r) => runFigures(r, "chrony"));
    const col = (xs: (RunFigures | null)[], k: keyof RunFigures) => xs.map((x) => x?.[k] ?? null);
    const med = (xs: (RunFigures | null)[], k: keyof RunFigures) => medianOf(col(xs, k));
    const secs = (s: number | null) => (s === null ? "never" : s.toFixed(1));
    const event = results[0]?.event != null;
    rows.push([
      name + (event ? " (after)" : ""),
      `${us(med(ours, "median"))} / ${us(med(chrony, "median"))}`,
      `${us(med(ours, "p95"))} / ${us(med(chrony, "p95"))}`,
      `${secs(med(ours, "within100us"))} / ${secs(med(chrony, "within100us"))}`,
      ratio(med(ours, "median"), med(chrony, "median")),
      ratio(med(ours, "p95"), med(chrony, "p95")),
      ratio(med(ours, "within100us"), med(chrony, "within100us")),
      [
        atMost(col(ours, "median"), col(chrony, "median")),
        atMost(col(ours, "p95"), col(chrony, "p95")),
        atMost(col(ours, "within100us"), col(chrony, "within100us")),
      ].join(", "),
    ]);
  }
  return (
    `\n== over ${runs.length} runs (seeds in a row): the median of each run's figure, ours / chrony; ` +
    "x = ours/chrony of those medians\n" +
    table(rows)
  );
}
