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
import type { LogFields } from "./log.js";
import { formatHostPort } from "./resolve.js";
import { errorText, type SourceEnd, type SourceTask } from "./source-task.js";
import { OneTaskSpawner, type SpawnerContext } from "./spawners.js";

const random = (n: number) => new Uint8Array(randomBytes(n));

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

  protected async spawn(): Promise<void> {
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
