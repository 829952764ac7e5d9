// A `[[source]] mode = "csptp"`: polls one CSPTP server every `poll_interval`
// seconds (±10 %, as ntpd-rs) from the shared event port (csptp-ports.ts) and
// hands each measurement of its exchanges (proto/csptp/client.ts) to the clock
// discipline, like an NTP source. One exchange at a time: a poll that comes while
// a response is still awaited (less than `response_interval` ago) waits for it.
//
// T1 is the clock reading right before the send (no kernel TX timestamp on the
// shared socket); T4 is the socket's receive timestamp (kernel with the addon).
// The spawner resolves the address once (retrying while it does not resolve).

import type { CsptpSourceConfig } from "../proto/config/types.js";
import { CSPTP_REQUEST_BUFFER, CsptpClient } from "../proto/csptp/client.js";
import type { CsptpDropReason, CsptpMessage } from "../proto/csptp/wire.js";
import type { PollIntervalLimits } from "../proto/source/poll-interval.js";
import type { Measurement, SourceSnapshot } from "../proto/source/types.js";
import { NtpTimestamp } from "../proto/time.js";
import type { CsptpPeerHandler, CsptpPorts } from "./csptp-ports.js";
import type { Logger } from "./log.js";
import { formatHostPort, type ResolvedAddress, type Resolver } from "./resolve.js";
import { allocateSourceId } from "./source-task.js";
import type { Spawner } from "./spawners.js";
import type { WallClock } from "./wall-clock.js";

export interface CsptpSourceHooks {
  onMeasurement(task: CsptpSourceTask, measurement: Measurement): void;
}

export interface CsptpSourceContext {
  ports: CsptpPorts;
  clock: WallClock;
  log: Logger;
  hooks: CsptpSourceHooks;
  /** Seconds on a monotonic clock (default: performance.now()). */
  monotonic?: () => number;
}

const monotonicSeconds = (): number => performance.now() / 1000;

export class CsptpSourceTask implements CsptpPeerHandler {
  readonly id = allocateSourceId();
  /** As configured: "ptp.example:319". */
  readonly name: string;
  readonly addressText: string;
  readonly client: CsptpClient;
  /** Measurements handed on. */
  samples = 0;
  /** Datagrams from the server dropped, by reason. */
  readonly dropped = new Map<string, number>();
  /** What the system core needs to route desired polls: the poll interval is fixed. */
  readonly polled: { pollLimits: Readonly<PollIntervalLimits>; setDesiredPollInterval(): void };
  readonly #buffer = new Uint8Array(CSPTP_REQUEST_BUFFER);
  readonly #monotonic: () => number;
  #timer: NodeJS.Timeout | null = null;
  #last: Measurement | null = null;
  #reach = 0;
  #polls = 0;
  #unanswered = 0;
  /** The exchange in flight has been answered (or there is none). */
  #answered = true;
  #stopped = false;
  #sendErrors = 0;

  constructor(
    private readonly config: CsptpSourceConfig,
    readonly address: ResolvedAddress,
    private readonly context: CsptpSourceContext,
  ) {
    this.name = formatHostPort(config.address.host, config.address.port);
    this.addressText = formatHostPort(address.address, config.address.port);
    this.client = new CsptpClient({
      domain: config.domain,
      responseInterval: config.responseInterval,
    });
    const log2 = Math.max(-128, Math.min(127, Math.round(Math.log2(config.pollInterval))));
    this.polled = { pollLimits: { min: log2, max: log2 }, setDesiredPollInterval: () => {} };
    this.#monotonic = context.monotonic ?? monotonicSeconds;
  }

  start(): void {
    this.context.ports.addPeer(this.address.address, this);
    this.#schedule(0);
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.context.ports.removePeer(this.address.address, this);
  }

  #schedule(seconds: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => this.#poll(), Math.max(0, seconds * 1000));
  }

  #poll(): void {
    this.#timer = null;
    const now = this.#monotonic();
    if (this.client.waiting(now)) {
      // Wait for the response (or its timeout) before the next request.
      this.#schedule(0.05);
      return;
    }
    if (!this.#answered) this.#unanswered++;
    this.#answered = false;
    this.#reach = (this.#reach << 1) & 0xff;
    this.#polls++;
    const length = this.client.request(this.#buffer);
    const t1 = this.context.clock.now();
    try {
      this.context.ports.send(this.#buffer, length, this.address.address, this.config.address.port);
      this.client.sent(t1, now);
    } catch (error) {
      this.#sendErrors++;
      this.context.log.log(this.#sendErrors === 1 ? "warn" : "debug", "CSPTP request not sent", {
        source: this.name,
        address: this.addressText,
        error: error instanceof Error ? error.message : String(error),
        errors: this.#sendErrors,
      });
    }
    const jitter = 0.9 + Math.random() * 0.2;
    this.#schedule(this.config.pollInterval * jitter);
  }

  onMessage(message: CsptpMessage, rxSec: number, rxNsec: number): void {
    const event = this.client.receive(message, NtpTimestamp.fromUnix(rxSec, rxNsec));
    switch (event.kind) {
      case "measurement":
        this.#answered = true;
        this.#unanswered = 0;
        this.#reach |= 1;
        this.samples++;
        this.#last = event.measurement;
        this.context.hooks.onMeasurement(this, event.measurement);
        break;
      case "unsynchronized":
        this.#answered = true;
        this.#unanswered = 0;
        this.#drop("unsynchronized");
        break;
      case "partial":
        break;
      case "ignored":
        this.#drop(event.reason);
        break;
    }
  }

  onMalformed(reason: CsptpDropReason): void {
    this.#drop(reason);
  }

  #drop(reason: string): void {
    const count = (this.dropped.get(reason) ?? 0) + 1;
    this.dropped.set(reason, count);
    this.context.log.log(count === 1 ? "info" : "debug", "CSPTP message dropped", {
      source: this.name,
      address: this.addressText,
      reason,
      dropped: count,
    });
  }

  get droppedTotal(): number {
    let n = 0;
    for (const c of this.dropped.values()) n += c;
    return n;
  }

  /** For the observation, in the shape of a network source's snapshot. */
  snapshot(): SourceSnapshot {
    const log2 = this.polled.pollLimits.min;
    return {
      reach: this.#reach,
      reachable: this.#reach !== 0,
      unansweredPolls: this.#unanswered,
      polls: this.#polls,
      pollInterval: log2,
      desiredPollInterval: log2,
      remoteMinPollInterval: log2,
      stratum: this.#last?.stratum ?? 16,
      referenceId: 0,
      rootDelay: 0,
      rootDispersion: 0,
      lastMeasurement: this.#last,
      lastKissCode: null,
      denied: false,
      demobilized: false,
    };
  }
}

/** Starts one CSPTP source once its address resolves (retrying 1 s, doubling to 64 s). */
export class CsptpSpawner implements Spawner {
  readonly name: string;
  task: CsptpSourceTask | null = null;
  #retry = 1;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;

  constructor(
    private readonly config: CsptpSourceConfig,
    private readonly context: CsptpSourceContext,
    private readonly resolve: Resolver,
    private readonly onStarted: (task: CsptpSourceTask) => void,
    private readonly onStopped: (task: CsptpSourceTask) => void,
  ) {
    this.name = formatHostPort(config.address.host, config.address.port);
  }

  start(): void {
    void this.#spawn();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const task = this.task;
    this.task = null;
    if (task) {
      task.stop();
      this.onStopped(task);
    }
  }

  async #spawn(): Promise<void> {
    const log = this.context.log;
    let address: ResolvedAddress | undefined;
    try {
      await this.context.ports.open();
      address = (await this.resolve(this.config.address.host))[0];
    } catch (error) {
      log.warn("CSPTP source cannot start yet", {
        source: this.name,
        error: error instanceof Error ? error.message : String(error),
        retry_in: `${this.#retry}s`,
      });
    }
    if (this.#stopped) return;
    if (address === undefined) {
      this.#timer = setTimeout(() => void this.#spawn(), this.#retry * 1000);
      this.#retry = Math.min(64, this.#retry * 2);
      return;
    }
    const task = new CsptpSourceTask(this.config, address, this.context);
    this.task = task;
    this.onStarted(task);
    task.start();
  }
}
