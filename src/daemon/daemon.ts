// The daemon: builds the spawners, NTP servers and NTS-KE servers a
// configuration asks for, starts them, and stops them. Each measurement is
// logged and handed to the clock discipline (discipline.ts), which turns them
// into clock corrections. Its state is published on the observation socket
// (observe(), observer.ts) when `observation-path` is set. With `[daemon]
// server-threads` > 1 the NTP and NTS-KE servers run in worker threads instead
// (workers/pool.ts); everything else stays in this thread. The sources are
// entries of a SourceRegistry, so that `[observability] control-path`
// (control-*.ts) can add and remove them while the daemon runs.

import { availableParallelism } from "node:os";
import type {
  Config,
  CsptpSourceConfig,
  NetworkSourceCommon,
  PpsSourceConfig,
  SockSourceConfig,
  SourceConfig,
} from "../proto/config/types.js";
import type { KeySet } from "../proto/nts/keyset/keyset.js";
import { initialSystemState, SystemStateCell } from "../proto/system/system-state.js";
import type { RequestProtector } from "../proto/source/request-protector.js";
import { NtpSource, type SourceEvent } from "../proto/source/source.js";
import type { Measurement } from "../proto/source/types.js";
import { packageVersion } from "./version.js";
import type { ClockDiscipline } from "./discipline.js";
import { KeySetFollower } from "./keyset-follower.js";
import { KeySetRotation, loadKeySet } from "./keyset-store.js";
import type { Logger } from "./log.js";
import { loadAddon } from "./native/addon.js";
import {
  buildObservation,
  encodeObservationMessage,
  serializeObservation,
  type DisciplineObserver,
  type Observation,
  type ProgramInfo,
  type SourceInput,
} from "./observation.js";
import { Observer } from "./observer.js";
import { NtsKeServer } from "./nts-ke-server.js";
import { NtsSpawner } from "./nts-spawner.js";
import { NtsPoolSpawner } from "./nts-pool-spawner.js";
import { NtsPoolKeServer } from "./nts-pool-ke-server.js";
import { ValidatingSrvDiscovery, type SrvDiscovery } from "./srv-resolve.js";
import { formatHostPort, resolveHost, type Resolver } from "./resolve.js";
import { ServerTask } from "./server-task.js";
import { PoolSpawner, ServerSpawner, type Spawner, type SpawnerContext } from "./spawners.js";
import { SourceRegistry } from "./source-registry.js";
import { startControlSocket } from "./control-start.js";
import type { ControlServer } from "./control-server.js";
import { CertificateTimePolicy } from "./certificate-time-policy.js";
import { SourceTask, type SourceEnd, type SourceTaskOptions } from "./source-task.js";
import { ReferenceClockSpawner, type ReferenceClockTask } from "./reference-clock.js";
import { createReferenceClockTask } from "./reference-clock-tasks.js";
import { CsptpPorts } from "./csptp-ports.js";
import { CsptpServer } from "./csptp-server.js";
import { CsptpSpawner, type CsptpSourceTask } from "./csptp-source.js";
import { systemWallClock, unixNowSeconds, type WallClock } from "./wall-clock.js";
import { randomBytes } from "node:crypto";
import { ServingPool } from "./workers/pool.js";
import { bloomFilterOf, newServerId } from "../proto/packet/v5-bloom.js";

export interface DaemonOptions {
  config: Config;
  log: Logger;
  clock?: WallClock;
  resolve?: Resolver;
  /** SRV discovery for enable-srv-resolution (default: validated answers of a local resolver). */
  srv?: SrvDiscovery;
  /** What the observation says about the program (default: package.json's version). */
  program?: ProgramInfo;
  /** What the servers publish; the clock discipline updates it. */
  system?: SystemStateCell;
  /** Turns measurements into clock corrections; without it they are only logged. */
  discipline?: ClockDiscipline;
  /** Told of every source as it starts and stops and of each of its events (the library). */
  sourceHooks?: SourceHooks;
  /** Opens the NTP sources' sockets (`[clock]`: clock/clock-setup.ts); default createUdpSocket. */
  createSourceSocket?: SourceTaskOptions["createSocket"];
}

/** A source as the hooks name it. */
export interface SourceIdentity {
  id: number;
  name: string;
  address: string;
  nts: boolean;
}

export interface SourceHooks {
  started?(source: SourceIdentity): void;
  stopped?(source: SourceIdentity): void;
  event?(source: SourceIdentity, event: SourceEvent): void;
}

const identity = (task: SourceTask): SourceIdentity => ({
  id: task.id,
  name: task.name,
  address: task.addressText,
  nts: task.nts,
});

export class Daemon {
  /** The NTP and NTS-KE servers of the main thread (`server-threads` = 1). */
  servers: ServerTask[] = [];
  ntsKeServers: NtsKeServer[] = [];
  /** `[[nts-pool-ke-server]]` fronts (always on the main thread). */
  poolFronts: NtsPoolKeServer[] = [];
  /** The serving threads instead (`server-threads` > 1). */
  pool: ServingPool | null = null;
  /** The `[[source]]` entries, from the file and added at run time (ntp-ctl source add). */
  readonly registry: SourceRegistry;
  /** Running source tasks by id. */
  readonly sources = new Map<number, SourceTask>();
  /** Running sock and pps sources by id. */
  readonly referenceClocks = new Map<number, ReferenceClockTask>();
  /** Running csptp sources by id. */
  readonly csptpSources = new Map<number, CsptpSourceTask>();
  /** The `[[csptp-server]]`, once it listens. */
  csptpServer: CsptpServer | null = null;
  /** The CSPTP event and general sockets, opened by the first csptp source or server. */
  private csptpPorts: CsptpPorts | null = null;
  readonly system: SystemStateCell;
  /**
   * Our NTPv5 server ID and the Bloom filter every server of ours publishes
   * with it (packet/v5-bloom.ts): a v5 source whose filter holds it depends
   * on us, and is not used (a loop).
   */
  readonly serverId = newServerId((n) => new Uint8Array(randomBytes(n)));
  private readonly referenceIdFilter = bloomFilterOf(this.serverId);
  /** The NTS cookie keys, shared by the NTS-KE servers and the NTP servers. */
  keys: KeySetRotation | KeySetFollower | null = null;
  /** The clock discipline's estimates for the observation; null until it runs. */
  discipline: DisciplineObserver | null = null;
  /** The observation socket, while it is up. */
  observer: Observer | null = null;
  /** The control socket, while it is up. */
  control: ControlServer | null = null;
  /** `no-certificate-time-check`: counts clock updates, checks deferred certificate dates. */
  readonly certificateTimes: CertificateTimePolicy | null;
  private readonly startedAt = performance.now();
  private readonly log: Logger;
  private readonly sourceLog: Logger;
  private readonly clock: WallClock;
  private readonly clockDiscipline: ClockDiscipline | null;
  /** The `[[source]]` each running task came from. */
  private readonly taskConfigs = new Map<number, NetworkSourceCommon>();

  constructor(private readonly options: DaemonOptions) {
    const { config } = options;
    this.clockDiscipline = options.discipline ?? null;
    this.discipline = this.clockDiscipline;
    this.log = options.log;
    this.sourceLog = options.log.child("source");
    this.clock = options.clock ?? systemWallClock;
    this.system =
      options.system ??
      new SystemStateCell(
        initialSystemState({
          localStratum: config.synchronization.localStratum,
          referenceId: config.synchronization.referenceId,
        }),
      );
    const limit = config.synchronization.noCertificateTimeCheck;
    this.certificateTimes =
      limit === 0
        ? null
        : new CertificateTimePolicy(
            limit,
            () => Number(this.clock.now().toUnixNanos(Date.now() / 1000) / 1_000_000n),
            options.log.child("nts"),
          );
    if (this.certificateTimes && this.clockDiscipline) {
      const policy = this.certificateTimes;
      this.clockDiscipline.onClockUpdate = () => policy.clockUpdated();
    }
    const context: SpawnerContext = {
      ...(this.certificateTimes ? { certificateTimes: this.certificateTimes } : {}),
      resolve: options.resolve ?? ((host) => resolveHost(host)),
      srv: options.srv ?? new ValidatingSrvDiscovery(),
      createTask: (sourceConfig, name, address, port, onEnd, protector) =>
        this.createTask(sourceConfig, name, address, port, onEnd, protector),
      log: options.log.child("spawner"),
      onTaskStarted: (task) => {
        this.sources.set(task.id, task);
        this.sourceLog.info("new source", {
          source: task.name,
          address: task.addressText,
          id: task.id,
          nts: task.nts,
        });
        const taskConfig = this.taskConfigs.get(task.id);
        if (taskConfig) this.clockDiscipline?.addSource(task, taskConfig);
        options.sourceHooks?.started?.(identity(task));
      },
      onTaskStopped: (task) => {
        this.sources.delete(task.id);
        this.taskConfigs.delete(task.id);
        this.clockDiscipline?.removeSource(task);
        options.sourceHooks?.stopped?.(identity(task));
      },
    };
    // sock, pps and csptp sources have spawners of their own (their tasks are not NTP ones).
    const spawnerFor = (s: SourceConfig, ctx: SpawnerContext): Spawner =>
      s.mode === "sock" || s.mode === "pps"
        ? this.referenceClockSpawner(s)
        : s.mode === "csptp"
          ? this.csptpSpawner(s, ctx)
          : createSpawner(s, ctx);
    this.registry = new SourceRegistry(spawnerFor, context);
    for (const source of config.sources) this.registry.add(source, "config");
  }

  get spawners(): Spawner[] {
    return this.registry.spawners;
  }

  private referenceClockSpawner(config: SockSourceConfig | PpsSourceConfig): Spawner {
    const task = createReferenceClockTask(config, {
      clock: this.clock,
      log: this.sourceLog,
      hooks: {
        onMeasurement: (t, m) => {
          this.sourceLog.debug("measurement", {
            source: t.name,
            address: t.path,
            id: t.id,
            offset: formatSeconds(m.offset),
          });
          this.clockDiscipline?.measurement(t, m);
        },
      },
    });
    return new ReferenceClockSpawner(
      task,
      (t) => {
        this.referenceClocks.set(t.id, t);
        this.sourceLog.info("new source", { source: t.name, address: t.path, id: t.id });
        this.clockDiscipline?.addReferenceClock(t);
      },
      (t) => {
        this.referenceClocks.delete(t.id);
        this.clockDiscipline?.removeSource(t);
      },
    );
  }

  private ports(): CsptpPorts {
    this.csptpPorts ??= new CsptpPorts(this.options.config.csptp, this.log.child("csptp"));
    return this.csptpPorts;
  }

  private csptpSpawner(config: CsptpSourceConfig, ctx: SpawnerContext): Spawner {
    const context = {
      ports: this.ports(),
      clock: this.clock,
      log: this.sourceLog,
      hooks: {
        onMeasurement: (t: CsptpSourceTask, m: Measurement) => {
          this.sourceLog.info("measurement", {
            source: t.name,
            address: t.addressText,
            id: t.id,
            offset: formatSeconds(m.offset),
            delay: `${m.delay.toFixed(6)}s`,
            csptp: true,
          });
          this.clockDiscipline?.measurement(t, m);
        },
      },
    };
    return new CsptpSpawner(
      config,
      context,
      ctx.resolve,
      (t) => {
        this.csptpSources.set(t.id, t);
        this.sourceLog.info("new source", {
          source: t.name,
          address: t.addressText,
          id: t.id,
          csptp: true,
        });
        this.clockDiscipline?.addSource(
          { id: t.id, address: t.address, source: t.polled },
          { initialPollInterval: t.polled.pollLimits.min },
        );
      },
      (t) => {
        this.csptpSources.delete(t.id);
        this.clockDiscipline?.removeSource(t);
      },
    );
  }

  /**
   * A `[[csptp-server]]` (one serves every address; more add nothing). Failing to bind is
   * logged and the daemon runs on without it, as ntpd-rs does with this experimental server.
   */
  private async startCsptpServer(): Promise<void> {
    const { config } = this.options;
    if (config.csptpServers.length === 0) return;
    const server = new CsptpServer(
      config.csptp,
      this.ports(),
      this.system,
      this.log.child("csptp"),
    );
    try {
      await server.start();
      this.csptpServer = server;
    } catch (error) {
      this.log.error("the CSPTP server cannot listen", {
        port: config.csptp.eventPort,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /**
   * Loads the NTS key set, binds every server, starts the NTS-KE servers and
   * every source. Throws KeyFileError or CredentialsError when NTS cannot
   * start safely, ServerBindError or NtsKeListenError when a listen address
   * cannot be bound.
   */
  async start(): Promise<void> {
    const { config } = this.options;
    const keysLog = this.log.child("keyset");
    if (config.ntsKeServers.length > 0 && config.keyset.keyStoragePath === null) {
      keysLog.info(
        "no [keyset] key-storage-path: NTS clients need a new key exchange after a restart",
      );
    }
    const keySet =
      config.keyset.role === "follower"
        ? await KeySetFollower.load(config.keyset, unixNowSeconds, keysLog)
        : new KeySetRotation(
            await loadKeySet(config.keyset, unixNowSeconds(), keysLog),
            config.keyset,
            unixNowSeconds,
            keysLog,
          );
    this.keys = keySet;
    keySet.start();
    // A follower replaces its set when the file changes: servers ask for it each time.
    // The NTS-KE fast path is told of each change (nts-ke-fast.ts).
    const keys = {
      current: (): KeySet => keySet.keyset,
      onRotate: (listener: (keyset: KeySet) => void) => keySet.onRotate(listener),
    };

    const threads = this.serverThreads();
    if (threads > 1) {
      this.pool = new ServingPool({
        threads,
        servers: config.servers,
        ntsKeServers: config.ntsKeServers,
        keys: this.keys,
        staleKeyCount: config.keyset.staleKeyCount,
        system: this.system,
        log: this.log,
        referenceIdFilter: this.referenceIdFilter,
      });
      await this.pool.start();
    } else {
      await this.startServers(keys);
    }
    const poolLog = this.log.child("nts-pool-ke");
    this.poolFronts = config.ntsPoolKeServers.map((c) => new NtsPoolKeServer(c, poolLog));
    for (const front of this.poolFronts) await front.start();
    await this.startCsptpServer();
    for (const spawner of this.spawners) spawner.start();
    await this.startObserver();
    this.control = await startControlSocket(config, this.registry, this.log.child("control"));
  }

  /**
   * `[daemon] server-threads`, "auto" resolved; 1 (said once, with the reason) when
   * there is nothing to serve or threads would need the addon and it is not loaded.
   */
  private serverThreads(): number {
    const { config } = this.options;
    const setting = config.daemon.serverThreads;
    const wanted = setting === "auto" ? availableParallelism() : setting;
    if (wanted <= 1 || config.servers.length + config.ntsKeServers.length === 0) return 1;
    const addon = loadAddon();
    if (addon.addon === null) {
      this.log.warn("server-threads needs the native addon: serving from the main thread only", {
        server_threads: wanted,
        reason: addon.reason,
      });
      return 1;
    }
    return wanted;
  }

  /** Serving from the main thread: as many sockets as `[[server]]`s, no worker thread. */
  private async startServers(keys: {
    current(): KeySet;
    onRotate(listener: (keyset: KeySet) => void): void;
  }): Promise<void> {
    const { config } = this.options;
    const serverLog = this.log.child("server");
    this.servers = config.servers.map(
      (s) =>
        new ServerTask(s, this.clock, this.system, serverLog, keys, undefined, {}, undefined, {
          referenceIdFilter: this.referenceIdFilter,
        }),
    );
    // A failed bind is a ServerBindError: the daemon exits 70 (server-task.ts).
    await Promise.all(this.servers.map((server) => server.start()));
    const keLog = this.log.child("nts-ke");
    this.ntsKeServers = config.ntsKeServers.map((c) => new NtsKeServer(c, keys, keLog));
    for (const server of this.ntsKeServers) await server.start();
  }

  /** The state as the observation socket publishes it, now. */
  observe(): Observation {
    const cookies = new Map<number, number>();
    for (const spawner of this.spawners) {
      if (!(spawner instanceof NtsSpawner || spawner instanceof NtsPoolSpawner)) continue;
      for (const [id, state] of spawner.state) cookies.set(id, state.stash.count);
    }
    const discipline = this.discipline;
    return buildObservation({
      program: this.options.program ?? {
        version: packageVersion(),
        buildCommit: "unknown",
        buildCommitDate: "unknown",
      },
      uptimeSeconds: (performance.now() - this.startedAt) / 1000,
      now: this.clock.now(),
      system: this.system.current(),
      accumulatedStepsThreshold: this.options.config.synchronization.accumulatedStepPanicThreshold,
      systemEstimate: discipline?.system(),
      sources: [...this.sources.values()]
        .map((task): SourceInput => ({
          id: task.id,
          name: task.name,
          address: task.addressText,
          ntsCookies: task.nts ? (cookies.get(task.id) ?? 0) : null,
          snapshot: task.source.snapshot(),
          estimate: discipline?.source(task.id),
          ...(task.timestamps === null ? {} : { timestamps: task.timestamps }),
        }))
        .concat(
          [...this.referenceClocks.values()].map((task) => ({
            id: task.id,
            name: task.name,
            address: task.path,
            ntsCookies: null,
            snapshot: task.snapshot(),
            estimate: discipline?.source(task.id),
            samples: task.samples,
            dropped: task.droppedTotal,
          })),
          [...this.csptpSources.values()].map((task) => ({
            id: task.id,
            name: task.name,
            address: task.addressText,
            ntsCookies: null,
            snapshot: task.snapshot(),
            estimate: discipline?.source(task.id),
            samples: task.samples,
            dropped: task.droppedTotal,
          })),
        ),
      servers: this.pool
        ? this.pool.serverStats().map((stats, i) => {
            const listen = this.options.config.servers[i]!.listen;
            return { address: formatHostPort(listen.address, listen.port), stats };
          })
        : this.servers.map((server) => ({
            address: server.listenText,
            stats: server.stats,
          })),
      ntsKeServers: this.pool
        ? this.pool.ntsKeServerStates().map((state, i) => {
            const listen = this.options.config.ntsKeServers[i]!.listen;
            return { address: formatHostPort(listen.address, listen.port), ...state };
          })
        : this.ntsKeServers.map((server) => ({
            address: server.listenText,
            certificateNotAfter: server.certificateNotAfter,
            stats: server.stats,
          })),
      ntsPoolKeServers: this.poolFronts.map((front) => ({
        address: front.listenText,
        stats: front.stats,
        ...front.backendHealth(),
      })),
      csptpServers: this.csptpServer
        ? [{ address: this.csptpServer.listenText, stats: this.csptpServer.stats }]
        : [],
      keyset: this.serves() ? this.keys?.status() : undefined,
    });
  }

  /** Whether this daemon serves NTP or NTS-KE (and so uses its cookie keys). */
  private serves(): boolean {
    const { config } = this.options;
    return config.servers.length + config.ntsKeServers.length > 0;
  }

  /**
   * Opens the observation socket if configured. Failing to is logged and the
   * daemon runs on without it, as ntpd-rs does.
   */
  private async startObserver(): Promise<void> {
    const { observationPath, observationPermissions } = this.options.config.observability;
    if (observationPath === null) return;
    const observer = new Observer({
      path: observationPath,
      permissions: observationPermissions,
      message: () => encodeObservationMessage(serializeObservation(this.observe())),
      log: this.log.child("observer"),
    });
    try {
      await observer.start();
      this.observer = observer;
    } catch (error) {
      this.log.error("the observation socket will not be available", {
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  /** SIGHUP: load the NTS-KE certificates again. */
  reload(): void {
    for (const server of this.ntsKeServers) server.reloadCredentials("SIGHUP");
    for (const front of this.poolFronts) front.reloadCredentials("SIGHUP");
    this.pool?.reload("SIGHUP");
  }

  stop(): void {
    for (const spawner of this.spawners) spawner.stop();
    for (const server of this.servers) server.stop();
    for (const server of this.ntsKeServers) server.stop();
    for (const front of this.poolFronts) front.stop();
    this.csptpServer?.stop();
    this.csptpServer = null;
    this.csptpPorts?.close();
    this.pool?.stop();
    this.keys?.stop();
    this.clockDiscipline?.stop();
    this.observer?.stop();
    this.observer = null;
    this.control?.stop();
    this.control = null;
  }

  private createTask(
    config: NetworkSourceCommon,
    name: string,
    address: SourceTask["address"],
    port: number,
    onEnd: (task: SourceTask, reason: SourceEnd) => void,
    protector?: RequestProtector,
  ): SourceTask {
    const source = new NtpSource({
      pollLimits: config.pollIntervalLimits,
      initialPollInterval: config.initialPollInterval,
      localStratum: this.options.config.synchronization.localStratum,
      protector,
      interleaved: config.interleaved,
      version: config.ntpVersion,
      serverId: this.serverId,
    });
    const task = new SourceTask({
      nts: protector !== undefined,
      name,
      address,
      port,
      source,
      clock: this.clock,
      log: this.sourceLog,
      hooks: { onEvent: (t, event) => this.onSourceEvent(t, event), onEnd },
      ...(this.options.createSourceSocket ? { createSocket: this.options.createSourceSocket } : {}),
    });
    this.taskConfigs.set(task.id, config);
    return task;
  }

  private onSourceEvent(task: SourceTask, event: SourceEvent): void {
    this.logSourceEvent(task, event);
    if (event.kind === "measurement") this.clockDiscipline?.measurement(task, event.measurement);
    this.options.sourceHooks?.event?.(identity(task), event);
  }

  private logSourceEvent(task: SourceTask, event: SourceEvent): void {
    const fields = { source: task.name, address: task.addressText, id: task.id, nts: task.nts };
    switch (event.kind) {
      case "measurement": {
        const m = event.measurement;
        if (event.usableAgain) {
          this.sourceLog.info("source usable again: its server answers with usable time", fields);
        }
        this.sourceLog.info("measurement", {
          ...fields,
          offset: formatSeconds(m.offset),
          delay: `${m.delay.toFixed(6)}s`,
          stratum: m.stratum,
          poll: `${2 ** task.source.effectivePollInterval()}s`,
          ...(m.interleaved === true ? { interleaved: true } : {}),
        });
        break;
      }
      case "unusable": {
        // Once per run of unusable replies; the source backs off meanwhile.
        const m = event.measurement;
        const reason =
          event.reason === "unsynchronized"
            ? `the server says it is not synchronized (leap indicator 3, stratum ${m.stratum})`
            : event.reason === "loop"
              ? "the server's NTPv5 reference-ID filter holds our server ID (it synchronizes to us)"
              : `the server's stratum ${m.stratum} is not below our local-stratum ` +
                `${this.options.config.synchronization.localStratum}`;
        this.sourceLog.log(
          event.first ? "info" : "debug",
          `source not usable: ${reason}; polling it less often until it is`,
          { ...fields, poll: `${2 ** task.source.effectivePollInterval()}s` },
        );
        break;
      }
      case "kiss":
        if (event.code === "NTSN") {
          this.sourceLog.warn("Received nts not-acknowledge", fields);
          break;
        }
        // Informational codes (INIT, STEP, ...) change nothing; only acted-on kisses warn.
        this.sourceLog.log(event.action === "none" ? "info" : "warn", "kiss-o'-death received", {
          ...fields,
          code: event.code,
          action: event.action,
        });
        break;
      case "no-sample":
        this.sourceLog.debug("interleaved reply gave no sample", {
          ...fields,
          reason: event.reason,
        });
        break;
      case "ignored":
        this.sourceLog.debug("reply ignored", {
          ...fields,
          reason: event.reason,
          detail: event.detail,
        });
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
    case "nts":
      return new NtsSpawner(config, context);
    case "nts-pool":
      return new NtsPoolSpawner(config, context);
    default:
      // The config's feature gate rejects every other mode before we get here.
      throw new Error(`source mode "${config.mode}" is not implemented yet`);
  }
}

/** "+0.000123s": signed, microsecond resolution. */
export function formatSeconds(seconds: number): string {
  return `${seconds >= 0 ? "+" : ""}${seconds.toFixed(6)}s`;
}
