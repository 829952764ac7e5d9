// chronyd instances for integration tests and the bench, started the one safe
// way (see shared/PEERS.md): never controlling the clock, loopback only, each
// with its own config, sockets, pid file and log in a temp dir.
//
//   setpriv --bounding-set -sys_time chronyd -4 -x -d -u root -f ABS/chrony.conf -l ABS/chronyd.log
//
// -x: never touch the clock; dropping CAP_SYS_TIME from the bounding set makes
// sure. -d keeps chronyd in the foreground, so the PID we spawn is chronyd's
// own (setpriv and taskset exec it) and stopping it is a plain SIGTERM; with
// -l the log still goes to the file. -f and -l need absolute paths, and the
// command socket's directory must not be accessible to others (0700), or
// chronyd silently disables the socket ("Wrong permissions").
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import { describeExit, runCommand, spawnProcess, which, type Spawned } from "./process.js";
import type { Netns } from "./netns.js";
import { makeTempDir, type TempDir } from "./tmp.js";
import { waitFor, waitForFile } from "./wait.js";
import { waitForNtpServer } from "./ntp-probe.js";
import { isUdpPortFree } from "./ports.js";

/** Why chrony tests cannot run here, or undefined if chronyd and chronyc are installed. */
export function chronyUnavailable(): string | undefined {
  for (const tool of ["chronyd", "chronyc", "setpriv"]) {
    if (!which(tool)) return `${tool} is not installed (apt-get install -y chrony)`;
  }
  return undefined;
}

export interface ChronyOptions {
  /**
   * Role-specific config lines (port, server, local, allow, NTS keys...). The
   * per-instance lines (cmdport 0, bindcmdaddress, pidfile, driftfile,
   * ntsdumpdir) are added by startChrony.
   */
  config: readonly string[];
  /** Directory for config, log, sockets (default: a fresh temp dir, removed by stop()). */
  dir?: TempDir;
  /** Pin chronyd to these CPUs with taskset -c (e.g. "0"). */
  cpus?: string;
  /** Name used in messages (default "chronyd"). */
  name?: string;
  /** How long to wait for the command socket to appear (default 10 s). */
  startTimeoutMs?: number;
  /** Run chronyd inside this network namespace (a test host; test/helpers/netns-lan.ts). */
  netns?: Netns;
}

export interface Chrony {
  readonly name: string;
  readonly pid: number;
  readonly dir: string;
  readonly confPath: string;
  readonly logPath: string;
  readonly socketPath: string;
  readonly process: Spawned;
  /** Runs `chronyc -h SOCKET ARGS...` and returns stdout; throws on failure. */
  chronyc(args: readonly string[], timeoutMs?: number): Promise<string>;
  sources(): Promise<ChronySource[]>;
  sourcestats(): Promise<ChronySourceStats[]>;
  ntpdata(): Promise<ChronyNtpData[]>;
  authdata(): Promise<ChronyAuthData[]>;
  /** `tracking` as "Key : value" pairs (e.g. t["Stratum"] === "2"). */
  tracking(): Promise<Record<string, string>>;
  /** `serverstats` as "Key : value" pairs (e.g. s["NTP packets received"]). */
  serverstats(): Promise<Record<string, string>>;
  /** Waits until a source (optionally the one named) is selected (`*`); returns it. */
  waitForSelected(timeoutMs?: number, name?: string): Promise<ChronySource>;
  /** The chronyd log file's contents ("" if none yet). */
  log(): Promise<string>;
  /** SIGTERM (then SIGKILL), and removes the temp dir if startChrony made it. Idempotent. */
  stop(): Promise<void>;
}

/** Starts chronyd with the given role config; resolves once its command socket is up. */
export async function startChrony(opts: ChronyOptions): Promise<Chrony> {
  const ownDir = opts.dir === undefined;
  const tmp = opts.dir ?? (await makeTempDir("ntpd-ts-chrony-"));
  const name = opts.name ?? "chronyd";
  try {
    const dir = resolve(tmp.path);
    const run = `${dir}/run`;
    await mkdir(run, { recursive: true, mode: 0o700 });
    await mkdir(`${dir}/nts`, { recursive: true, mode: 0o700 });
    const confPath = `${dir}/chrony.conf`;
    const logPath = `${dir}/chronyd.log`;
    const socketPath = `${run}/chronyd.sock`;
    const lines = [
      ...opts.config,
      "cmdport 0",
      `bindcmdaddress ${socketPath}`,
      `pidfile ${run}/chronyd.pid`,
      `driftfile ${dir}/drift`,
      `ntsdumpdir ${dir}/nts`,
    ];
    await writeFile(confPath, lines.join("\n") + "\n");
    const args = [
      "--bounding-set",
      "-sys_time",
      "chronyd",
      "-4",
      "-x",
      "-d",
      "-u",
      "root",
      "-f",
      confPath,
      "-l",
      logPath,
    ];
    const proc = opts.netns
      ? await opts.netns.spawn("setpriv", args, { name, cpus: opts.cpus })
      : await spawnProcess("setpriv", args, { name, cpus: opts.cpus });
    const exitedEarly = new AbortController();
    const readLog = async () => {
      try {
        return await readFile(logPath, "utf8");
      } catch {
        return "";
      }
    };
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      try {
        await proc.stop(3000);
      } finally {
        if (ownDir) await tmp.cleanup();
      }
    };
    const chronyc = async (cargs: readonly string[], timeoutMs = 5000) => {
      const r = await runCommand("chronyc", ["-h", socketPath, ...cargs], { timeoutMs });
      if (r.timedOut || r.code !== 0) {
        throw new Error(
          `chronyc ${cargs.join(" ")} failed (${r.timedOut ? "timed out" : describeExit(r)}): ${r.stderr}${r.stdout}`,
        );
      }
      return r.stdout;
    };
    const inst: Chrony = {
      name,
      pid: proc.pid,
      dir,
      confPath,
      logPath,
      socketPath,
      process: proc,
      chronyc,
      sources: async () => parseSourcesCsv(await chronyc(["-c", "-n", "-N", "sources"])),
      sourcestats: async () =>
        parseSourcestatsCsv(await chronyc(["-c", "-n", "-N", "sourcestats"])),
      ntpdata: async () => parseNtpData(await chronyc(["-n", "-N", "ntpdata"])),
      authdata: async () => parseAuthdataCsv(await chronyc(["-c", "-n", "-N", "authdata"])),
      tracking: async () => parseKeyValue(await chronyc(["-n", "tracking"])),
      serverstats: async () => parseKeyValue(await chronyc(["serverstats"])),
      waitForSelected: (timeoutMs = 20000, sourceName?: string) =>
        waitFor(
          async () => {
            const all = await inst.sources();
            return all.find((s) => s.state === "*" && (!sourceName || s.name === sourceName));
          },
          {
            timeoutMs,
            intervalMs: 250,
            what: `${name} to select ${sourceName ?? "a source"}`,
            signal: exitedEarly.signal,
          },
        ).catch(async (e: unknown) => {
          let table = "";
          try {
            table = await chronyc(["-n", "sources"]);
          } catch {
            // chronyd may be gone
          }
          throw new Error(`${(e as Error).message}\n${table}\nlog:\n${await readLog()}`, {
            cause: e,
          });
        }),
      log: readLog,
      stop,
    };
    void proc.exited.then(async (s) => {
      exitedEarly.abort(
        new Error(
          `${name} exited (${describeExit(s)}):\n${proc.output()}\nlog:\n${await readLog()}\nconfig:\n${lines.join("\n")}`,
        ),
      );
    });
    try {
      await waitForFile(socketPath, opts.startTimeoutMs ?? 10000, exitedEarly.signal);
    } catch (e) {
      await stop();
      throw e;
    }
    return inst;
  } catch (e) {
    if (ownDir) await tmp.cleanup();
    throw e;
  }
}

export interface ChronyServerOptions {
  /** UDP port for NTP on `address`. */
  port: number;
  /** Address to bind (default 127.0.0.1). */
  address?: string;
  /** `local stratum N` (default 1). */
  stratum?: number;
  /** More config lines (e.g. ntsport, ntsserverkey, ntsservercert). */
  extraConfig?: readonly string[];
  dir?: TempDir;
  cpus?: string;
  name?: string;
  /** Wait until it answers NTP on the port (default true). */
  waitReady?: boolean;
}

/** chronyd as a plain NTP server on address:port with `local stratum N`, answering 127.0.0.1. */
export async function startChronyServer(opts: ChronyServerOptions): Promise<Chrony> {
  const address = opts.address ?? "127.0.0.1";
  // chronyd binds its NTP socket with SO_REUSEPORT: started on a port another
  // chronyd holds, it does not fail but shares the port (the kernel splits
  // the requests between the two). Refuse instead.
  if (!(await isUdpPortFree(opts.port, address))) {
    throw new Error(`chronyd server: UDP ${address}:${opts.port} is already in use`);
  }
  const c = await startChrony({
    config: [
      `port ${opts.port}`,
      `bindaddress ${address}`,
      `local stratum ${opts.stratum ?? 1}`,
      `allow ${address}`,
      ...(opts.extraConfig ?? []),
    ],
    dir: opts.dir,
    cpus: opts.cpus,
    name: opts.name ?? `chronyd-server:${opts.port}`,
  });
  if (opts.waitReady ?? true) {
    try {
      await waitForNtpServer(opts.port, address, 10000);
    } catch (e) {
      const log = await c.log();
      await c.stop();
      throw new Error(`${(e as Error).message}\nlog:\n${log}`, { cause: e });
    }
  }
  return c;
}

export interface ChronyClientOptions {
  /**
   * Server's NTP port on serverHost. Omit for NTS, where the NTS-KE server
   * names the NTP port (then put "nts ntsport P" in sourceOptions).
   */
  serverPort?: number;
  /** Default 127.0.0.1; for NTS the certificate's name, e.g. "ntpd-rs.test". */
  serverHost?: string;
  /**
   * Options after `server HOST [port P]` (default "iburst minpoll 0 maxpoll 0";
   * for NTS e.g. "nts ntsport 14460 iburst minpoll 0 maxpoll 0").
   */
  sourceOptions?: string;
  /** More config lines (e.g. `ntstrustedcerts PKI/ca.pem`). */
  extraConfig?: readonly string[];
  dir?: TempDir;
  cpus?: string;
  name?: string;
}

/** chronyd as a client of one server (no NTP server port of its own). */
export function startChronyClient(opts: ChronyClientOptions): Promise<Chrony> {
  const host = opts.serverHost ?? "127.0.0.1";
  const port = opts.serverPort === undefined ? "" : ` port ${opts.serverPort}`;
  return startChrony({
    config: [
      "port 0",
      "bindacqaddress 127.0.0.1",
      `server ${host}${port} ${opts.sourceOptions ?? "iburst minpoll 0 maxpoll 0"}`,
      ...(opts.extraConfig ?? []),
    ],
    dir: opts.dir,
    cpus: opts.cpus,
    name: opts.name ?? `chronyd-client-of-${host}${port.replace(" port ", ":")}`,
  });
}

// ---- parsers of chronyc output ----

/** One row of `chronyc -c sources`. */
export interface ChronySource {
  /** '^' server, '=' peer, '#' reference clock. */
  mode: string;
  /** '*' selected, '+' combined, '-' not combined, '?' unusable, 'x' falseticker, '~' too variable. */
  state: string;
  /** The name or address as configured (chronyc -N). */
  name: string;
  stratum: number;
  /** log2 seconds. */
  poll: number;
  /** Reachability register, as chronyc prints it (octal). */
  reach: number;
  /** Seconds since the last good sample (NaN if none). */
  lastRx: number;
  /** Local clock minus source (seconds), adjusted for slews since the sample. */
  adjustedOffset: number;
  /** Local clock minus source (seconds), as measured. */
  measuredOffset: number;
  /** Error bound of the measurement (seconds). */
  error: number;
}

function num(s: string | undefined): number {
  if (s === undefined || s === "" || s === "-") return NaN;
  return Number(s);
}

function csvRows(text: string): string[][] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((l) => l.split(","));
}

export function parseSourcesCsv(text: string): ChronySource[] {
  return csvRows(text)
    .filter((f) => f.length >= 10)
    .map((f) => ({
      mode: f[0]!,
      state: f[1]!,
      name: f[2]!,
      stratum: num(f[3]),
      poll: num(f[4]),
      reach: parseInt(f[5]!, 8),
      lastRx: num(f[6]),
      adjustedOffset: num(f[7]),
      measuredOffset: num(f[8]),
      error: num(f[9]),
    }));
}

/** One row of `chronyc -c sourcestats`. */
export interface ChronySourceStats {
  name: string;
  /** Number of samples retained. */
  samples: number;
  /** Number of runs of residuals with the same sign. */
  runs: number;
  /** Span of the samples (seconds). */
  span: number;
  /** Frequency offset and skew (ppm). */
  frequencyPpm: number;
  skewPpm: number;
  /** Estimated offset and standard deviation (seconds). */
  offset: number;
  stdDev: number;
}

export function parseSourcestatsCsv(text: string): ChronySourceStats[] {
  return csvRows(text)
    .filter((f) => f.length >= 8)
    .map((f) => ({
      name: f[0]!,
      samples: num(f[1]),
      runs: num(f[2]),
      span: num(f[3]),
      frequencyPpm: num(f[4]),
      skewPpm: num(f[5]),
      offset: num(f[6]),
      stdDev: num(f[7]),
    }));
}

/** One row of `chronyc -c authdata`. */
export interface ChronyAuthData {
  name: string;
  /** "-" none, "SYM" symmetric key, "NTS". */
  mode: string;
  keyId: number;
  type: number;
  keyLength: number;
  /** Seconds since the last key establishment (NaN if never). */
  last: number;
  attempts: number;
  naks: number;
  cookies: number;
  cookieLength: number;
}

export function parseAuthdataCsv(text: string): ChronyAuthData[] {
  return csvRows(text)
    .filter((f) => f.length >= 10)
    .map((f) => {
      const last = num(f[5]);
      return {
        name: f[0]!,
        mode: f[1]!,
        keyId: num(f[2]),
        type: num(f[3]),
        keyLength: num(f[4]),
        last: last === 4294967295 ? NaN : last,
        attempts: num(f[6]),
        naks: num(f[7]),
        cookies: num(f[8]),
        cookieLength: num(f[9]),
      };
    });
}

/** Parses "Key   : value" lines (tracking, serverstats, one ntpdata block). */
export function parseKeyValue(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf(":");
    if (i <= 0) continue;
    const key = line.slice(0, i).trim();
    if (key === "" || key in out) continue;
    out[key] = line.slice(i + 1).trim();
  }
  return out;
}

/** One block of `chronyc -n -N ntpdata`. */
export interface ChronyNtpData {
  /** The source's address, or its configured name with -N. */
  remoteAddress: string;
  remotePort: number;
  localAddress: string;
  leapStatus: string;
  version: number;
  /** "Server", "Symmetric active", ... */
  mode: string;
  stratum: number;
  /** log2 seconds. */
  pollInterval: number;
  precision: number;
  rootDelay: number;
  rootDispersion: number;
  referenceId: string;
  /** Source minus local clock (seconds): the NTP offset, sign opposite to `sources`. */
  offset: number;
  peerDelay: number;
  peerDispersion: number;
  responseTime: number;
  ntpTests: string;
  interleaved: boolean;
  authenticated: boolean;
  txTimestamping: string;
  rxTimestamping: string;
  totalTx: number;
  totalRx: number;
  totalValidRx: number;
  /** Every "Key : value" line of the block. */
  raw: Record<string, string>;
}

function firstWord(s: string | undefined): string {
  return (s ?? "").split(/\s+/)[0] ?? "";
}

export function parseNtpData(text: string): ChronyNtpData[] {
  const blocks = text.split(/\n\s*\n/).filter((b) => b.includes("Remote address"));
  return blocks.map((b) => {
    const kv = parseKeyValue(b);
    return {
      remoteAddress: firstWord(kv["Remote address"]),
      remotePort: num(kv["Remote port"]),
      localAddress: firstWord(kv["Local address"]),
      leapStatus: kv["Leap status"] ?? "",
      version: num(kv["Version"]),
      mode: kv["Mode"] ?? "",
      stratum: num(kv["Stratum"]),
      pollInterval: num(firstWord(kv["Poll interval"])),
      precision: num(firstWord(kv["Precision"])),
      rootDelay: num(firstWord(kv["Root delay"])),
      rootDispersion: num(firstWord(kv["Root dispersion"])),
      referenceId: firstWord(kv["Reference ID"]),
      offset: num(firstWord(kv["Offset"])),
      peerDelay: num(firstWord(kv["Peer delay"])),
      peerDispersion: num(firstWord(kv["Peer dispersion"])),
      responseTime: num(firstWord(kv["Response time"])),
      ntpTests: kv["NTP tests"] ?? "",
      interleaved: kv["Interleaved"] === "Yes",
      authenticated: kv["Authenticated"] === "Yes",
      txTimestamping: kv["TX timestamping"] ?? "",
      rxTimestamping: kv["RX timestamping"] ?? "",
      totalTx: num(kv["Total TX"]),
      totalRx: num(kv["Total RX"]),
      totalValidRx: num(kv["Total valid RX"]),
      raw: kv,
    };
  });
}
