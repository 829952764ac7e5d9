// NTPsec instances for interop tests, run the one safe way (shared/PEERS.md):
// from the Debian package unpacked into a cache dir (the ntpsec package
// conflicts with chrony, so it is never installed: .ci/run does
// `apt-get download ntpsec` + `dpkg -x` into /var/cache/ntpd-ts-test/ntpsec),
// only inside a private network namespace that has just a loopback (its
// ports are fixed: NTP 123 and NTS-KE 4460 on all addresses), and always
// under `setpriv --bounding-set -sys_time`, because NTPsec calls ntp_adjtime
// even with `disable kernel`.
//
//   ip netns exec NS setpriv --bounding-set -sys_time DIR/usr/sbin/ntpd -n \
//     -c ABS/ntp.conf -l ABS/ntpd.log -p ABS/ntpd.pid
//
// -n keeps ntpd in the foreground, so the PID we spawn is ntpd's own (ip and
// setpriv exec it) and stopping it is a plain SIGTERM.
import { access, constants, readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Netns } from "./netns.js";
import { describeExit, runCommand, type Spawned } from "./process.js";
import type { TempDir } from "./tmp.js";
import { waitFor } from "./wait.js";

/** Where .ci/run unpacks the package (override with NTPD_TS_NTPSEC_DIR). */
export const NTPSEC_DIR = process.env.NTPD_TS_NTPSEC_DIR ?? "/var/cache/ntpd-ts-test/ntpsec";
export const NTPSEC_NTPD = `${NTPSEC_DIR}/usr/sbin/ntpd`;
export const NTPSEC_NTPQ = `${NTPSEC_DIR}/usr/bin/ntpq`;

/** Why NTPsec tests cannot run here, or undefined when the unpacked package works. */
export async function ntpsecUnavailable(): Promise<string | undefined> {
  const how =
    "unpack it with `apt-get download ntpsec && dpkg -x ntpsec_*.deb " +
    `${NTPSEC_DIR}` +
    "` (.ci/run does)";
  for (const tool of [NTPSEC_NTPD, NTPSEC_NTPQ]) {
    try {
      await access(tool, constants.X_OK);
    } catch {
      return `${tool} is missing: ${how}`;
    }
  }
  const v = await runCommand(NTPSEC_NTPD, ["--version"], { timeoutMs: 10_000 });
  if (v.code !== 0 || !/ntpsec/i.test(v.stdout + v.stderr)) {
    return `${NTPSEC_NTPD} --version failed (${describeExit(v)}): ${v.stderr}${v.stdout} (missing libraries? apt-get install libbsd0 libcap2 libssl3)`;
  }
  // ntpq is Python and needs the python3-ntp module (ntpsec-ntpdig depends on it).
  const q = await runCommand(NTPSEC_NTPQ, ["--version"], { timeoutMs: 10_000 });
  if (q.code !== 0) {
    return `${NTPSEC_NTPQ} --version failed (${describeExit(q)}): ${q.stderr}${q.stdout} (apt-get install python3-ntp)`;
  }
  return undefined;
}

export interface NtpsecOptions {
  /** The private namespace to run in (NTPsec's ports are fixed). */
  netns: Netns;
  /** Directory for config, log and pid file (the caller removes it). */
  dir: TempDir;
  /** Role-specific lines (server ... nts, nts enable/key/cert/cookie, tos ...). */
  config: readonly string[];
  name?: string;
}

/** One row of `ntpq -c associations`. */
export interface NtpsecAssociation {
  ind: number;
  assid: number;
  status: string;
  conf: string;
  reach: string;
  /** "ok" for an authenticated (NTS or MAC) association, "none", "bad". */
  auth: string;
  /** "sys.peer", "candidate", "reject", ... */
  condition: string;
  lastEvent: string;
  count: number;
}

export interface Ntpsec {
  readonly name: string;
  readonly process: Spawned;
  readonly confPath: string;
  readonly logPath: string;
  /** ntpd's log file ("" if none yet). */
  log(): Promise<string>;
  /** Waits until a line of the log matches; returns it. Fails early if ntpd exits. */
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<string>;
  /** `ntpq -n ARGS... 127.0.0.1` inside the namespace; stdout, throws on failure. */
  ntpq(args: readonly string[], timeoutMs?: number): Promise<string>;
  associations(): Promise<NtpsecAssociation[]>;
  /** `ntpq -c "rv ASSOCID"` (0: system variables) as name → value. */
  readvars(assid: number): Promise<Record<string, string>>;
  /** SIGTERM (then SIGKILL). Idempotent. */
  stop(): Promise<void>;
}

/**
 * The lines every instance gets: no clock discipline (and no CAP_SYS_TIME
 * anyway), loopback only, ntpq allowed from loopback (without a `restrict`
 * line for it, NTPsec 1.2.2 silently drops ntpq's mode-6 requests here).
 */
function baseConfig(dir: string): string[] {
  return [
    "disable ntp",
    "disable kernel",
    "interface listen 127.0.0.1",
    "restrict default",
    "restrict 127.0.0.1",
    "restrict ::1",
    `statsdir ${dir}/`,
  ];
}

export async function startNtpsec(opts: NtpsecOptions): Promise<Ntpsec> {
  const dir = resolve(opts.dir.path);
  const name = opts.name ?? `ntpsec (netns ${opts.netns.name})`;
  const confPath = `${dir}/ntp.conf`;
  const logPath = `${dir}/ntpd.log`;
  const lines = [...baseConfig(dir), ...opts.config];
  await writeFile(confPath, lines.join("\n") + "\n");
  const proc = await opts.netns.spawn(
    "setpriv",
    [
      "--bounding-set",
      "-sys_time",
      NTPSEC_NTPD,
      "-n",
      "-c",
      confPath,
      "-l",
      logPath,
      "-p",
      `${dir}/ntpd.pid`,
    ],
    { name },
  );
  const readLog = async () => {
    try {
      return await readFile(logPath, "utf8");
    } catch {
      return "";
    }
  };
  const exited = new AbortController();
  void proc.exited.then(async (s) =>
    exited.abort(
      new Error(
        `${name} exited (${describeExit(s)}):\n${proc.output()}\nlog:\n${await readLog()}\nconfig:\n${lines.join("\n")}`,
      ),
    ),
  );
  let stopped = false;
  const ntpq = async (args: readonly string[], timeoutMs = 15_000) => {
    const r = await opts.netns.run(NTPSEC_NTPQ, ["-n", ...args, "127.0.0.1"], { timeoutMs });
    if (r.timedOut || r.code !== 0 || /Request timed out/.test(r.stdout + r.stderr)) {
      throw new Error(
        `ntpq ${args.join(" ")} failed (${r.timedOut ? "timed out" : describeExit(r)}): ${r.stderr}${r.stdout}`,
      );
    }
    return r.stdout;
  };
  return {
    name,
    process: proc,
    confPath,
    logPath,
    log: readLog,
    waitForLog: async (pattern, timeoutMs) => {
      try {
        return await waitFor(
          async () => (await readLog()).split("\n").find((l) => pattern.test(l)),
          {
            timeoutMs,
            intervalMs: 100,
            what: `${String(pattern)} in ${logPath}`,
            signal: exited.signal,
          },
        );
      } catch (e) {
        throw new Error(`${(e as Error).message}\nlog:\n${await readLog()}`, { cause: e });
      }
    },
    ntpq,
    associations: async () => parseAssociations(await ntpq(["-c", "associations"])),
    readvars: async (assid) => parseReadvars(await ntpq(["-c", `rv ${assid}`])),
    stop: async () => {
      if (stopped) return;
      stopped = true;
      await proc.stop(3000);
    },
  };
}

export function parseAssociations(text: string): NtpsecAssociation[] {
  const out: NtpsecAssociation[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9 || !/^\d+$/.test(f[0]!) || !/^\d+$/.test(f[1]!)) continue;
    out.push({
      ind: Number(f[0]),
      assid: Number(f[1]),
      status: f[2]!,
      conf: f[3]!,
      reach: f[4]!,
      auth: f[5]!,
      condition: f[6]!,
      lastEvent: f[7]!,
      count: Number(f[8]),
    });
  }
  return out;
}

/** `name=value` pairs of ntpq's `rv` output (values may be "quoted, with commas"). */
export function parseReadvars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of text.matchAll(/([A-Za-z_][\w.]*)=("[^"]*"|[^,\s]*)/g)) {
    const key = m[1]!;
    if (key in out) continue;
    out[key] = m[2]!.replace(/^"|"$/g, "");
  }
  return out;
}
