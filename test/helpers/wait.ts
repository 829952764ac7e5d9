// Waiting with deadlines: every loop here is bounded in time.
import { access, readFile } from "node:fs/promises";
import { connect } from "node:net";

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with p's value, or with `fallback` after ms (the timer is cleared either way). */
export async function orTimeout<T, F>(p: Promise<T>, ms: number, fallback: F): Promise<T | F> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<F>((resolve) => {
    timer = setTimeout(() => resolve(fallback), ms);
  });
  try {
    return await Promise.race([p, t]);
  } finally {
    clearTimeout(timer);
  }
}

export interface WaitOptions {
  /** Give up after this many milliseconds. */
  timeoutMs: number;
  /** Pause between attempts (default 50 ms). */
  intervalMs?: number;
  /** Used in the timeout error: "timed out after 5000 ms waiting for WHAT". */
  what?: string;
  /** Stop waiting (rejecting with the signal's reason) once this is aborted. */
  signal?: AbortSignal;
}

/**
 * Calls `fn` until it returns something other than undefined/false/null, and
 * returns that. Throws once `timeoutMs` has passed; the last error thrown by
 * `fn`, if any, is included in the message.
 */
export async function waitFor<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  opts: WaitOptions,
): Promise<T> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 50;
  let lastError: unknown;
  for (;;) {
    opts.signal?.throwIfAborted();
    try {
      const v = await fn();
      if (v !== undefined && v !== null && v !== false) return v;
      lastError = undefined;
    } catch (e) {
      lastError = e;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : "";
      throw new Error(
        `timed out after ${opts.timeoutMs} ms waiting for ${opts.what ?? "condition"}${why}`,
      );
    }
    await sleep(Math.min(interval, left));
  }
}

/** Waits until `path` exists. */
export function waitForFile(path: string, timeoutMs: number, signal?: AbortSignal): Promise<true> {
  return waitFor(
    async () => {
      try {
        await access(path);
        return true as const;
      } catch {
        return false;
      }
    },
    { timeoutMs, what: `file ${path}`, signal },
  );
}

/** The first line of text matching pattern (substring or RegExp), or undefined. */
export function matchLine(text: string, pattern: RegExp | string): string | undefined {
  if (typeof pattern === "string") {
    for (const line of text.split("\n")) if (line.includes(pattern)) return line;
    return undefined;
  }
  for (const line of text.split("\n")) if (pattern.test(line)) return line;
  return undefined;
}

/** Waits until a line of the file at `path` matches `pattern`; returns that line. */
export function waitForLogLine(
  path: string,
  pattern: RegExp | string,
  timeoutMs: number,
): Promise<string> {
  return waitFor(
    async () => {
      let text: string;
      try {
        text = await readFile(path, "utf8");
      } catch {
        return undefined;
      }
      return matchLine(text, pattern);
    },
    { timeoutMs, what: `a line matching ${String(pattern)} in ${path}` },
  );
}

/** Waits until a line of `getText()` (e.g. captured output) matches; returns that line. */
export function waitForText(
  getText: () => string,
  pattern: RegExp | string,
  timeoutMs: number,
  what = "output",
  signal?: AbortSignal,
): Promise<string> {
  return waitFor(() => matchLine(getText(), pattern), {
    timeoutMs,
    intervalMs: 20,
    what: `a line matching ${String(pattern)} in ${what}`,
    signal,
  });
}

/** One TCP connection attempt; resolves true if it was accepted. */
export function tryTcpConnect(port: number, host = "127.0.0.1", timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ port, host });
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

/** Waits until a TCP listener accepts connections on host:port. */
export function waitForTcpPort(port: number, host = "127.0.0.1", timeoutMs = 10000): Promise<true> {
  return waitFor(async () => (await tryTcpConnect(port, host)) || false, {
    timeoutMs,
    intervalMs: 50,
    what: `TCP ${host}:${port} to accept connections`,
  });
}

/**
 * True if some process has a UDP socket bound to port (on host, or on the
 * wildcard address), from /proc/net/udp and /proc/net/udp6. Linux only.
 */
export async function isUdpPortBound(port: number, host = "127.0.0.1"): Promise<boolean> {
  const v6 = host.includes(":");
  const file = v6 ? "/proc/net/udp6" : "/proc/net/udp";
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return false;
  }
  const wantPort = port.toString(16).toUpperCase().padStart(4, "0");
  const wantAddr = v6 ? undefined : ipv4ToProcHex(host);
  for (const line of text.split("\n").slice(1)) {
    const local = line.trim().split(/\s+/)[1];
    if (!local) continue;
    const [addr, p] = local.split(":");
    if (p !== wantPort || addr === undefined) continue;
    if (wantAddr === undefined || addr === wantAddr || /^0+$/.test(addr)) return true;
  }
  return false;
}

function ipv4ToProcHex(host: string): string {
  // /proc/net/udp prints the address as a little-endian u32 in hex.
  const parts = host.split(".").map((x) => Number(x));
  return parts
    .reverse()
    .map((b) => b.toString(16).toUpperCase().padStart(2, "0"))
    .join("");
}

/** Waits until a UDP socket is bound to host:port (see isUdpPortBound). */
export function waitForUdpBound(
  port: number,
  host = "127.0.0.1",
  timeoutMs = 10000,
): Promise<true> {
  return waitFor(async () => (await isUdpPortBound(port, host)) || false, {
    timeoutMs,
    what: `a UDP socket bound to ${host}:${port}`,
  });
}
