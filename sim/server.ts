// One simulated NTP server: the real server core (NtpServerCore.handle, then
// finishReply with T3 read at the departure time) answering with the simulated
// server's clock. That clock is true time plus the server's
// error (constant offset, drift, steps) plus Gaussian read noise; the server
// publishes a primary's system state (stratum 1 unless the scenario says
// otherwise, LI 0).

import { readU32 } from "../src/proto/packet/header.js";
import { finishReply, FinishStep } from "../src/proto/server/finish.js";
import { NtpServerCore } from "../src/proto/server/server.js";
import {
  initialSystemState,
  linearRootDispersion,
  SystemStateCell,
  type SystemState,
} from "../src/proto/system/system-state.js";
import { referenceIdFromAscii } from "../src/proto/packet/reference-id.js";
import { NTP_UNIX_OFFSET_SECONDS, NtpTimestamp } from "../src/proto/time.js";
import { START_UNIX_SECONDS } from "./local-clock.js";
import { NetworkPath, jitterDelay } from "./network.js";
import { Rng } from "./random.js";
import type { ServerSpec } from "./scenario.js";

/** The simulated host's address as the servers see it. */
export const CLIENT_ADDRESS = "192.0.2.1";
const START = NtpTimestamp.fromUnix(START_UNIX_SECONDS, 0);

export interface ServerCounters {
  /** Requests that reached the server while it was answering. */
  received: number;
  /** Requests that reached it after it vanished. */
  unanswered: number;
  replies: number;
  drops: number;
}

export class SimServer {
  readonly spec: ServerSpec;
  readonly path: NetworkPath;
  readonly counters: ServerCounters = { received: 0, unanswered: 0, replies: 0, drops: 0 };
  readonly #core: NtpServerCore;
  readonly #noise: Rng;
  readonly #sendJitter: Rng;
  readonly #out = new Uint8Array(1024);

  constructor(spec: ServerSpec, seed: number) {
    this.spec = spec;
    this.path = new NetworkPath(spec.path, seed, spec.name);
    this.#noise = new Rng(seed, `server:${spec.name}:noise`);
    this.#sendJitter = new Rng(seed, `server:${spec.name}:send`);
    const stratum = spec.stratum ?? 1;
    const state: SystemState = {
      ...initialSystemState({ localStratum: 1, referenceId: "GPS" }),
      stratum,
      referenceId: stratum === 1 ? referenceIdFromAscii("GPS", "space") : 0xc0000201,
      precisionLog2: -20,
      rootDelay: spec.rootDelay ?? 0,
      ...linearRootDispersion(spec.rootDispersion ?? 1e-5, START, 0),
    };
    this.#core = new NtpServerCore({
      systemState: new SystemStateCell(state),
      rateLimitSeed: 1,
      interleaved: true,
    });
  }

  get name(): string {
    return this.spec.name;
  }

  /** The server's clock minus true time at true time `t` (without read noise), s. */
  error(t: number): number {
    const s = this.spec;
    let e = (s.offset ?? 0) + (s.drift ?? 0) * 1e-6 * t;
    for (const step of s.steps ?? []) if (t >= step.at) e += step.by;
    return e;
  }

  /** Whether the server still answers at true time `t`. */
  answersAt(t: number): boolean {
    return this.spec.stopsAt === undefined || t < this.spec.stopsAt;
  }

  /**
   * A request arrives at true time `t`. Returns the reply and the true time it
   * leaves the server, or null when the server does not answer.
   */
  receive(request: Uint8Array, t: number): { reply: Uint8Array; departs: number } | null {
    if (!this.answersAt(t)) {
      this.counters.unanswered++;
      return null;
    }
    this.counters.received++;
    const departs = t + (this.spec.processing ?? 20e-6);
    const decision = this.#core.handle(
      request,
      request.length,
      CLIENT_ADDRESS,
      this.#read(t),
      this.#out,
    );
    if (decision.action !== "reply") {
      this.counters.drops++;
      return null;
    }
    const stamped = (decision.finish.kind & FinishStep.TxStamp) !== 0;
    finishReply(this.#out, decision.finish, this.#read(departs));
    // The reply leaves sendPath after its T3 reading; in interleaved mode the server
    // learns when (the kernel's TX timestamp), read on its clock like any time.
    const leaves =
      departs + (this.spec.sendPath ?? 0) + jitterDelay(this.#sendJitter, this.spec.sendJitter);
    if (stamped) {
      const wire = this.#read(leaves);
      this.#core.saveTransmitTimestamp(
        readU32(this.#out, 32),
        readU32(this.#out, 36),
        wire.seconds - NTP_UNIX_OFFSET_SECONDS,
        Math.floor((wire.fraction * 1e9) / 2 ** 32),
      );
    }
    this.counters.replies++;
    return { reply: this.#out.slice(0, decision.length), departs: leaves };
  }

  #read(t: number): NtpTimestamp {
    const noise = (this.spec.noise ?? 1e-6) * this.#noise.gaussian();
    return START.addSeconds(t + this.error(t) + noise);
  }
}
