// A `[[source]] mode = "nts"`: NTS-KE with the configured server, then an
// NTP source protected with the negotiated keys and cookies. When the source
// ends (out of cookies, unreachable), the whole key exchange is done again,
// as ntpd-rs does; a DENY/RSTR signed by the server ends it for good. Failed
// key exchanges are retried with the spawners' back-off (1 s doubling to 64 s).

import type { NtsSourceConfig } from "../proto/config/types.js";
import type { CookieStash } from "../proto/nts/cookie/stash.js";
import { performKeyExchange, TrustStore } from "./nts-ke-client.js";
import { NtsResolveError, startNtsSession, type NtsSession } from "./nts-session.js";
import type { LogFields } from "./log.js";
import { keTargets } from "./nts-discovery.js";
import { formatHostPort } from "./resolve.js";
import { errorText, type SourceEnd, type SourceTask } from "./source-task.js";
import { OneTaskSpawner, type SpawnerContext } from "./spawners.js";

/** What the daemon may want to show about an NTS source. */
export interface NtsSourceState {
  stash: CookieStash;
  aead: number;
}

export class NtsSpawner extends OneTaskSpawner {
  protected readonly demobilizedMessage =
    "NTS source demobilized by the server; it will not be used again";
  private trust: TrustStore | null = null;
  /** The NTS state of the running task, by task id. */
  readonly state = new Map<number, NtsSourceState>();

  constructor(
    private readonly config: NtsSourceConfig,
    context: SpawnerContext,
    private readonly keyExchange: typeof performKeyExchange = performKeyExchange,
  ) {
    super(config.address, context);
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

  /**
   * The session with the configured server, or with SRV resolution the first
   * SRV target whose key exchange works (rejects with the last failure).
   */
  private async firstSession(trust: TrustStore): Promise<NtsSession> {
    const targets = await keTargets(this.config, this.context.srv, this.context.log, this.name);
    let last: unknown;
    for (const target of targets) {
      try {
        return await startNtsSession(this.config, {
          trust,
          resolve: this.context.resolve,
          keyExchange: this.keyExchange,
          target,
        });
      } catch (error) {
        last = error;
        if (this.stopped) break;
      }
    }
    throw last;
  }

  protected async spawn(): Promise<void> {
    if (this.stopped) return;
    let session: NtsSession;
    try {
      this.trust ??= await TrustStore.fromFile(this.config.certificateAuthority);
      session = await this.firstSession(this.trust);
    } catch (error) {
      if (this.stopped) return;
      this.retryLater(
        error instanceof NtsResolveError
          ? "could not resolve the NTS server's NTP address"
          : "NTS key exchange failed",
        error,
      );
      return;
    }
    if (this.stopped) return;
    const { keyExchange: result, address, stash, protector } = session;
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
    this.state.set(task.id, { stash, aead: result.aead });
    this.run(task);
  }

  protected override forget(task: SourceTask): void {
    this.state.delete(task.id);
  }

  protected replacing(
    _task: SourceTask,
    reason: Exclude<SourceEnd, "demobilized">,
  ): { message: string; fields: LogFields } {
    return {
      message: "NTS source needs a new key exchange",
      fields: { reason: reason === "reset" ? "out of cookies" : reason },
    };
  }
}
