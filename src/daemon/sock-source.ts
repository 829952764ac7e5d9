// A `sock` source: the Unix datagram socket gpsd writes chrony SOCK samples to
// (proto/source/reference-sample.ts has the layout and the checks).
//
// The daemon creates the socket at `path`, as ntpd-rs and chrony do: gpsd only
// finds it if it exists when gpsd starts. A stale socket file (a previous run
// that did not clean up) is removed first; any other kind of file at the path
// is left alone and the source does not start (it is not ours to delete).
//
// Permissions: the socket file is made mode 0660 (owner and group may write).
// gpsd usually connects as root before it drops its privileges, which needs
// nothing more; a gpsd running as another user needs to be in the daemon's
// group (docs/reference-clocks.md). Not 0666: anyone able to write the socket
// can steer the clock.
//
// Each sample carries its own system time (tv), taken by gpsd against the
// same system clock the daemon measures, so the latency of reading it does not
// matter. A sample more than MAX_SAMPLE_AGE_SECONDS away from now (a stuck
// writer, or a clock stepped in between) is dropped as "time".

import { chmodSync, lstatSync, unlinkSync } from "node:fs";
import { parseSockSample, sockMeasurement } from "../proto/source/reference-sample.js";
import { referenceClockAddon, type UnixDgramSocketHandle } from "./native/reference-clocks.js";
import { ReferenceClockTask } from "./reference-clock.js";

export const SOCK_FILE_MODE = 0o660;
export const MAX_SAMPLE_AGE_SECONDS = 4;

export class SockSourceTask extends ReferenceClockTask {
  readonly name = "GPSd socket";
  #socket: UnixDgramSocketHandle | null = null;

  /** Creates the socket; a failure is logged and leaves the source without samples. */
  start(): void {
    const log = this.context.log;
    const fields = { source: this.name, path: this.path };
    const addon = referenceClockAddon();
    if ("reason" in addon) {
      log.error("sock source cannot start", { ...fields, reason: addon.reason });
      return;
    }
    try {
      this.#removeStale();
      const socket = new addon.UnixDgramSocket(this.path);
      chmodSync(this.path, SOCK_FILE_MODE);
      socket.start((bytes, length) => this.#onDatagram(bytes, length));
      this.#socket = socket;
      log.info("sock source listening", { ...fields, mode: SOCK_FILE_MODE.toString(8) });
    } catch (error) {
      log.error("sock source cannot start", {
        ...fields,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }

  stop(): void {
    if (this.#socket === null) return;
    this.#socket.close();
    this.#socket = null;
    try {
      if (lstatSync(this.path).isSocket()) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  #removeStale(): void {
    let stat;
    try {
      stat = lstatSync(this.path);
    } catch {
      return; // nothing there
    }
    if (!stat.isSocket()) {
      throw new Error(`${this.path} exists and is not a socket; not removing it`);
    }
    unlinkSync(this.path);
    this.context.log.info("removed a stale socket file", { source: this.name, path: this.path });
  }

  #onDatagram(bytes: Buffer, length: number): void {
    try {
      const parsed = parseSockSample(bytes, length);
      if (!parsed.ok) {
        this.drop(parsed.reason, { length });
        return;
      }
      const m = sockMeasurement(parsed.sample);
      const age = this.context.clock.now().diffSeconds(m.t4);
      if (!(Math.abs(age) <= MAX_SAMPLE_AGE_SECONDS)) {
        this.drop("time", { age: age.toFixed(3) });
        return;
      }
      this.deliver(m);
    } catch (error) {
      // A bug of ours must not take the daemon down with a datagram.
      this.context.log.error("sock sample handling failed", {
        source: this.name,
        path: this.path,
        reason: error instanceof Error ? error.message : String(error),
      });
    }
  }
}
