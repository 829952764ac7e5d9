// A minimal plain-NTP (mode 3) query for tests and the bench: "is something
// answering NTP on host:port, and what does it say?". Deliberately
// independent of src/ so it can check our own server from the outside.
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { waitFor } from "./wait.js";

const NTP_UNIX_OFFSET = 2208988800;

export interface NtpProbeReply {
  leap: number;
  version: number;
  mode: number;
  stratum: number;
  poll: number;
  precision: number;
  /** Root delay and dispersion in seconds. */
  rootDelay: number;
  rootDispersion: number;
  /** Reference id as 8 hex digits. */
  refId: string;
  /** Server receive/transmit times as Unix seconds (float). */
  receiveTime: number;
  transmitTime: number;
  /** Client-side offset estimate in seconds (server minus us), from Date-based times. */
  offset: number;
  /** Round-trip delay in seconds. */
  delay: number;
  /** The raw reply. */
  bytes: Buffer;
}

function readTs(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) - NTP_UNIX_OFFSET + buf.readUInt32BE(at + 4) / 2 ** 32;
}

/**
 * Sends one 48-byte mode-3 request to host:port and waits up to timeoutMs for
 * a reply whose origin timestamp matches. Resolves undefined on timeout or on
 * an ICMP error (port unreachable).
 */
export function ntpQuery(
  port: number,
  host = "127.0.0.1",
  timeoutMs = 1000,
): Promise<NtpProbeReply | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
    const req = Buffer.alloc(48);
    req[0] = (0 << 6) | (4 << 3) | 3; // LI 0, VN 4, mode 3
    const xmt = randomBytes(8); // random transmit timestamp, echoed as origin
    xmt.copy(req, 40);
    let t1 = 0;
    let finished = false;
    const finish = (r: NtpProbeReply | undefined) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.close();
      resolve(r);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    sock.on("error", () => finish(undefined));
    sock.on("message", (msg) => {
      const t4 = Date.now() / 1000;
      if (msg.length < 48 || !msg.subarray(24, 32).equals(xmt)) return;
      const t2 = readTs(msg, 32);
      const t3 = readTs(msg, 40);
      finish({
        leap: msg[0]! >> 6,
        version: (msg[0]! >> 3) & 7,
        mode: msg[0]! & 7,
        stratum: msg[1]!,
        poll: msg.readInt8(2),
        precision: msg.readInt8(3),
        rootDelay: msg.readUInt32BE(4) / 65536,
        rootDispersion: msg.readUInt32BE(8) / 65536,
        refId: msg.subarray(12, 16).toString("hex").toUpperCase(),
        receiveTime: t2,
        transmitTime: t3,
        offset: (t2 - t1 + (t3 - t4)) / 2,
        delay: t4 - t1 - (t3 - t2),
        bytes: msg,
      });
    });
    sock.connect(port, host, () => {
      t1 = Date.now() / 1000;
      sock.send(req, (e) => {
        if (e) finish(undefined);
      });
    });
  });
}

/**
 * Waits until host:port answers a plain NTP request with a mode-4 reply
 * (optionally with stratum < 16, i.e. synchronized); returns that reply.
 */
export function waitForNtpServer(
  port: number,
  host = "127.0.0.1",
  timeoutMs = 10000,
  opts: { synchronized?: boolean; signal?: AbortSignal } = {},
): Promise<NtpProbeReply> {
  return waitFor(
    async () => {
      const r = await ntpQuery(port, host, 300);
      if (!r || r.mode !== 4) return undefined;
      if (opts.synchronized && (r.stratum === 0 || r.stratum >= 16 || r.leap === 3))
        return undefined;
      return r;
    },
    {
      timeoutMs,
      intervalMs: 50,
      what: `an NTP server answering on ${host}:${port}${opts.synchronized ? " (synchronized)" : ""}`,
      signal: opts.signal,
    },
  );
}
