// The `[[csptp-server]]`: answers CSPTP requests arriving at the event port
// (csptp-ports.ts) with a one-step response (proto/csptp/server.ts), T3 read
// right before the send. What it says about the clock comes from `[csptp]` and
// the system state the NTP servers publish too.

import type { CsptpConfig } from "../proto/config/types.js";
import {
  countCsptpResult,
  handleCsptpRequest,
  newCsptpServerStats,
  type CsptpServerDrop,
  type CsptpServerState,
  type CsptpServerStats,
} from "../proto/csptp/server.js";
import { ptpFromUnix, STATUS_RESPONSE_LENGTH, writeOriginTimestamp } from "../proto/csptp/wire.js";
import type { SystemStateProvider } from "../proto/system/system-state.js";
import type { CsptpPorts, CsptpRequestHandler } from "./csptp-ports.js";
import type { Logger } from "./log.js";
import { readRealtime, type Timespec } from "./native/clock.js";

export class CsptpServer implements CsptpRequestHandler {
  readonly stats: CsptpServerStats = newCsptpServerStats();
  readonly #reply = new Uint8Array(STATUS_RESPONSE_LENGTH);
  readonly #t3: Timespec = { sec: 0, nsec: 0 };
  readonly #identity: Uint8Array;

  constructor(
    private readonly config: CsptpConfig,
    private readonly ports: CsptpPorts,
    private readonly system: SystemStateProvider,
    private readonly log: Logger,
  ) {
    this.#identity = Uint8Array.from(config.identity);
  }

  /** "[::]:319", as the observation names it. */
  get listenText(): string {
    return `[::]:${this.config.eventPort}`;
  }

  async start(): Promise<void> {
    await this.ports.open();
    this.ports.server = this;
    this.log.info("CSPTP server listening", { port: this.config.eventPort });
  }

  stop(): void {
    if (this.ports.server === this) this.ports.server = null;
  }

  #state(): CsptpServerState {
    const s = this.system.current();
    const c = this.config;
    const unsynchronized = s.leap === 3 || s.stratum >= 16;
    return {
      leap: s.leap,
      unsynchronized,
      ptpTimescale: c.ptpTimescale,
      timeTraceable: c.timeTraceable,
      frequencyTraceable: c.frequencyTraceable,
      status: {
        priority1: c.priority1,
        clockQuality: c.clockQuality,
        priority2: c.priority2,
        // Hops to a primary: 0 when we are one (stratum 1). Our clients read it back as stratum.
        stepsRemoved: unsynchronized ? 0xffff : Math.max(0, s.stratum - 1),
        currentUtcOffset: 0,
        grandmasterIdentity: this.#identity,
      },
    };
  }

  onRequest(
    bytes: Uint8Array,
    length: number,
    address: string,
    port: number,
    rxSec: number,
    rxNsec: number,
  ): void {
    const result = handleCsptpRequest(
      bytes,
      length,
      ptpFromUnix(rxSec, rxNsec),
      this.#state(),
      this.#reply,
    );
    countCsptpResult(this.stats, result);
    if (result.kind !== "response") {
      this.log.debug("CSPTP request dropped", { reason: result.reason, address, port });
      return;
    }
    const t3 = readRealtime(this.#t3);
    writeOriginTimestamp(this.#reply, ptpFromUnix(t3.sec, t3.nsec));
    try {
      this.ports.send(this.#reply, result.length, address, port);
    } catch (error) {
      this.stats.sendErrors++;
      this.log.debug("CSPTP response not sent", {
        address,
        port,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  onDropped(reason: CsptpServerDrop): void {
    countCsptpResult(this.stats, { kind: "drop", reason });
  }
}
