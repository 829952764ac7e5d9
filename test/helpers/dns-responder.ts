// A tiny DNS server for tests: UDP on 127.0.0.1 (a free port), answering SRV
// and A queries from a fixed table, with the AD bit ("validated by DNSSEC")
// set or not per name, so the daemon's SRV discovery can be tested without a
// real resolver. The daemon is pointed at it with NTPD_TS_TEST_DNS_SERVER
// (src/daemon/srv-resolve.ts). It counts the queries it answered.
import { createSocket, type Socket } from "node:dgram";

export interface SrvEntry {
  priority: number;
  weight: number;
  port: number;
  target: string;
}

export interface DnsZone {
  srv?: Record<string, SrvEntry[]>;
  a?: Record<string, string[]>;
  /** Names answered without the AD bit (default: every answer has it). */
  insecure?: string[];
}

export interface DnsResponder {
  port: number;
  /** "name TYPE" of every query answered, in order. */
  queries: string[];
  close(): Promise<void>;
}

function encodeName(name: string): number[] {
  const out: number[] = [];
  for (const label of name.replace(/\.$/, "").split(".")) {
    if (label === "") continue;
    const bytes = Buffer.from(label, "ascii");
    out.push(bytes.length, ...bytes);
  }
  out.push(0);
  return out;
}

function u16(n: number): number[] {
  return [(n >> 8) & 0xff, n & 0xff];
}

function record(name: string, type: number, data: number[]): number[] {
  return [...encodeName(name), ...u16(type), ...u16(1), 0, 0, 0, 60, ...u16(data.length), ...data];
}

/** The question's name and type (no compression in queries). */
function question(query: Buffer): { name: string; type: number; end: number } | undefined {
  const labels: string[] = [];
  let i = 12;
  while (i < query.length && query[i] !== 0) {
    const n = query[i]!;
    labels.push(query.subarray(i + 1, i + 1 + n).toString("ascii"));
    i += 1 + n;
  }
  if (i + 5 > query.length) return undefined;
  return { name: labels.join(".").toLowerCase(), type: query.readUInt16BE(i + 1), end: i + 5 };
}

export async function startDnsResponder(zone: DnsZone): Promise<DnsResponder> {
  const socket: Socket = createSocket("udp4");
  const queries: string[] = [];
  socket.on("message", (query, remote) => {
    const q = question(query);
    if (!q) return;
    const answers: number[][] = [];
    if (q.type === 33) {
      for (const s of zone.srv?.[q.name] ?? []) {
        answers.push(
          record(q.name, 33, [
            ...u16(s.priority),
            ...u16(s.weight),
            ...u16(s.port),
            ...encodeName(s.target),
          ]),
        );
      }
    } else if (q.type === 1) {
      for (const a of zone.a?.[q.name] ?? []) {
        answers.push(record(q.name, 1, a.split(".").map(Number)));
      }
    }
    queries.push(`${q.name} ${q.type === 33 ? "SRV" : q.type === 1 ? "A" : q.type}`);
    const known = zone.srv?.[q.name] !== undefined || zone.a?.[q.name] !== undefined;
    const ad = !(zone.insecure ?? []).includes(q.name);
    // QR, RD, RA, AD (when secure); NXDOMAIN for names not in the table.
    const flags = 0x8180 | (ad ? 0x0020 : 0) | (known ? 0 : 3);
    const header = [...u16(query.readUInt16BE(0)), ...u16(flags), ...u16(1)];
    header.push(...u16(answers.length), ...u16(0), ...u16(0));
    const reply = Buffer.from([...header, ...query.subarray(12, q.end), ...answers.flat()]);
    socket.send(reply, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return {
    port: socket.address().port,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
