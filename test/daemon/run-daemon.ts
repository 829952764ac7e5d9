// Starting our own ntp-daemon for integration tests: from the TypeScript
// sources through tsx, so the tests need no build step.
import { writeFile } from "node:fs/promises";
import { spawnProcess, type Spawned } from "../helpers/process.js";
import type { TempDir } from "../helpers/tmp.js";

const root = new URL("../..", import.meta.url).pathname;
export const DAEMON_ENTRY = `${root}src/cli/ntp-daemon.ts`;
export const CTL_ENTRY = `${root}src/cli/ntp-ctl.ts`;
export const EXPORTER_ENTRY = `${root}src/cli/ntp-metrics-exporter.ts`;

/** Writes `toml` to DIR/NAME and starts `ntp-daemon -c FILE --no-clock-control`. */
export async function startDaemon(
  dir: TempDir,
  name: string,
  toml: string,
  extraArgs: string[] = ["--no-clock-control"],
): Promise<Spawned> {
  const config = dir.file(`${name}.toml`);
  await writeFile(config, toml);
  return spawnProcess(
    process.execPath,
    ["--import", "tsx", DAEMON_ENTRY, "-c", config, ...extraArgs],
    {
      cwd: root,
      name,
    },
  );
}

/** A stratum-1 server on 127.0.0.1:PORT. */
export function primaryServerConfig(port: number, logLevel = "info"): string {
  return `[observability]
log-level = "${logLevel}"

[[server]]
listen = "127.0.0.1:${port}"

[synchronization]
local-stratum = 1
reference-id = "TEST"
`;
}

/** A client of one plain NTP server, polling every 2^poll seconds. */
export function clientConfig(address: string, poll = 0, logLevel = "info"): string {
  return `[observability]
log-level = "${logLevel}"

[[source]]
mode = "server"
address = "${address}"
poll-interval-limits = { min = ${poll}, max = ${poll} }

[synchronization]
minimum-agreeing-sources = 1
`;
}

/** Parses "offset=+0.000012s delay=0.000045s" out of a measurement log line. */
export function parseMeasurement(line: string): { offset: number; delay: number } | undefined {
  const offset = /offset=([+-]?[0-9.]+)s/.exec(line)?.[1];
  const delay = /delay=([+-]?[0-9.]+)s/.exec(line)?.[1];
  if (offset === undefined || delay === undefined) return undefined;
  return { offset: Number(offset), delay: Number(delay) };
}
