// The daemon: builds the spawners and servers a configuration asks for,
// starts them, and stops them. Measurements are reported per source until the
// clock discipline (a later issue) turns them into clock corrections.

import type {
  Config,
  PoolSourceConfig,
  ServerSourceConfig,
  SourceConfig,
} from "../proto/config/types.js";
import { initialSystemState, SystemStateCell } from "../proto/server/system-state.js";
import { NtpSource, type SourceEvent } from "../proto/source/source.js";
import type { Logger } from "./log.js";
import { resolveHost, type Resolver } from "./resolve.js";
import { ServerTask } from "./server-task.js";
import { PoolSpawner, ServerSpawner, type Spawner, type SpawnerContext } from "./spawners.js";
import { SourceTask } from "./source-task.js";
import { systemWallClock, type WallClock } from "./wall-clock.js";

export interface DaemonOptions {
  config: Config;
  log: Logger;
  clock?: WallClock;
  resolve?: Resolver;
}

export class Daemon {
  readonly servers: ServerTask[];
  readonly spawners: Spawner[];
  /** Running source tasks by id. */
  readonly sources = new Map<number, SourceTask>();
  readonly system: SystemStateCell;
  private readonly log: Logger;
  private readonly sourceLog: Logger;
  private readonly clock: WallClock;

  constructor(private readonly options: DaemonOptions) {
    const { config } = options;
    this.log = options.log;
    this.sourceLog = options.log.child("source");
    this.clock = options.clock ?? systemWallClock;
    this.system = new SystemStateCell(
      initialSystemState({
        localStratum: config.synchronization.localStratum,
        referenceId: config.synchronization.referenceId,
      }),
    );
    const serverLog = options.log.child("server");
    this.servers = config.servers.map((s) => new ServerTask(s, this.clock, this.system, serverLog));
    const context: SpawnerContext = {
      resolve: options.resolve ?? ((host) => resolveHost(host)),
      createTask: (sourceConfig, name, address, port, onEnd) =>
        this.createTask(sourceConfig, name, address, port, onEnd),
      log: options.log.child("spawner"),
      onTaskStarted: (task) => {
        this.sources.set(task.id, task);
        this.sourceLog.info("new source", {
          source: task.name,
          address: task.addressText,
          id: task.id,
        });
      },
      onTaskStopped: (task) => {
        this.sources.delete(task.id);
      },
    };
    this.spawners = config.sources.map((s) => createSpawner(s, context));
  }

  /** Binds every server (a failed bind is logged and retried) and starts every source. */
  async start(): Promise<void> {
    await Promise.all(
      this.servers.map((server) =>
        server.start().catch((error: unknown) => {
          this.log.child("server").error("could not bind, retrying every second", {
            listen: server.listenText,
            error: error instanceof Error ? error.message : String(error),
          });
        }),
      ),
    );
    for (const spawner of this.spawners) spawner.start();
  }

  stop(): void {
    for (const spawner of this.spawners) spawner.stop();
    for (const server of this.servers) server.stop();
  }

  private createTask(
    config: ServerSourceConfig | PoolSourceConfig,
    name: string,
    address: SourceTask["address"],
    port: number,
    onEnd: (task: SourceTask, reason: "unreachable" | "demobilized" | "reset") => void,
  ): SourceTask {
    const source = new NtpSource({
      pollLimits: config.pollIntervalLimits,
      initialPollInterval: config.initialPollInterval,
      localStratum: this.options.config.synchronization.localStratum,
    });
    return new SourceTask({
      name,
      address,
      port,
      source,
      clock: this.clock,
      log: this.sourceLog,
      hooks: { onEvent: (task, event) => this.onSourceEvent(task, event), onEnd },
    });
  }

  private onSourceEvent(task: SourceTask, event: SourceEvent): void {
    const fields = { source: task.name, address: task.addressText, id: task.id };
    switch (event.kind) {
      case "measurement": {
        const m = event.measurement;
        this.sourceLog.info("measurement", {
          ...fields,
          offset: formatSeconds(m.offset),
          delay: `${m.delay.toFixed(6)}s`,
          stratum: m.stratum,
          poll: `${2 ** task.source.effectivePollInterval()}s`,
        });
        break;
      }
      case "unusable":
        this.sourceLog.info("response not usable for synchronization", {
          ...fields,
          reason: event.reason,
          stratum: event.measurement.stratum,
          leap: event.measurement.leap,
        });
        break;
      case "kiss":
        this.sourceLog.warn("kiss-o'-death received", {
          ...fields,
          code: event.code,
          action: event.action,
        });
        break;
      case "ignored":
        this.sourceLog.debug("reply ignored", { ...fields, reason: event.reason });
        break;
    }
  }
}

function createSpawner(config: SourceConfig, context: SpawnerContext): Spawner {
  switch (config.mode) {
    case "server":
      return new ServerSpawner(config, context);
    case "pool":
      return new PoolSpawner(config, context);
    default:
      // The config's feature gate rejects every other mode before we get here.
      throw new Error(`source mode "${config.mode}" is not implemented yet`);
  }
}

/** "+0.000123s": signed, microsecond resolution. */
export function formatSeconds(seconds: number): string {
  return `${seconds >= 0 ? "+" : ""}${seconds.toFixed(6)}s`;
}
