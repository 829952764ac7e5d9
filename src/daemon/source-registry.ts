// The daemon's `[[source]]` entries and their spawners, whether they came from
// the configuration file or were added at run time through the control socket
// (`ntp-ctl source add`). Each entry knows which source tasks its spawner is
// running, so `ntp-ctl source remove <id>` can name a task that `ntp-ctl
// status` shows and the whole entry (a pool: all its members) is stopped.

import type { SourceConfig } from "../proto/config/types.js";
import { matchSourceEntry, type ControlSourceEntry } from "./control-protocol.js";
import { NtsSpawner } from "./nts-spawner.js";
import { formatHostPort } from "./resolve.js";
import type { SourceTask } from "./source-task.js";
import type { Spawner, SpawnerContext } from "./spawners.js";

export interface SourceEntry {
  readonly config: SourceConfig;
  readonly origin: ControlSourceEntry["origin"];
  readonly spawner: Spawner;
  /** Its running tasks, by id. */
  readonly tasks: Map<number, SourceTask>;
}

export type SpawnerFactory = (config: SourceConfig, context: SpawnerContext) => Spawner;

export class SourceRegistry {
  private readonly list: SourceEntry[] = [];

  constructor(
    private readonly createSpawner: SpawnerFactory,
    private readonly context: SpawnerContext,
  ) {}

  get entries(): readonly SourceEntry[] {
    return this.list;
  }

  get spawners(): Spawner[] {
    return this.list.map((e) => e.spawner);
  }

  /** Adds an entry and its spawner; the caller starts it (start() or spawner.start()). */
  add(config: SourceConfig, origin: SourceEntry["origin"]): SourceEntry {
    const tasks = new Map<number, SourceTask>();
    const context: SpawnerContext = {
      ...this.context,
      onTaskStarted: (task) => {
        tasks.set(task.id, task);
        this.context.onTaskStarted(task);
      },
      onTaskStopped: (task) => {
        tasks.delete(task.id);
        this.context.onTaskStopped(task);
      },
    };
    const entry: SourceEntry = {
      config,
      origin,
      spawner: this.createSpawner(config, context),
      tasks,
    };
    this.list.push(entry);
    return entry;
  }

  /** Stops the entry's spawner (its tasks and their sockets) and forgets it. */
  remove(entry: SourceEntry): void {
    const i = this.list.indexOf(entry);
    if (i < 0) return;
    this.list.splice(i, 1);
    entry.spawner.stop();
  }

  /** The entry `what` names (matchSourceEntry), or a message saying why none. */
  find(what: string): SourceEntry | string {
    const i = matchSourceEntry(
      this.list.map((e) => this.describe(e)),
      what,
    );
    return typeof i === "string" ? i : this.list[i]!;
  }

  /** Whether an entry with the same mode and address exists already. */
  duplicateOf(config: SourceConfig): SourceEntry | undefined {
    const address = entryAddress(config);
    if (address === null) return undefined;
    return this.list.find(
      (e) => e.config.mode === config.mode && entryAddress(e.config)?.text === address.text,
    );
  }

  describe(entry: SourceEntry): ControlSourceEntry {
    const address = entryAddress(entry.config);
    return {
      mode: entry.config.mode,
      address: address?.text ?? ("path" in entry.config ? entry.config.path : ""),
      origin: entry.origin,
      sources: [...entry.tasks.values()].map((t) => ({
        id: t.id,
        address: t.addressText,
        ...(entry.spawner instanceof NtsSpawner && entry.spawner.datesUnchecked(t.id)
          ? { certificate_dates_unchecked: true as const }
          : {}),
      })),
    };
  }
}

/** "host:port" as the spawner names it, and the host alone. */
function entryAddress(config: SourceConfig): { text: string; host: string } | null {
  if (!("address" in config)) return null;
  const { host, port } = config.address;
  return { text: formatHostPort(host, port), host };
}
