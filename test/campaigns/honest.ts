// The honest client a flood must not starve: one plain NTP request every
// `intervalMs` from its own loopback address (127.0.0.2 by default, so the
// server's rate limiter sees a client other than the flood's 127.0.0.1), each
// given `timeoutMs` to be answered. Runs until stopped.
import { randomBytes } from "node:crypto";
import { createSocket } from "node:dgram";

export interface HonestResult {
  sent: number;
  answered: number;
  /** Not answered within the timeout. */
  timedOut: number;
  /** Round trips of the answered ones, ms. */
  maxRttMs: number;
  medianRttMs: number;
}

export interface HonestClient {
  stop(): Promise<HonestResult>;
}

export function startHonestNtpClient(
  port: number,
  opts: { from?: string; intervalMs?: number; timeoutMs?: number } = {},
): HonestClient {
  const from = opts.from ?? "127.0.0.2";
  const intervalMs = opts.intervalMs ?? 200;
  const timeoutMs = opts.timeoutMs ?? 1000;
  const socket = createSocket("udp4");
  const pending = new Map<string, { sentAt: number; timer: NodeJS.Timeout }>();
  const rtts: number[] = [];
  let sent = 0;
  let timedOut = 0;
  let bound = false;
  socket.on("error", () => {});
  socket.on("message", (msg) => {
    if (msg.length < 48 || (msg[0]! & 7) !== 4) return;
    const key = msg.subarray(24, 32).toString("hex");
    const p = pending.get(key);
    if (!p) return;
    clearTimeout(p.timer);
    pending.delete(key);
    rtts.push(performance.now() - p.sentAt);
  });
  socket.bind(0, from, () => {
    bound = true;
  });
  const tick = setInterval(() => {
    if (!bound) return;
    const req = Buffer.alloc(48);
    req[0] = 0x23;
    randomBytes(8).copy(req, 40);
    const key = req.subarray(40, 48).toString("hex");
    const timer = setTimeout(() => {
      pending.delete(key);
      timedOut++;
    }, timeoutMs);
    pending.set(key, { sentAt: performance.now(), timer });
    sent++;
    socket.send(req, port, "127.0.0.1");
  }, intervalMs);
  return {
    stop: async () => {
      clearInterval(tick);
      // Let the last requests have their full timeout.
      await new Promise((r) => setTimeout(r, timeoutMs + 50));
      for (const p of pending.values()) clearTimeout(p.timer);
      timedOut += pending.size;
      pending.clear();
      socket.close();
      const sorted = [...rtts].sort((a, b) => a - b);
      return {
        sent,
        answered: rtts.length,
        timedOut,
        maxRttMs: round(sorted[sorted.length - 1] ?? NaN),
        medianRttMs: round(sorted[Math.floor(sorted.length / 2)] ?? NaN),
      };
    },
  };
}

const round = (x: number) => Math.round(x * 100) / 100;
