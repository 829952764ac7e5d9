// Builds and configures the fake PPS device of fake-pps.c (an LD_PRELOAD library that
// answers the RFC 2783 ioctls for one path; see there), for tests of the addon's PPS
// calls and of pps sources, as this machine has no /dev/pps*.
import { runCommand } from "./process.js";

const SOURCE = new URL("./fake-pps.c", import.meta.url).pathname;

/** Compiles the library to `output`; returns why it could not, or undefined. */
export async function buildFakePps(output: string): Promise<string | undefined> {
  const r = await runCommand(
    "cc",
    ["-shared", "-fPIC", "-O2", "-Wall", "-o", output, SOURCE, "-ldl", "-lm", "-lpthread"],
    { timeoutMs: 60_000 },
  ).catch((error: unknown) => ({ code: -1, stderr: String(error), stdout: "", timedOut: false }));
  return r.code === 0 ? undefined : `cannot build the fake PPS device (cc): ${r.stderr.trim()}`;
}

export interface FakePpsOptions {
  library: string;
  path: string;
  /** The system clock reading at each pulse, modulo the period, s. */
  phase?: number;
  period?: number;
  /** PPS_GETPARAMS mode before the client sets it (default 0: assert not captured). */
  mode?: number;
  silent?: boolean;
  log?: string;
}

/** The environment of a process that sees the fake device at `path`. */
export function fakePpsEnv(o: FakePpsOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    LD_PRELOAD: o.library,
    FAKE_PPS_PATH: o.path,
    FAKE_PPS_PHASE: String(o.phase ?? 0),
    FAKE_PPS_PERIOD: String(o.period ?? 1),
    FAKE_PPS_MODE: String(o.mode ?? 0),
  };
  if (o.silent === true) env.FAKE_PPS_SILENT = "1";
  if (o.log !== undefined) env.FAKE_PPS_LOG = o.log;
  return env;
}
