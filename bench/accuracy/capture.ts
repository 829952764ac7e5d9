// How late the reference servers' replies really reach the wire: dumpcap on lo
// for the whole run, capturing only UDP from the servers' ports (a kernel BPF
// filter), the first 128 octets of each frame. Each captured reply is matched
// to its scheduled departure by its transmit time stamp (T3 octets); frame
// time − scheduled departure is the reference's own latency, which a client
// takes for network delay (half of it, on average, for offset error). The
// capture time stamps and the departures are both CLOCK_REALTIME.
import { readFile, rm } from "node:fs/promises";
import { spawnProcess, which, type Spawned } from "../../test/helpers/process.js";
import { ntpFrames } from "../wire.js";
import type { TimeBase } from "./server.js";

export interface ReferenceLatency {
  /** Frame time − scheduled departure, µs, one per matched reply. */
  us: number[];
  /** Captured replies with no scheduled departure on record. */
  unmatched: number;
  /** Frames that were not NTP. */
  unreadable: number;
}

export interface Capture {
  /** Stops dumpcap and matches the frames to `departures` (relative realtime s by T3 hex). */
  finish(departures: ReadonlyMap<string, number>, base: TimeBase): Promise<ReferenceLatency>;
  /** Stops dumpcap and deletes the file, without parsing. */
  abort(): Promise<void>;
}

/** Why the reference latency cannot be measured, or undefined. */
export function captureUnavailable(): string | undefined {
  return which("dumpcap") ? undefined : "dumpcap is not installed (wireshark-common / tshark)";
}

export async function startCapture(ports: readonly number[], file: string): Promise<Capture> {
  const filter = `udp and (${ports.map((p) => `src port ${p}`).join(" or ")})`;
  const cap: Spawned = await spawnProcess(
    "dumpcap",
    ["-q", "-i", "lo", "-f", filter, "-s", "128", "-w", file],
    { name: "dumpcap" },
  );
  // dumpcap says "Capturing on 'Loopback: lo'" once the filter is in place.
  await cap.waitForOutput(/Capturing on/, 10_000).catch(() => undefined);
  const stop = async () => {
    await cap.stop(3000);
  };
  return {
    async finish(departures, base) {
      // Let the last frames reach the file before dumpcap is told to stop.
      await new Promise((r) => setTimeout(r, 300));
      await stop();
      try {
        const { frames, unreadable } = ntpFrames(await readFile(file));
        const us: number[] = [];
        let unmatched = 0;
        for (const { frameNs, ntp } of frames) {
          const leave = departures.get(ntp.toString("hex", 40, 48));
          if (leave === undefined) {
            unmatched++;
            continue;
          }
          const sec = Number(frameNs / 1_000_000_000n);
          const nsec = Number(frameNs % 1_000_000_000n);
          us.push((base.relative(sec, nsec) - leave) * 1e6);
        }
        return { us, unmatched, unreadable };
      } finally {
        await rm(file, { force: true });
      }
    },
    async abort() {
      await stop();
      await rm(file, { force: true });
    },
  };
}
