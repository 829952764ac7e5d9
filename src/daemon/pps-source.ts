// A `pps` source: RFC 2783 kernel PPS through the addon (native/pps.cc).
//
// The device is opened once (read-write, or read-only when a udev rule grants
// only that), its assert edge checked and captured; then PPS_FETCH waits for
// each pulse on a libuv worker thread, FETCH_TIMEOUT_SECONDS at a time (two
// periods for a longer period) so that a silent device is noticed; a fetch
// cannot be interrupted, so the daemon's exit may wait that long for it. Each new
// assert event (its sequence number moved on) becomes a measurement: the
// kernel's timestamp of the pulse, which marks a whole `period`
// (ppsMeasurement; the core wraps it into ±period/2 and never lets it vote).
// A device that cannot be opened is retried every OPEN_RETRY_SECONDS (udev may
// create it later); a failing fetch closes it and retries the same way.

import { ppsMeasurement } from "../proto/source/reference-sample.js";
import { referenceClockAddon, type ReferenceClockAddon } from "./native/reference-clocks.js";
import { ReferenceClockTask } from "./reference-clock.js";

export const FETCH_TIMEOUT_SECONDS = 2;
export const OPEN_RETRY_SECONDS = 10;

export class PpsSourceTask extends ReferenceClockTask {
  readonly name = "PPS device";
  #stopped = false;
  #retry: NodeJS.Timeout | null = null;
  #lastSequence: number | null = null;
  /** Fetch timeouts in a row (logged once when it starts). */
  #silent = 0;

  start(): void {
    const addon = referenceClockAddon();
    if ("reason" in addon) {
      this.context.log.error("pps source cannot start", {
        source: this.name,
        path: this.path,
        reason: addon.reason,
      });
      return;
    }
    this.#open(addon);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
  }

  #open(addon: ReferenceClockAddon): void {
    if (this.#stopped) return;
    const fields = { source: this.name, path: this.path };
    let fd: number;
    try {
      const device = addon.ppsOpen(this.path);
      fd = device.fd;
      this.context.log.info("pps device open", {
        ...fields,
        capabilities: `0x${device.capabilities.toString(16)}`,
        mode: `0x${device.mode.toString(16)}`,
      });
    } catch (error) {
      this.context.log.error("pps device cannot be opened; retrying", {
        ...fields,
        reason: error instanceof Error ? error.message : String(error),
        retry: `${OPEN_RETRY_SECONDS}s`,
      });
      this.#retry = setTimeout(() => this.#open(addon), OPEN_RETRY_SECONDS * 1000);
      return;
    }
    void this.#fetchLoop(addon, fd);
  }

  async #fetchLoop(addon: ReferenceClockAddon, fd: number): Promise<void> {
    const fields = { source: this.name, path: this.path };
    const fetchTimeout = Math.max(FETCH_TIMEOUT_SECONDS, 2 * (this.noise.period ?? 1));
    try {
      while (!this.#stopped) {
        const pulse = await addon.ppsFetch(fd, fetchTimeout);
        if (this.#stopped) break;
        if (pulse === null || pulse.sequence === this.#lastSequence) {
          if (++this.#silent === 1) this.context.log.warn("no pulse from the pps device", fields);
          continue;
        }
        if (this.#silent > 0) this.context.log.info("pulses again", fields);
        this.#silent = 0;
        this.#lastSequence = pulse.sequence;
        this.deliver(ppsMeasurement(pulse.sec, pulse.nsec, this.noise.period ?? 1));
      }
    } catch (error) {
      this.context.log.error("pps fetch failed; reopening", {
        ...fields,
        reason: error instanceof Error ? error.message : String(error),
        retry: `${OPEN_RETRY_SECONDS}s`,
      });
      if (!this.#stopped) {
        this.#retry = setTimeout(() => this.#open(addon), OPEN_RETRY_SECONDS * 1000);
      }
    } finally {
      // Closed only once no fetch is running on it.
      addon.ppsClose(fd);
    }
  }
}
