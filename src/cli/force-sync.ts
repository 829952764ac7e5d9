// `ntp-ctl force-sync [-c PATH]`, as ntpd-rs 1.3–1.9: asks the configured
// sources for the time once, and when enough of them agree and the local clock
// is off by a second or more, offers to step the clock (ignoring the panic
// thresholds). Interactive only: stdin and stdout must be terminals.
//
// The exchanges are plain NTP client requests (mode 3) over a connected UDP
// socket with software timestamps, a few per address, the one with the least
// delay kept: plenty for a decision made at one-second resolution. NTS sources
// are skipped (with a note): force-sync does not perform the key exchange.

import { createSocket, type Socket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { performance } from "node:perf_hooks";
import { formatDiagnostic } from "../proto/config/index.js";
import type { Config } from "../proto/config/types.js";
import { loadConfigFile } from "../daemon/config-file.js";
import { formatHostPort, resolveHost, type ResolvedAddress } from "../daemon/resolve.js";
import { FORBID_CLOCK_CONTROL_ENV } from "../daemon/clock-choice.js";

/** Offsets within this of the cluster's centre agree (ntpd-rs: ±0.5 s). */
export const AGREEMENT_WINDOW_SECONDS = 0.5;
/** Below this the clock is left alone. */
export const ALREADY_SYNCED_SECONDS = 1;
/** The whole query phase (resolution and exchanges) is bounded by this. */
export const QUERY_DEADLINE_MS = 10_000;
const EXCHANGES_PER_ADDRESS = 3;
const EXCHANGE_TIMEOUT_MS = 1_500;
const NTP_UNIX_OFFSET = 2_208_988_800;

/** How many agreeing offsets force-sync needs (ntpd-rs: max(minimum-agreeing-sources, n/2)). */
export function requiredAgreement(minimumAgreeingSources: number, sourceCount: number): number {
  return Math.max(1, minimumAgreeingSources, Math.floor(sourceCount / 2));
}

export interface Agreement {
  /** Median of the agreeing cluster, s (positive: the local clock is behind). */
  offset: number;
  /** The offsets in that cluster, sorted. */
  cluster: number[];
}

/**
 * The largest set of offsets that all lie within ±`window` of a common centre
 * (max − min ≤ 2·window; ties go to the tighter set), and its median, or null
 * when that set has fewer than `required` members.
 */
export function selectAgreeingOffset(
  offsets: readonly number[],
  required: number,
  window = AGREEMENT_WINDOW_SECONDS,
): Agreement | null {
  const sorted = offsets.filter((o) => Number.isFinite(o)).sort((a, b) => a - b);
  let best: number[] = [];
  let lo = 0;
  for (let hi = 0; hi < sorted.length; hi++) {
    while (sorted[hi]! - sorted[lo]! > 2 * window) lo++;
    const candidate = sorted.slice(lo, hi + 1);
    const spread = (c: number[]) => c[c.length - 1]! - c[0]!;
    if (
      candidate.length > best.length ||
      (candidate.length === best.length && spread(candidate) < spread(best))
    ) {
      best = candidate;
    }
  }
  if (best.length === 0 || best.length < required) return null;
  return { offset: median(best), cluster: best };
}

export function median(sorted: readonly number[]): number {
  const n = sorted.length;
  const mid = Math.floor(n / 2);
  return n % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** "N day(s) N hour(s) N minute(s) N second(s)", zero leading parts left out. */
export function humanDuration(seconds: number): string {
  let rest = Math.round(Math.abs(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["day", 86_400],
    ["hour", 3_600],
    ["minute", 60],
  ] as const) {
    if (rest >= size || parts.length > 0) {
      const n = Math.floor(rest / size);
      rest -= n * size;
      parts.push(`${n} ${unit}(s)`);
    }
  }
  parts.push(`${rest} second(s)`);
  return parts.join(" ");
}

/** "ahead by …" when the clock is ahead (offset < 0), else "behind by …". */
export function aheadBehindText(offset: number): string {
  return `${offset < 0 ? "ahead" : "behind"} by ${humanDuration(offset)}`;
}

// ---------------------------------------------------------------------------------------------
// NTP exchange

function wallSeconds(): number {
  return (performance.timeOrigin + performance.now()) / 1000;
}

function readTimestamp(buf: Buffer, at: number): number {
  let sec = buf.readUInt32BE(at);
  const frac = buf.readUInt32BE(at + 4) / 2 ** 32;
  // Era 1 starts in 2036: a small seconds field means the next era.
  if (sec < 0x8000_0000) sec += 2 ** 32;
  return sec - NTP_UNIX_OFFSET + frac;
}

interface Sample {
  offset: number;
  delay: number;
}

/** One request/response; rejects on timeout or an unusable answer. */
function exchange(socket: Socket, timeoutMs: number): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const request = Buffer.alloc(48);
    request[0] = (0 << 6) | (4 << 3) | 3; // LI 0, version 4, client
    const cookie = randomBytes(8);
    cookie.copy(request, 40);
    let t1 = 0;
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("message", onMessage);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error("no answer"));
    }, timeoutMs);
    const onMessage = (msg: Buffer) => {
      const t4 = wallSeconds();
      if (msg.length < 48 || !msg.subarray(24, 32).equals(cookie)) return; // not ours
      cleanup();
      const li = msg[0]! >> 6;
      const mode = msg[0]! & 7;
      const stratum = msg[1]!;
      if (mode !== 4) return reject(new Error("not a server answer"));
      if (stratum === 0)
        return reject(new Error(`kiss-o'-death ${msg.toString("latin1", 12, 16)}`));
      if (stratum >= 16 || li === 3) return reject(new Error("the server is not synchronized"));
      const t2 = readTimestamp(msg, 32);
      const t3 = readTimestamp(msg, 40);
      resolve({ offset: (t2 - t1 + (t3 - t4)) / 2, delay: t4 - t1 - (t3 - t2) });
    };
    socket.on("message", onMessage);
    t1 = wallSeconds();
    socket.send(request, (error) => {
      if (error) {
        cleanup();
        reject(error);
      }
    });
  });
}

/** The least-delay offset of a few exchanges with one address, or the last error. */
async function queryAddress(
  addr: ResolvedAddress,
  port: number,
  deadline: number,
): Promise<number> {
  const socket = createSocket(addr.family === 6 ? "udp6" : "udp4");
  socket.on("error", () => {});
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.connect(port, addr.address, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    let best: Sample | null = null;
    let lastError: unknown = new Error("no answer");
    for (let i = 0; i < EXCHANGES_PER_ADDRESS; i++) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      try {
        const s = await exchange(socket, Math.min(EXCHANGE_TIMEOUT_MS, left));
        if (best === null || s.delay < best.delay) best = s;
      } catch (error) {
        lastError = error;
      }
    }
    if (best === null) throw lastError;
    return best.offset;
  } finally {
    socket.close();
  }
}

interface Target {
  name: string;
  address: ResolvedAddress;
  port: number;
}

/** The addresses to query: a server's first address, a pool's first `count`. */
async function collectTargets(
  config: Config,
  note: (line: string) => void,
  deadline: number,
): Promise<Target[]> {
  const lists = await Promise.all(
    config.sources.map(async (source): Promise<Target[]> => {
      if (source.mode === "nts" || source.mode === "nts-pool") {
        const name = formatHostPort(source.address.host, source.address.port);
        note(`Skipping NTS source ${name}: force-sync does not support NTS`);
        return [];
      }
      if (source.mode !== "server" && source.mode !== "pool") return [];
      const { host, port } = source.address;
      try {
        const left = Math.max(1, deadline - Date.now());
        let addresses = await resolveHost(host, Math.min(5_000, left));
        if (source.mode === "server") addresses = addresses.slice(0, 1);
        else
          addresses = addresses
            .filter((a) => !source.ignore.includes(a.address))
            .slice(0, source.count);
        if (addresses.length === 0) note(`${host}: no addresses`);
        return addresses.map((address) => ({ name: host, address, port }));
      } catch (error) {
        note(`${host}: could not resolve: ${(error as Error).message}`);
        return [];
      }
    }),
  );
  return lists.flat();
}

// ---------------------------------------------------------------------------------------------
// The command

function localTime(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toString();
}

function ask(question: string): Promise<string> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    let answered = false;
    rl.question(question, (answer) => {
      answered = true;
      rl.close();
      resolve(answer);
    });
    rl.on("close", () => {
      if (!answered) resolve("");
    });
  });
}

/** Steps the kernel clock by `offset` s; returns an error message or null. */
async function stepClock(offset: number): Promise<string | null> {
  if (process.env[FORBID_CLOCK_CONTROL_ENV] === "1") {
    return `refusing to step the clock: ${FORBID_CLOCK_CONTROL_ENV}=1 forbids changing it`;
  }
  const { KernelClock } = await import("../daemon/clock/kernel-clock.js");
  let clock;
  try {
    clock = KernelClock.open();
  } catch (error) {
    return `cannot step the clock: ${(error as Error).message}`;
  }
  const probe = clock.canControl();
  if (!probe.permitted) {
    return `cannot step the clock: ${probe.reason} (needs root or CAP_SYS_TIME)`;
  }
  try {
    clock.step(offset);
  } catch (error) {
    const message = (error as Error).message;
    return `cannot step the clock: ${message} (needs root or CAP_SYS_TIME)`;
  }
  return null;
}

export async function forceSync(configPath: string): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(
      "ntp-ctl force-sync must be run interactively: standard input and output must be a terminal\n",
    );
    return 1;
  }
  const result = await loadConfigFile(configPath);
  if (!result.ok) {
    process.stderr.write("Error: Could not load configuration:\n");
    for (const e of result.errors) process.stderr.write(`${formatDiagnostic(e)}\n`);
    return 1;
  }
  const config = result.config;
  const note = (line: string) => process.stderr.write(`${line}\n`);
  const deadline = Date.now() + QUERY_DEADLINE_MS;
  const targets = await collectTargets(config, note, deadline);
  if (targets.length === 0) {
    process.stderr.write("No NTP sources to query (force-sync uses server and pool sources)\n");
    return 1;
  }
  const required = requiredAgreement(config.synchronization.minimumAgreeingSources, targets.length);
  process.stdout.write(`Querying ${targets.length} source address(es)...\n`);
  const settled = await Promise.allSettled(
    targets.map((t) => queryAddress(t.address, t.port, deadline)),
  );
  const offsets: number[] = [];
  settled.forEach((s, i) => {
    const t = targets[i]!;
    const where = formatHostPort(t.address.address, t.port);
    const label = t.name === t.address.address ? where : `${t.name} ${where}`;
    if (s.status === "fulfilled") {
      offsets.push(s.value);
      process.stdout.write(`  ${label}: ${s.value >= 0 ? "+" : ""}${s.value.toFixed(6)}s\n`);
    } else {
      process.stdout.write(`  ${label}: ${(s.reason as Error).message}\n`);
    }
  });
  const agreement = selectAgreeingOffset(offsets, required);
  if (agreement === null) {
    process.stderr.write(
      `Could not determine the time: ${required} source(s) must agree within ` +
        `±${AGREEMENT_WINDOW_SECONDS}s, ${offsets.length} answered\n`,
    );
    return 1;
  }
  const offset = agreement.offset;
  if (Math.abs(offset) < ALREADY_SYNCED_SECONDS) {
    process.stdout.write("Your clock is already within 1s of the correct time\n");
    return 0;
  }
  const now = wallSeconds();
  process.stdout.write(`Current local time:  ${localTime(now)}\n`);
  process.stdout.write(`Proposed local time: ${localTime(now + offset)}\n`);
  process.stdout.write(`Your clock is ${aheadBehindText(offset)}\n`);
  const answer = (await ask("Do you want to update your local clock? [y/N] ")).trim().toLowerCase();
  if (answer !== "y" && answer !== "yes") {
    process.stdout.write("The clock was not changed\n");
    return 0;
  }
  const error = await stepClock(offset);
  if (error !== null) {
    process.stderr.write(`${error}\n`);
    return 1;
  }
  process.stdout.write("Time updated successfully\n");
  return 0;
}
