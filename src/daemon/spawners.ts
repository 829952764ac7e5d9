// Spawners turn `[[source]]` entries into running source tasks and replace
// them when they end, as ntpd-rs's spawners do:
//   server: resolve the name, use its first address; after "unreachable",
//           resolve again (the server may have moved); never respawn after a
//           DENY/RSTR demobilization.
//   pool:   keep up to `count` distinct addresses of the name, minus `ignore`,
//           topping up from the last DNS answer and resolving again when it
//           is used up.
// DNS failures are retried with a back-off from 1 s to 64 s, so a missing
// network costs a log line a minute, not a busy loop.

import type {
  NetworkSourceCommon,
  PoolSourceConfig,
  ServerSourceConfig,
} from "../proto/config/types.js";
import type { RequestProtector } from "../proto/source/request-protector.js";
import type { CertificateTimePolicy } from "./certificate-time-policy.js";
import type { LogFields, Logger } from "./log.js";
import { formatHostPort, type ResolvedAddress, type Resolver } from "./resolve.js";
import { errorText, type SourceEnd, type SourceTask } from "./source-task.js";
import type { SrvDiscovery } from "./srv-resolve.js";

/** Creates (but does not start) a task for one resolved address. */
export type TaskFactory = (
  config: NetworkSourceCommon,
  name: string,
  address: ResolvedAddress,
  port: number,
  onEnd: (task: SourceTask, reason: SourceEnd) => void,
  /** NTS sources: protects requests and authenticates replies. */
  protector?: RequestProtector,
) => SourceTask;

export interface SpawnerContext {
  resolve: Resolver;
  /** SRV discovery for `enable-srv-resolution` (nts and nts-pool sources). */
  srv?: SrvDiscovery;
  createTask: TaskFactory;
  log: Logger;
  /** `no-certificate-time-check`: whether NTS-KE may ignore certificate dates now. */
  certificateTimes?: CertificateTimePolicy;
  /** Called when a task starts or stops, so the system can track it. */
  onTaskStarted(task: SourceTask): void;
  onTaskStopped(task: SourceTask): void;
}

export interface Spawner {
  readonly name: string;
  start(): void;
  stop(): void;
}

export const MIN_RETRY_SECONDS = 1;
const MAX_RETRY_SECONDS = 64;

/**
 * How long to wait before replacing a source that ended. A source that never
 * answered makes the wait grow (1 s doubling to 64 s): a dead server must not
 * be hammered by a new source's start-up polls every few seconds. One that
 * worked for a while is replaced after a second.
 */
export function retryAfterEnd(task: SourceTask, backoff: Backoff): number {
  if (task.source.snapshot().lastMeasurement !== null) backoff.succeeded();
  return backoff.delay;
}

/** Retry timing shared by the spawners: doubles on failure, resets on success. */
export class Backoff {
  private seconds = MIN_RETRY_SECONDS;
  private timer: NodeJS.Timeout | null = null;

  schedule(action: () => void, delaySeconds = this.seconds): void {
    this.cancel();
    this.timer = setTimeout(() => {
      this.timer = null;
      action();
    }, delaySeconds * 1000);
  }

  failed(): void {
    this.seconds = Math.min(this.seconds * 2, MAX_RETRY_SECONDS);
  }

  succeeded(): void {
    this.seconds = MIN_RETRY_SECONDS;
  }

  get delay(): number {
    return this.seconds;
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}

/**
 * What the server and nts spawners share: one task at a time, replaced when it
 * ends (after the back-off), never after a DENY/RSTR demobilization. A
 * subclass makes the task in spawn(), hands it to run(), and says what to log.
 */
export abstract class OneTaskSpawner implements Spawner {
  readonly name: string;
  protected readonly backoff = new Backoff();
  protected stopped = false;
  private task: SourceTask | null = null;

  constructor(
    address: { host: string; port: number },
    protected readonly context: SpawnerContext,
  ) {
    this.name = formatHostPort(address.host, address.port);
  }

  start(): void {
    void this.spawn();
  }

  stop(): void {
    this.stopped = true;
    this.backoff.cancel();
    if (!this.task) return;
    const task = this.task;
    this.task = null;
    task.stop();
    this.forget(task);
    this.context.onTaskStopped(task);
  }

  /** Makes the task (its onEnd: this.ended) and run()s it, or schedules a retry. */
  protected abstract spawn(): Promise<void>;

  /** The warning when the server demobilized the task's source. */
  protected abstract readonly demobilizedMessage: string;

  /** The line logged when `task` ended and is replaced in `delay` seconds. */
  protected abstract replacing(
    task: SourceTask,
    reason: Exclude<SourceEnd, "demobilized">,
    delay: number,
  ): { message: string; fields: LogFields };

  /** Drops what the subclass keeps about a task that is gone. */
  protected forget(_task: SourceTask): void {}

  protected run(task: SourceTask): void {
    this.task = task;
    this.context.onTaskStarted(task);
    task.start();
  }

  protected ended(task: SourceTask, reason: SourceEnd): void {
    this.context.onTaskStopped(task);
    this.forget(task);
    this.task = null;
    if (this.stopped) return;
    if (reason === "demobilized") {
      this.context.log.warn(this.demobilizedMessage, { source: this.name });
      return;
    }
    const delay = retryAfterEnd(task, this.backoff);
    const { message, fields } = this.replacing(task, reason, delay);
    this.context.log.info(message, { source: this.name, ...fields, retry_in: `${delay}s` });
    this.backoff.schedule(() => void this.spawn(), delay);
    this.backoff.failed();
  }
}

export class ServerSpawner extends OneTaskSpawner {
  protected readonly demobilizedMessage = "source demobilized; it will not be used again";

  constructor(
    private readonly config: ServerSourceConfig,
    context: SpawnerContext,
  ) {
    super(config.address, context);
  }

  protected async spawn(): Promise<void> {
    const { host, port } = this.config.address;
    let addresses: ResolvedAddress[];
    try {
      addresses = await this.context.resolve(host);
    } catch (error) {
      addresses = [];
      this.context.log.warn("could not resolve source address", {
        source: this.name,
        error: errorText(error),
        retry_in: `${this.backoff.delay}s`,
      });
    }
    if (this.stopped) return;
    const first = addresses[0];
    if (!first) {
      this.backoff.schedule(() => void this.spawn());
      this.backoff.failed();
      return;
    }
    this.run(
      this.context.createTask(this.config, this.name, first, port, (t, reason) =>
        this.ended(t, reason),
      ),
    );
  }

  protected replacing(task: SourceTask): { message: string; fields: LogFields } {
    return {
      message: "source unreachable, resolving its address again",
      fields: { address: task.addressText },
    };
  }
}

export class PoolSpawner implements Spawner {
  readonly name: string;
  private readonly tasks = new Map<string, SourceTask>();
  /** Addresses of the last DNS answer not yet tried. */
  private spare: ResolvedAddress[] = [];
  /** Addresses that demobilized us: never used again. */
  private readonly refused = new Set<string>();
  private readonly ignored: Set<string>;
  private readonly backoff = new Backoff();
  private resolving = false;
  private stopped = false;

  constructor(
    private readonly config: PoolSourceConfig,
    private readonly context: SpawnerContext,
  ) {
    this.name = formatHostPort(config.address.host, config.address.port);
    this.ignored = new Set(config.ignore);
  }

  start(): void {
    void this.topUp();
  }

  stop(): void {
    this.stopped = true;
    this.backoff.cancel();
    for (const task of this.tasks.values()) {
      task.stop();
      this.context.onTaskStopped(task);
    }
    this.tasks.clear();
  }

  private usable(address: ResolvedAddress): boolean {
    return (
      !this.ignored.has(address.address) &&
      !this.refused.has(address.address) &&
      !this.tasks.has(address.address)
    );
  }

  private async topUp(): Promise<void> {
    if (this.stopped || this.resolving) return;
    this.spare = this.spare.filter((a) => this.usable(a));
    if (this.tasks.size + this.spare.length < this.config.count) {
      this.resolving = true;
      try {
        const fresh = await this.context.resolve(this.config.address.host);
        const known = new Set(this.spare.map((a) => a.address));
        for (const a of fresh) if (!known.has(a.address)) this.spare.push(a);
        this.spare = this.spare.filter((a) => this.usable(a));
        this.backoff.succeeded();
      } catch (error) {
        this.context.log.warn("could not resolve pool address", {
          source: this.name,
          error: errorText(error),
          retry_in: `${this.backoff.delay}s`,
        });
        this.backoff.failed();
      } finally {
        this.resolving = false;
      }
      if (this.stopped) return;
    }
    while (this.tasks.size < this.config.count) {
      const next = this.spare.shift();
      if (!next) break;
      this.spawn(next);
    }
    if (this.tasks.size < this.config.count) {
      // Fewer addresses than wanted: look again later, the pool may grow.
      this.backoff.schedule(() => void this.topUp());
    }
  }

  private spawn(address: ResolvedAddress): void {
    const task = this.context.createTask(
      this.config,
      this.name,
      address,
      this.config.address.port,
      (t, reason) => this.ended(t, reason),
    );
    this.tasks.set(address.address, task);
    this.context.onTaskStarted(task);
    task.start();
  }

  private ended(task: SourceTask, reason: SourceEnd): void {
    this.tasks.delete(task.address.address);
    this.context.onTaskStopped(task);
    if (this.stopped) return;
    if (reason === "demobilized") this.refused.add(task.address.address);
    this.context.log.info("pool member removed, looking for a replacement", {
      source: this.name,
      address: task.addressText,
      reason,
    });
    this.backoff.schedule(() => void this.topUp(), MIN_RETRY_SECONDS);
  }
}
