// A fake gpsd: writes chrony SOCK samples (40 bytes, little-endian, magic "SOCK")
// to a daemon's sock-source socket, through the addon (Node has no Unix datagram
// sockets), every `intervalMs`, each claiming true time − system time = `offset`
// (plus a small deterministic ripple) at the moment it is sent.
import { encodeSockSample } from "../../src/proto/source/reference-sample.js";
import {
  referenceClockAddon,
  type ReferenceClockAddon,
} from "../../src/daemon/native/reference-clocks.js";

/** Why no fake gpsd can run here, or undefined. */
export function fakeGpsdUnavailable(): string | undefined {
  const addon = referenceClockAddon();
  return "reason" in addon ? addon.reason : undefined;
}

function addon(): ReferenceClockAddon {
  const a = referenceClockAddon();
  if ("reason" in a) throw new Error(a.reason);
  return a;
}

/** A sample taken now, as gpsd's timehint.c fills it in. */
export function sampleNow(offset: number, extra: { pulse?: number; magic?: number } = {}): Buffer {
  const nowUs = BigInt(Date.now()) * 1000n + BigInt(Math.floor((performance.now() * 1000) % 1000));
  return encodeSockSample({
    sec: Number(nowUs / 1_000_000n),
    usec: Number(nowUs % 1_000_000n),
    offset,
    ...extra,
  });
}

export class FakeGpsd {
  sent = 0;
  /** Sends refused because nobody listens yet (the daemon's socket is not there). */
  refused = 0;
  #timer: NodeJS.Timeout | null = null;

  constructor(
    readonly path: string,
    readonly offset: number,
    /** Peak of the ripple added to the offset, s. */
    readonly ripple = 20e-6,
  ) {}

  /** One datagram as it is; false when the socket is not there (yet). */
  send(bytes: Uint8Array): boolean {
    try {
      addon().unixDgramSend(this.path, bytes);
      this.sent++;
      return true;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === "ENOENT" || code === "ECONNREFUSED") {
        this.refused++;
        return false;
      }
      throw error;
    }
  }

  start(intervalMs: number): void {
    let i = 0;
    this.#timer = setInterval(() => {
      const ripple = this.ripple * Math.sin(i++);
      this.send(sampleNow(this.offset + ripple));
    }, intervalMs);
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
