// One `[[server]]`: a UDP socket bound to `listen`, each datagram handed to
// the sans-IO server core with its kernel receive timestamp, the reply sent
// back from the same socket. The packet path allocates nothing of its own:
// one reply buffer is reused, and the core reads the clock for T3 itself.

import type { ServerConfig } from "../proto/config/types.js";
import { NtpServerCore } from "../proto/server/server.js";
import type { ServerPolicy } from "../proto/server/policy.js";
import type { SystemStateProvider } from "../proto/server/system-state.js";
import type { KeySetProvider } from "../proto/server/nts.js";
import { NtpTimestamp } from "../proto/time.js";
import type { Logger } from "./log.js";
import { createUdpSocket, isSendError, type TimestampedUdpSocket } from "./native/udp.js";
import { formatHostPort } from "./resolve.js";
import { errorText } from "./source-task.js";
import type { WallClock } from "./wall-clock.js";

/** Largest request we read; longer datagrams are dropped by the socket. */
const MAX_REQUEST_BYTES = 1024;
const BIND_RETRY_MS = 1000;
const EXPERIMENT_QUEUED = process.env.NTPD_EXP_QUEUED === "1";
const EXPERIMENT_SEND_BATCH = Number(process.env.NTPD_EXP_SEND_BATCH ?? "32");

export function serverPolicyFromConfig(config: ServerConfig): ServerPolicy {
  const cidrs = (list: ServerConfig["allowlist"]) =>
    list.filter.map((c) => `${c.address}/${c.prefixLength}`);
  return {
    allowlist: { filter: cidrs(config.allowlist), action: config.allowlist.action },
    denylist: { filter: cidrs(config.denylist), action: config.denylist.action },
    rateLimitingCacheSize: config.rateLimitingCacheSize,
    rateLimitingCutoffMs: config.rateLimitingCutoffMs,
    acceptNtpVersions: config.acceptNtpVersions,
    requireNts: config.requireNts,
  };
}

export class ServerTask {
  readonly core: NtpServerCore;
  readonly listenText: string;
  private socket: TimestampedUdpSocket | null = null;
  private readonly reply = new Uint8Array(MAX_REQUEST_BYTES);
  private retryTimer: NodeJS.Timeout | null = null;
  private stopped = false;
  private boundOnce = false;

  constructor(
    readonly config: ServerConfig,
    clock: WallClock,
    system: SystemStateProvider,
    private readonly log: Logger,
    /** The NTS cookie keys; without them NTS requests get plain replies. */
    keySet?: KeySetProvider,
    private readonly createSocket: (family: 4 | 6) => TimestampedUdpSocket = (family) =>
      createUdpSocket(family, {
        maxDatagramSize: MAX_REQUEST_BYTES,
        receiveBufferSize: 1 << 20,
        sendBatchSize: EXPERIMENT_SEND_BATCH,
      }),
  ) {
    this.core = new NtpServerCore({
      policy: serverPolicyFromConfig(config),
      clock,
      systemState: system,
      keySet,
    });
    this.listenText = formatHostPort(config.listen.address, config.listen.port);
  }

  /** Binds; resolves once bound, rejects if the first bind fails (then keeps retrying). */
  async start(): Promise<void> {
    const socket = this.createSocket(this.config.listen.family);
    if (process.env.NTPD_EXP_REPLY === "1") {
      // eslint-disable-next-line
      (socket as any).socket.setOnMessage(
        (data: Buffer, length: number, address: string, _port: number, rxSec: number, rxNsec: number) => {
          const decision = this.core.handle(data, length, address, NtpTimestamp.fromUnix(rxSec, rxNsec), this.reply);
          return decision.action === "reply" ? decision.length : 0;
        },
        this.reply,
      );
    } else
    socket.onMessage((data, length, address, port, rxSec, rxNsec) => {
      this.handle(socket, data, length, address, port, rxSec, rxNsec);
    });
    socket.onError((error) => {
      if (isSendError(error)) this.core.stats.responseSendErrors++;
      this.log.debug("server socket error", { listen: this.listenText, error: error.message });
    });
    try {
      await socket.bind(this.config.listen.address, this.config.listen.port);
    } catch (error) {
      socket.close();
      if (!this.stopped) {
        this.retryTimer = setTimeout(() => void this.start().catch(() => {}), BIND_RETRY_MS);
      }
      throw error;
    }
    if (this.stopped) {
      socket.close();
      return;
    }
    this.socket = socket;
    if (!this.boundOnce) {
      this.boundOnce = true;
      this.log.info("serving NTP", {
        listen: this.listenText,
        kernel_timestamps: socket.kernelTimestamps,
      });
    }
  }

  stop(): void {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.socket?.close();
    this.socket = null;
  }

  private handle(
    socket: TimestampedUdpSocket,
    data: Buffer,
    length: number,
    address: string,
    port: number,
    rxSec: number,
    rxNsec: number,
  ): void {
    const decision = this.core.handle(
      data,
      length,
      address,
      NtpTimestamp.fromUnix(rxSec, rxNsec),
      this.reply,
    );
    if (decision.action !== "reply") return;
    try {
      if (EXPERIMENT_QUEUED) socket.sendToQueued(this.reply, decision.length, address, port);
      else socket.sendTo(this.reply, decision.length, address, port);
    } catch (error) {
      this.core.stats.responseSendErrors++;
      if (this.log.enabled("debug")) {
        this.log.debug("could not send reply", { client: address, error: errorText(error) });
      }
    }
  }
}
