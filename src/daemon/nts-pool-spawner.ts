// A `[[source]] mode = "nts-pool"` (experimental, NTS-POOL.md): up to `count`
// NTS sources from one NTS pool. Each member is one key exchange with the
// pool's NTS-KE server, which hands the client on to one of its time
// sources; the request carries an NTP Server Deny record for every server
// already in use (and every one that demobilized us), so the pool picks
// another. A server we already have is discarded, as ntpd-rs does. With
// `enable-srv-resolution`, each member is instead a different SRV target.
//
// Members that end (out of cookies, unreachable) are replaced by a new key
// exchange a second later, like `pool` members; a failed round is retried
// with the spawners' back-off (1 s doubling to 64 s).

import type { NtsPoolSourceConfig } from "../proto/config/types.js";
import { performKeyExchange, TrustStore } from "./nts-ke-client.js";
import type { NtsSourceState } from "./nts-spawner.js";
import { checkDatesLater } from "./certificate-time-policy.js";
import { keTargets } from "./nts-discovery.js";
import { NtsResolveError, startNtsSession, type KeTarget } from "./nts-session.js";
import { formatHostPort } from "./resolve.js";
import { errorText, type SourceEnd, type SourceTask } from "./source-task.js";
import { Backoff, MIN_RETRY_SECONDS, type Spawner, type SpawnerContext } from "./spawners.js";

interface Member {
  task: SourceTask;
  /** The server's name: the SRV target, else the NTP server the pool named. */
  identity: string;
}

export class NtsPoolSpawner implements Spawner {
  readonly name: string;
  /** The NTS state of the running members, by task id. */
  readonly state = new Map<number, NtsSourceState>();
  private readonly members = new Map<number, Member>();
  /** Servers that demobilized us: denied in every request, never used again. */
  private readonly refused = new Set<string>();
  /** SRV targets of the last lookup not yet tried. */
  private targets: KeTarget[] = [];
  private readonly backoff = new Backoff();
  private trust: TrustStore | null = null;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly config: NtsPoolSourceConfig,
    private readonly context: SpawnerContext,
    private readonly keyExchange: typeof performKeyExchange = performKeyExchange,
  ) {
    this.name = formatHostPort(config.address.host, config.address.port);
  }

  start(): void {
    void this.topUp();
  }

  stop(): void {
    this.stopped = true;
    this.backoff.cancel();
    for (const { task } of this.members.values()) {
      task.stop();
      this.context.onTaskStopped(task);
    }
    this.members.clear();
    this.state.clear();
  }

  private inUse(identity: string): boolean {
    if (this.refused.has(identity)) return true;
    for (const m of this.members.values()) if (m.identity === identity) return true;
    return false;
  }

  /** The next KE server to ask; undefined when this round has none left. */
  private async nextTarget(round: { looked: boolean }): Promise<KeTarget | undefined> {
    if (!this.config.enableSrvResolution) return this.config.address;
    this.targets = this.targets.filter((t) => t.srvName === undefined || !this.inUse(t.srvName));
    if (this.targets.length === 0 && !round.looked) {
      round.looked = true;
      const found = await keTargets(this.config, this.context.srv, this.context.log, this.name);
      this.targets = found.filter((t) => t.srvName === undefined || !this.inUse(t.srvName));
    }
    const next = this.targets[0];
    // A fallback to the pool's own name stays: its KE server picks the member.
    if (next?.srvName !== undefined) this.targets.shift();
    return next;
  }

  private async topUp(): Promise<void> {
    if (this.stopped || this.busy) return;
    this.busy = true;
    let failed = false;
    try {
      this.trust ??= await TrustStore.fromFile(this.config.certificateAuthority);
      const round = { looked: false };
      const wanted = this.config.count - this.members.size;
      for (let i = 0; i < wanted && !this.stopped; i++) {
        const target = await this.nextTarget(round);
        if (target === undefined || this.stopped) break;
        if (!(await this.addMember(target))) {
          failed = true;
          break;
        }
      }
    } catch (error) {
      failed = true;
      this.context.log.warn("NTS pool key exchange failed", {
        source: this.name,
        error: errorText(error),
      });
    } finally {
      this.busy = false;
    }
    if (this.stopped) return;
    if (this.members.size >= this.config.count) {
      this.backoff.succeeded();
      return;
    }
    if (failed) {
      this.context.log.info("NTS pool has fewer members than wanted, trying again later", {
        source: this.name,
        members: this.members.size,
        count: this.config.count,
        retry_in: `${this.backoff.delay}s`,
      });
    }
    this.backoff.schedule(() => void this.topUp());
    this.backoff.failed();
  }

  /** One key exchange; false when it failed (the round stops, as ntpd-rs's does). */
  private async addMember(target: KeTarget): Promise<boolean> {
    const denied = [...this.refused];
    for (const m of this.members.values()) denied.push(m.identity);
    let session;
    try {
      session = await startNtsSession(this.config, {
        trust: this.trust!,
        ignoreCertificateDates: this.context.certificateTimes?.datesIgnored === true,
        resolve: this.context.resolve,
        keyExchange: this.keyExchange,
        target,
        denyServers: denied,
      });
    } catch (error) {
      this.context.log.warn(
        error instanceof NtsResolveError
          ? "could not resolve the NTP address the NTS pool named"
          : "NTS pool key exchange failed",
        {
          source: this.name,
          ke_server: formatHostPort(target.host, target.port),
          error: errorText(error),
        },
      );
      return false;
    }
    if (this.stopped) return true;
    const { keyExchange: result, address, stash, protector } = session;
    const identity = target.srvName ?? result.ntpServer;
    const ntpServer = formatHostPort(result.ntpServer, result.ntpPort);
    if (this.inUse(identity)) {
      this.context.log.warn("NTS pool handed out a server already in use, ignored", {
        source: this.name,
        ntp_server: ntpServer,
      });
      return true;
    }
    this.context.log.info("NTS key exchange succeeded", {
      source: this.name,
      aead: result.aead,
      cookies: result.cookies.length,
      ntp_server: ntpServer,
    });
    const task = this.context.createTask(
      this.config,
      this.name,
      address,
      result.ntpPort,
      (t, reason) => this.ended(t, reason),
      protector,
    );
    this.members.set(task.id, { task, identity });
    // A member accepted out of its certificate dates is checked again later, as an nts source is.
    const unchecked = checkDatesLater(
      this.context.certificateTimes,
      this.name,
      result.uncheckedValidity,
      () => {
        task.stop();
        this.ended(task, "unreachable");
      },
    );
    this.state.set(task.id, { stash, aead: result.aead, unchecked });
    this.context.onTaskStarted(task);
    task.start();
    return true;
  }

  private ended(task: SourceTask, reason: SourceEnd): void {
    const member = this.members.get(task.id);
    this.members.delete(task.id);
    this.state.get(task.id)?.unchecked?.release();
    this.state.delete(task.id);
    this.context.onTaskStopped(task);
    if (this.stopped || member === undefined) return;
    if (reason === "demobilized") this.refused.add(member.identity);
    this.context.log.info("NTS pool member removed, looking for a replacement", {
      source: this.name,
      server: member.identity,
      reason: reason === "reset" ? "out of cookies" : reason,
    });
    this.backoff.schedule(() => void this.topUp(), MIN_RETRY_SECONDS);
  }
}
