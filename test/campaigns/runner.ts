// The shared command line of `npm run flood` and `npm run faults`: run the
// named scenarios (or all) one after another, print each report as it ends,
// and exit 1 if any check failed (2 for a usage error).
import { formatReport, crashedReport, passed, type ScenarioReport } from "./report.js";

export interface ScenarioOptions {
  /** Seconds of load per scenario (floods). */
  seconds: number;
  /** Datagrams a second for the UDP floods that take a rate (default: flat out). */
  rate?: number;
}

export type ScenarioFn = (o: ScenarioOptions) => Promise<ScenarioReport>;

export interface Campaign {
  command: string;
  scenarios: Record<string, { about: string; run: ScenarioFn }>;
  defaultSeconds: number;
}

export async function runCampaign(c: Campaign, argv: string[]): Promise<never> {
  const usage = () => {
    const names = Object.entries(c.scenarios)
      .map(([n, s]) => `  ${n.padEnd(22)} ${s.about}`)
      .join("\n");
    console.error(
      `usage: npm run ${c.command} -- [SCENARIO...|all] [--seconds N] [--rate R]\n\nscenarios:\n${names}`,
    );
    process.exit(2);
  };
  let seconds = c.defaultSeconds;
  let rate: number | undefined;
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--seconds") {
      seconds = Number(argv[++i]);
      if (!(seconds > 0 && seconds <= 600)) usage();
    } else if (a === "--rate") {
      rate = Number(argv[++i]);
      if (!(rate > 0)) usage();
    } else if (a === "-h" || a === "--help") usage();
    else names.push(a);
  }
  const selected = names.length === 0 || names.includes("all") ? Object.keys(c.scenarios) : names;
  for (const n of selected) if (!(n in c.scenarios)) usage();
  if (process.getuid?.() !== 0) {
    console.error(`${c.command}: some scenarios need root (mounts, /proc of the daemon)`);
  }
  // Ctrl-C or a kill: exit through process.exit, so the helpers' exit hooks stop the
  // daemons we started and remove the temporary directories (and mounts).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => process.exit(130));
  }
  let failures = 0;
  const summary: string[] = [];
  for (const name of selected) {
    const started = Date.now();
    let report: ScenarioReport;
    try {
      report = await c.scenarios[name]!.run({ seconds, rate });
    } catch (e) {
      report = crashedReport(name, e);
    }
    console.log(formatReport(report));
    const ok = passed(report);
    if (!ok) failures++;
    summary.push(
      `${ok ? "PASS" : "FAIL"} ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`,
    );
  }
  console.log(`\n${summary.join("\n")}`);
  console.log(`${selected.length - failures} passed, ${failures} failed`);
  process.exit(failures === 0 ? 0 : 1);
}
