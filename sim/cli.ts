// `npm run sim -- SCENARIO|all [--seed N] [--hours H] [--trace] [--csv FILE] [--json]`
//
//   SCENARIO    one or more scenario names (npm run sim -- --list), or "all"
//   --seed N    seed of the random numbers (default: each scenario's own)
//   --hours H   simulated hours (default: each scenario's own)
//   --trace     print steps, slews, selection changes, no consensus, respawns
//   --csv FILE  write the true offset samples (t_s,offset_s) of a single scenario
//   --json      print the summaries as JSON instead of text
//   --list      list the scenarios
//
// One scenario prints a detailed report, several (or "all") a table. The
// simulation itself never reads the real clock; only the CPU time each run
// took is measured here, for the report.

import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { formatSeconds, formatSummary, formatTable, formatTime } from "./format.js";
import { findScenario, scenarios } from "./scenarios.js";
import { DEFAULT_FALSETICKER_THRESHOLD, type Scenario } from "./scenario.js";
import { simulate } from "./simulation.js";
import { summarize, type Summary } from "./summary.js";

export const USAGE =
  "usage: npm run sim -- SCENARIO...|all [--seed N] [--hours H] [--trace] [--csv FILE] [--json] [--list]";

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** CPU seconds used so far (process.cpuUsage); omitted: no CPU column. */
  cpu?: () => number;
  writeFile?: (path: string, text: string) => void;
}

const defaultIo: CliIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
  cpu: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  },
  writeFile: (path, text) => writeFileSync(path, text),
};

function positiveNumber(name: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number`);
  return n;
}

class UsageError extends Error {}

/** Runs the CLI; returns the exit code (0 ok, 2 usage error). */
export function main(argv: string[], io: CliIo = defaultIo): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        seed: { type: "string" },
        hours: { type: "string" },
        trace: { type: "boolean", default: false },
        csv: { type: "string" },
        json: { type: "boolean", default: false },
        list: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    io.err(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.out(USAGE);
    return 0;
  }
  if (values.list) {
    for (const s of scenarios) io.out(`${s.name.padEnd(22)} ${s.description}`);
    return 0;
  }

  let seed: number | undefined;
  let hours: number | undefined;
  try {
    seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !(Number.isInteger(seed) && seed >= 0 && seed < 2 ** 32)) {
      throw new UsageError("--seed must be an integer in 0..2^32-1");
    }
    hours = positiveNumber("hours", values.hours);
  } catch (error) {
    io.err(`${(error as Error).message}\n${USAGE}`);
    return 2;
  }

  const selected: Scenario[] = [];
  for (const name of positionals) {
    if (name === "all") {
      selected.push(...scenarios);
      continue;
    }
    const scenario = findScenario(name);
    if (scenario === undefined) {
      io.err(`unknown scenario "${name}"; known: ${scenarios.map((s) => s.name).join(", ")}`);
      return 2;
    }
    selected.push(scenario);
  }
  if (selected.length === 0) {
    io.err(USAGE);
    return 2;
  }
  if (values.csv !== undefined && selected.length !== 1) {
    io.err("--csv needs exactly one scenario");
    return 2;
  }

  const rows: { scenario: Scenario; summary: Summary; cpuSeconds?: number }[] = [];
  for (const scenario of selected) {
    const trace = values.trace
      ? (at: number, line: string) =>
          io.out(`${scenario.name} ${formatTime(at).padStart(9)}  ${line}`)
      : undefined;
    const before = io.cpu?.();
    const run = simulate(scenario, { seed, hours, trace });
    const summary = summarize(run);
    const cpuSeconds = before === undefined ? undefined : io.cpu!() - before;
    rows.push({ scenario, summary, cpuSeconds });
    if (values.csv !== undefined) {
      const lines = ["t_s,offset_s"];
      run.offsets.forEach((o, i) => lines.push(`${i * run.sampleInterval},${o}`));
      (io.writeFile ?? defaultIo.writeFile!)(values.csv, `${lines.join("\n")}\n`);
      io.out(`wrote ${run.offsets.length} samples to ${values.csv}`);
    }
  }

  if (values.json) {
    io.out(
      JSON.stringify(
        rows.map((r) => r.summary),
        null,
        2,
      ),
    );
    return 0;
  }
  if (rows.length === 1) {
    const r = rows[0]!;
    io.out(formatSummary(r.scenario, r.summary, r.cpuSeconds));
    return 0;
  }
  io.out(formatTable(rows));
  const simulated = rows.reduce((t, r) => t + r.summary.hours, 0);
  const cpu = rows.reduce((t, r) => t + (r.cpuSeconds ?? 0), 0);
  if (rows.every((r) => r.cpuSeconds !== undefined)) {
    io.out(`\n${simulated} simulated hours in ${cpu.toFixed(2)} s of CPU`);
  }
  io.out(
    "<1 ms / <100 µs: first time |true offset| fell below and stayed so for 5 min; " +
      "RMS/p95/max: |offset| from the <1 ms time on; " +
      "est <100 µs / est p95: the published estimate of the offset (what the accuracy bench reads), " +
      "from when its error stays within 100 µs to the end, and its p95 |error| from then on; " +
      "freq err: at the end, ppm; false sel.: updates using a source whose server is more than " +
      `${formatSeconds(DEFAULT_FALSETICKER_THRESHOLD)} off (unless the scenario says otherwise) ` +
      "and whose filter vouches for that time",
  );
  return 0;
}
