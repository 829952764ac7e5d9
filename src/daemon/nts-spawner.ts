// A `[[source]] mode = "nts"`: NTS-KE with the configured server, then an
// NTP source protected with the negotiated keys and cookies. When the source
// ends (out of cookies, unreachable), the whole key exchange is done again,
// as ntpd-rs does; a DENY/RSTR signed by the server ends it for good. Failed
// key exchanges are retried with the spawners' back-off (1 s doubling to 64 s).
// Under `no-certificate-time-check` a key exchange may accept a chain out of
// its dates; the source is then registered with the CertificateTimePolicy,
// which drops it if the dates are still wrong once the clock is set, and the
// next key exchange checks them.

import type { NtsSourceConfig } from "../proto/config/types.js";
import type { CookieStash } from "../proto/nts/cookie/stash.js";
import { performKeyExchange, TrustStore } from "./nts-ke-client.js";
import { NtsResolveError, startNtsSession, type NtsSession } from "./nts-session.js";
import type { LogFields } from "./log.js";
import { keTargets } from "./nts-discovery.js";
import { formatHostPort } from "./resolve.js";
import { errorText, type SourceEnd, type SourceTask } from "./source-task.js";
import { OneTaskSpawner, type SpawnerContext } from "./spawners.js";
import { checkDatesLater, type UncheckedRegistration } from "./certificate-time-policy.js";

/** What the daemon may want to show about an NTS source. */
export interface NtsSourceState {
  stash: CookieStash;
  aead: number;
  /** Accepted out of its certificate dates: what the CertificateTimePolicy holds. */
  unchecked: UncheckedRegistration | null;
}

export class NtsSpawner extends OneTaskSpawner {
  protected readonly demobilizedMessage =
    "NTS source demobilized by the server; it will not be used again";
  private trust: TrustStore | null = null;
  /** The NTS state of the running task, by task id. */
  readonly state = new Map<number, NtsSourceState>();
  /** Tasks ended because their certificate dates were wrong after all. */
  private readonly droppedForDates = new Set<number>();

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
          ignoreCertificateDates: this.context.certificateTimes?.datesIgnored === true,
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
    const unchecked = checkDatesLater(
      this.context.certificateTimes,
      this.name,
      result.uncheckedValidity,
      () => {
        this.droppedForDates.add(task.id);
        task.stop();
        this.ended(task, "unreachable");
      },
    );
    this.state.set(task.id, { stash, aead: result.aead, unchecked });
    this.run(task);
  }

  /** Whether the task's certificate dates are still to be checked (no-certificate-time-check). */
  datesUnchecked(taskId: number): boolean {
    const unchecked = this.state.get(taskId)?.unchecked;
    return (
      unchecked != null && this.context.certificateTimes?.isUnchecked(unchecked.source) === true
    );
  }

  protected override forget(task: SourceTask): void {
    this.state.get(task.id)?.unchecked?.release();
    this.state.delete(task.id);
  }

  protected replacing(
    task: SourceTask,
    reason: Exclude<SourceEnd, "demobilized">,
  ): { message: string; fields: LogFields } {
    if (this.droppedForDates.delete(task.id)) {
      return {
        message: "NTS source needs a new key exchange",
        fields: { reason: "certificate out of its validity dates" },
      };
    }
    return {
      message: "NTS source needs a new key exchange",
      fields: { reason: reason === "reset" ? "out of cookies" : reason },
    };
  }
}
