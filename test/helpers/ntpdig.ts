// Runs NTPsec's `ntpdig` (a one-shot SNTP client) against a loopback address
// and parses what it prints. ntpdig only talks to port 123. It never sets the
// clock unless given -s/-S, which we never pass.
import { runCommand, which } from "./process.js";

/** Why ntpdig tests cannot run here, or undefined if ntpdig is installed. */
export function ntpdigUnavailable(): string | undefined {
  return which("ntpdig") ? undefined : "ntpdig is not installed (apt-get install -y ntpsec-ntpdig)";
}

export interface NtpdigOptions {
  /** Default 127.0.0.1. Must be a loopback address. */
  host?: string;
  /** ntpdig's own per-request timeout in seconds (-t, default 2). */
  timeoutS?: number;
  /** Samples to take (-p, default 1). */
  samples?: number;
  /** Hard deadline for the whole run, after which ntpdig is killed (default timeoutS*samples+3 s). */
  deadlineMs?: number;
}

export interface NtpdigSample {
  /** Server minus local clock, seconds. */
  offset: number;
  /** ntpdig's error bound ("+/-"), seconds. */
  error: number;
  stratum: number;
  /** "no-leap", "add-leap", "del-leap" or "unsync". */
  leap: string;
  host: string;
  ip: string;
  /** The time ntpdig printed (ISO-ish string). */
  time: string;
}

export interface NtpdigResult {
  /** A sample was printed and ntpdig exited 0. */
  ok: boolean;
  /** The last sample printed, if any. */
  sample?: NtpdigSample;
  code: number | null;
  timedOut: boolean;
  stdout: string;
  stderr: string;
}

/** Parses one line of `ntpdig -j` output; undefined if it is not a sample. */
export function parseNtpdigJson(line: string): NtpdigSample | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const o = v as Record<string, unknown>;
  if (typeof o.offset !== "number" || typeof o.stratum !== "number") return undefined;
  return {
    offset: o.offset,
    error: typeof o.precision === "number" ? o.precision : NaN,
    stratum: o.stratum,
    leap: typeof o.leap === "string" ? o.leap : "",
    host: typeof o.host === "string" ? o.host : "",
    ip: typeof o.ip === "string" ? o.ip : "",
    time: typeof o.time === "string" ? o.time : "",
  };
}

/**
 * Parses one line of ntpdig's plain output, e.g.
 * `2026-11-26 08:34:29.749008 (+0000) +0.000053 +/- 0.000126 127.0.0.1 s1 no-leap`.
 */
export function parseNtpdigText(line: string): NtpdigSample | undefined {
  const m =
    /^(\S+ \S+) \(([+-]\d+)\) ([+-]?\d+(?:\.\d+)?) \+\/- (\d+(?:\.\d+)?) (\S+)(?: (\S+))? s(\d+) (\S+)/.exec(
      line.trim(),
    );
  if (!m) return undefined;
  return {
    time: `${m[1]} ${m[2]}`,
    offset: Number(m[3]),
    error: Number(m[4]),
    host: m[5]!,
    ip: m[6] ?? m[5]!,
    stratum: Number(m[7]),
    leap: m[8]!,
  };
}

/** Runs `ntpdig -j` once against host (port 123) and parses the result. Never throws for a failed query. */
export async function runNtpdig(opts: NtpdigOptions = {}): Promise<NtpdigResult> {
  const host = opts.host ?? "127.0.0.1";
  if (!/^127\.|^::1$|^localhost$/.test(host)) {
    throw new Error(`ntpdig helper is for loopback only, not ${host}`);
  }
  const timeoutS = opts.timeoutS ?? 2;
  const samples = opts.samples ?? 1;
  const r = await runCommand(
    "ntpdig",
    ["-j", "-t", String(timeoutS), "-p", String(samples), host],
    { timeoutMs: opts.deadlineMs ?? timeoutS * samples * 1000 + 3000 },
  );
  let sample: NtpdigSample | undefined;
  for (const line of r.stdout.split("\n")) sample = parseNtpdigJson(line) ?? sample;
  return {
    ok: r.code === 0 && !r.timedOut && sample !== undefined,
    sample,
    code: r.code,
    timedOut: r.timedOut,
    stdout: r.stdout,
    stderr: r.stderr,
  };
}
