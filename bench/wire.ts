// T3 to wire: how long after a server reads its transmit timestamp (T3) its
// reply is seen on the loopback interface. A reply's T3 claims "this is when
// I sent it"; every microsecond between that reading and the real send is an
// error the client takes for network delay (it is not symmetric, so it lands
// in the offset by half).
//
// Method: loadgen.c sends paced requests (--rate) to the server while dumpcap
// captures, on `lo`, only UDP from the server's address and port (the
// replies; a kernel BPF filter, so requests and other traffic cost nothing),
// at most `maxPackets` frames of their first 128 octets, for at most
// `seconds`. Each captured frame's time stamp (the kernel's, when the packet
// went through lo; nanoseconds in pcapng) minus the T3 inside it (NTP octets
// 40-47, converted to the Unix epoch) is one sample. The capture clock is
// CLOCK_REALTIME, the clock both servers read T3 from, so no offset needs
// removing; the servers run with an undisciplined local clock (local stratum
// 1, --no-clock-control / chronyd -x), so T3 is a plain clock reading. The
// capture file is deleted after parsing.
import { readFile, rm } from "node:fs/promises";
import { spawnProcess, which } from "../test/helpers/process.js";
import { orTimeout } from "../test/helpers/wait.js";
import { runLoadgen, type LoadgenOptions } from "./loadgen.js";
import type { RunningServer } from "./targets.js";

/** Seconds from the NTP era 0 epoch (1900) to the Unix epoch (1970). */
const NTP_UNIX_OFFSET = 2208988800n;
/** Octets kept of each frame: link + IPv4/IPv6 + UDP headers + the 48-octet NTP header. */
const SNAPLEN = 128;

export interface WireOptions {
  server: RunningServer;
  loadgenBin: string;
  /** Requests a second. */
  rate: number;
  /** Load before the capture starts (JIT warm-up, queues settled). */
  warmupMs: number;
  /** Capture at most this long... */
  seconds: number;
  /** ...and at most this many replies (bounds the file: ~200 octets each). */
  maxPackets: number;
  /** Requests outstanding at most (NTS: the number of prepared requests). */
  window: number;
  /** CPUs for the load generator and dumpcap (not the server's). */
  cpus: string;
  /** Where the capture goes (deleted afterwards). */
  file: string;
  /** Template mode (NTS) options from the workload's prepare(). */
  loadOptions?: Partial<LoadgenOptions>;
}

export interface WireSamples {
  /** frame time - T3, microseconds, one per captured reply. */
  us: number[];
  /** Replies a second the load generator got back while it ran. */
  achievedRate: number;
  /** Frames that were not an NTP reply we could read (truncated, other protocol). */
  unreadable: number;
}

/** dumpcap's path, or why the T3-to-wire measurement cannot run. */
export function wireUnavailable(): string | undefined {
  return which("dumpcap") ? undefined : "dumpcap is not installed (wireshark-common / tshark)";
}

export async function measureT3ToWire(o: WireOptions): Promise<WireSamples> {
  const captureMs = Math.ceil(o.seconds) * 1000;
  const load = runLoadgen(o.loadgenBin, {
    host: o.server.host,
    port: o.server.port,
    // loadgen measures nothing here; it just keeps the rate up around the capture.
    durationMs: o.warmupMs + captureMs + 2000,
    warmupMs: 0,
    window: o.window,
    batch: 16,
    cpus: o.cpus,
    ...o.loadOptions,
    rate: o.rate,
  });
  let samples: WireSamples | undefined;
  try {
    await new Promise((r) => setTimeout(r, o.warmupMs));
    const filter = `udp and src host ${o.server.host} and src port ${o.server.port}`;
    const cap = await spawnProcess(
      "dumpcap",
      [
        "-i",
        "lo",
        "-f",
        filter,
        "-s",
        String(SNAPLEN),
        "-a",
        `duration:${captureMs / 1000}`,
        "-c",
        String(o.maxPackets),
        "-w",
        o.file,
      ],
      { cpus: o.cpus, name: "dumpcap" },
    );
    const status = await orTimeout(cap.exited, captureMs + 15000, undefined);
    if (status === undefined) {
      await cap.stop(1000);
      throw new Error("dumpcap did not stop in time");
    }
    if (status.code !== 0) {
      throw new Error(`dumpcap failed (code ${status.code}): ${cap.stderr().trim()}`);
    }
    const parsed = t3ToWire(await readFile(o.file));
    samples = { ...parsed, achievedRate: NaN };
  } finally {
    const r = await load.catch((e: unknown) => e);
    await rm(o.file, { force: true });
    if (samples && !(r instanceof Error) && r !== undefined) {
      samples.achievedRate = (r as { rate: number }).rate;
    }
  }
  return samples;
}

/** Samples (frame time - T3, us) from a pcapng capture of NTP replies. */
export function t3ToWire(pcapng: Buffer): { us: number[]; unreadable: number } {
  const { frames, unreadable } = ntpFrames(pcapng);
  const us = frames.map(({ frameNs, ntp }) => {
    const t3Sec = BigInt(ntp.readUInt32BE(40)) - NTP_UNIX_OFFSET;
    const t3Ns = (BigInt(ntp.readUInt32BE(44)) * 1_000_000_000n) >> 32n;
    return Number(frameNs - (t3Sec * 1_000_000_000n + t3Ns)) / 1000;
  });
  return { us, unreadable };
}

/**
 * The NTP messages (48 octets or more) of a pcapng capture, each with its
 * frame's time stamp (Unix nanoseconds); frames that are not are counted.
 */
export function ntpFrames(pcapng: Buffer): {
  frames: { frameNs: bigint; ntp: Buffer }[];
  unreadable: number;
} {
  const frames: { frameNs: bigint; ntp: Buffer }[] = [];
  let unreadable = 0;
  // Per interface (in IDB order): link type and time stamp units per second.
  const ifaces: { linkType: number; unitsPerSec: bigint }[] = [];
  let off = 0;
  let le = true;
  while (off + 12 <= pcapng.length) {
    const type = pcapng.readUInt32LE(off);
    if (type === 0x0a0d0d0a) le = pcapng.readUInt32LE(off + 8) === 0x1a2b3c4d;
    const u32 = (at: number) => (le ? pcapng.readUInt32LE(at) : pcapng.readUInt32BE(at));
    const u16 = (at: number) => (le ? pcapng.readUInt16LE(at) : pcapng.readUInt16BE(at));
    const len = u32(off + 4);
    if (len < 12 || off + len > pcapng.length) break;
    const blockType = u32(off);
    if (blockType === 1) {
      // Interface Description Block: link type, then options (if_tsresol = 9).
      let unitsPerSec = 1_000_000n;
      let o = off + 16;
      while (o + 4 <= off + len - 4) {
        const code = u16(o);
        const olen = u16(o + 2);
        if (code === 0) break;
        if (code === 9 && olen >= 1) {
          const r = pcapng[o + 4]!;
          unitsPerSec = r & 0x80 ? 2n ** BigInt(r & 0x7f) : 10n ** BigInt(r);
        }
        o += 4 + ((olen + 3) & ~3);
      }
      ifaces.push({ linkType: u16(off + 8), unitsPerSec });
    } else if (blockType === 6) {
      // Enhanced Packet Block: interface, time stamp (high, low), lengths, data.
      const iface = ifaces[u32(off + 8)];
      const ts = (BigInt(u32(off + 12)) << 32n) | BigInt(u32(off + 16));
      const capLen = u32(off + 20);
      const data = pcapng.subarray(off + 28, off + 28 + capLen);
      const ntp = iface ? ntpPayload(data, iface.linkType) : undefined;
      if (!iface || !ntp || ntp.length < 48) unreadable++;
      else frames.push({ frameNs: (ts * 1_000_000_000n) / iface.unitsPerSec, ntp });
    }
    off += len;
  }
  return { frames, unreadable };
}

/** The UDP payload of a captured frame (Ethernet as on lo, or Linux cooked), or undefined. */
function ntpPayload(frame: Buffer, linkType: number): Buffer | undefined {
  const linkHeader = linkType === 1 ? 14 : linkType === 113 ? 16 : linkType === 276 ? 20 : -1;
  if (linkHeader < 0 || frame.length < linkHeader + 1) return undefined;
  const ip = frame.subarray(linkHeader);
  const version = ip[0]! >> 4;
  let udp: Buffer;
  if (version === 4) {
    if (ip[9] !== 17) return undefined;
    udp = ip.subarray((ip[0]! & 0x0f) * 4);
  } else if (version === 6) {
    if (ip[6] !== 17) return undefined;
    udp = ip.subarray(40);
  } else return undefined;
  return udp.length >= 8 ? udp.subarray(8) : undefined;
}

/** The q-quantile (0..1) of xs by nearest rank, NaN for none. */
export function quantile(xs: readonly number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))]!;
}
