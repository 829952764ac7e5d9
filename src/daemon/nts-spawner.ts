// A `[[source]] mode = "nts"`: NTS-KE with the configured server, then an
// NTP source protected with the negotiated keys and cookies. When the source
// ends (out of cookies, unreachable), the whole key exchange is done again,
// as ntpd-rs does; a DENY/RSTR signed by the server ends it for good. Failed
// key exchanges are retried with the spawners' back-off (1 s doubling to 64 s).

import { randomBytes } from "node:crypto";
import type { NtsSourceConfig } from "../proto/config/types.js";
import type { AeadId } from "../proto/crypto/aead.js";
import { CookieStash } from "../proto/nts/cookie/stash.js";
import { NtsProtector } from "../proto/nts/packet/client-protector.js";
import { performKeyExchange, TrustStore, type KeyExchangeResult } from "./nts-ke-client.js";
import { formatHostPort } from "./resolve.js";
import { errorText, type SourceEnd, type SourceTask } from "./source-task.js";
import { Backoff, retryAfterEnd, type Spawner, type SpawnerContext } from "./spawners.js";

const random = (n: number) => new Uint8Array(randomBytes(n));

/** What the daemon may want to show about an NTS source. */
export interface NtsSourceState {
  stash: CookieStash;
  aead: number;
}

export class NtsSpawner implements Spawner {
  readonly name: string;
  private task: SourceTask | null = null;
  private readonly backoff = new Backoff();
  private trust: TrustStore | null = null;
  private stopped = false;
  /** The NTS state of the running task, by task id. */
  readonly state = new Map<number, NtsSourceState>();

  constructor(
    private readonly config: NtsSourceConfig,
    private readonly context: SpawnerContext,
    private readonly keyExchange: typeof performKeyExchange = performKeyExchange,
  ) {
    this.name = formatHostPort(config.address.host, config.address.port);
  }

  start(): void {
    void this.spawn();
  }

  stop(): void {
    this.stopped = true;
    this.backoff.cancel();
    if (this.task) {
      const task = this.task;
      this.task = null;
      task.stop();
      this.state.delete(task.id);
      this.context.onTaskStopped(task);
    }
  }

  private retryLater(what: string, error: unknown): void {
    this.context.log.warn(what, {
      source: this.name,
      error: errorText(error),
      retry_in: `${this.backoff.delay}s`,
    });
    this.backoff.schedule(() => void this.spawn());
    this.backoff.failed();
  }

  private async spawn(): Promise<void> {
    if (this.stopped) return;
    let result: KeyExchangeResult;
    try {
      this.trust ??= await TrustStore.fromFile(this.config.certificateAuthority);
      result = await this.keyExchange({
        host: this.config.address.host,
        port: this.config.address.port,
        trust: this.trust,
      });
    } catch (error) {
      if (!this.stopped) this.retryLater("NTS key exchange failed", error);
      return;
    }
    if (this.stopped) return;
    let address;
    try {
      address = (await this.context.resolve(result.ntpServer))[0];
      if (!address) throw new Error(`${result.ntpServer} has no address`);
    } catch (error) {
      if (!this.stopped) this.retryLater("could not resolve the NTS server's NTP address", error);
      return;
    }
    if (this.stopped) return;
    const stash = new CookieStash();
    for (const cookie of result.cookies) stash.add(cookie);
    const protector = new NtsProtector({
      aead: result.aead as AeadId,
      c2s: result.c2s,
      s2c: result.s2c,
      stash,
      random,
    });
    this.context.log.info("NTS key exchange succeeded", {
      source: this.name,
      aead: result.aead,
      cookies: result.cookies.length,
      ntp_server: formatHostPort(result.ntpServer, result.ntpPort),
    });
    const task = this.context.createTask(
      this.config,
      this.name,
      address,
      result.ntpPort,
      (t, reason) => this.ended(t, reason),
      protector,
    );
    this.task = task;
    this.state.set(task.id, { stash, aead: result.aead });
    this.context.onTaskStarted(task);
    task.start();
  }

  private ended(task: SourceTask, reason: SourceEnd): void {
    this.context.onTaskStopped(task);
    this.state.delete(task.id);
    this.task = null;
    if (this.stopped) return;
    if (reason === "demobilized") {
      this.context.log.warn("NTS source demobilized by the server; it will not be used again", {
        source: this.name,
      });
      return;
    }
    const delay = retryAfterEnd(task, this.backoff);
    this.context.log.info("NTS source needs a new key exchange", {
      source: this.name,
      reason: reason === "reset" ? "out of cookies" : reason,
      retry_in: `${delay}s`,
    });
    this.backoff.schedule(() => void this.spawn(), delay);
    this.backoff.failed();
  }
}
