// One `[[server]]`: a UDP socket bound to `listen`, each datagram handed to
// the sans-IO server core with its kernel receive timestamp, the reply sent
// back from the same socket. The packet path allocates nothing of its own:
// one reply buffer is reused, and the core reads the clock for T3 itself.
//
// The socket runs in reply mode (udp.ts): the handler returns the reply's
// length and the addon queues it, sending up to SEND_BATCH replies with one
// sendmmsg. Against one sendTo per reply, that cut the server's CPU per
// response by 13% under `npm run bench`'s load (4.59 -> 3.97 us, interleaved
// runs); with a one-slot queue by 1%, so most of it is the batching.
//
// T3 and the queue: the core reads T3 while it builds the reply, so a queued
// reply leaves the host later than its T3 says: after the handlers of the
// datagrams behind it in the receive batch (until the queue is full) and after
// the kernel has sent the replies ahead of it in the same sendmmsg. A client
// counts that wait as network delay (half of it as offset error). Measured at
// full load (loopback, full 32-datagram receive batches), mean wait after T3:
// 15 us with 8 slots (57 us with 32, 8 us with 4; immediate sendto: the
// syscall itself, a few us); at light load, with one request per wakeup, the
// wait is just the reply's own sendmmsg. 8 slots keep nearly all of the CPU
// gain of 32. T3 >= T2 always: T3 is read after the datagram arrived, from the
// same CLOCK_REALTIME that stamped T2, and transmitTime() holds T3 at T2 should
// the clock be stepped back in between.

import type { ServerConfig } from "../proto/config/types.js";
import { NtpServerCore } from "../proto/server/server.js";
import type { ServerPolicy } from "../proto/server/policy.js";
import type { SystemStateProvider } from "../proto/server/system-state.js";
import type { KeySetProvider } from "../proto/server/nts.js";
import { NtpTimestamp } from "../proto/time.js";
import type { Logger } from "./log.js";
import { defaultAeadProvider } from "./native/aead.js";
import {
  createUdpSocket,
  isSendError,
  type BindOptions,
  type TimestampedUdpSocket,
} from "./native/udp.js";
import { formatHostPort } from "./resolve.js";
import { bindReason } from "./bind-reason.js";
import type { WallClock } from "./wall-clock.js";

/** Largest request we read; longer datagrams are dropped by the socket. */
const MAX_REQUEST_BYTES = 1024;

/**
 * The `[[server]]` listen address could not be bound at start. The daemon
 * exits 70 with this one line, as it does when an `[[nts-ke-server]]` cannot
 * listen (NtsKeListenError): a port in use means another program serves
 * there, a refused one a missing CAP_NET_BIND_SERVICE, an address that is
 * not available a wrong address or a network not up yet (the unit starts
 * after network-online.target). Each needs a person, which a retry loop
 * behind an "I started" would hide.
 */
export class ServerBindError extends Error {}

/** Replies per sendmmsg at most (see the T3 note above). */
const SEND_BATCH = 8;

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
  private stopped = false;
  /** T2 of the request being answered (see transmitTime). */
  private rxTimestamp = NtpTimestamp.ZERO;

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
        sendBatchSize: SEND_BATCH,
      }),
    /** Bind with SO_REUSEPORT: one socket per serving thread on the same address. */
    private readonly bindOptions: BindOptions = {},
  ) {
    this.core = new NtpServerCore({
      policy: serverPolicyFromConfig(config),
      clock: { now: () => this.transmitTime(clock) },
      systemState: system,
      keySet,
      aead: defaultAeadProvider(),
    });
    this.listenText = formatHostPort(config.listen.address, config.listen.port);
  }

  /** Binds; rejects with a ServerBindError when that fails. */
  async start(): Promise<void> {
    const socket = this.createSocket(this.config.listen.family);
    socket.onRequest(
      (data, length, address, _port, rxSec, rxNsec) =>
        this.answer(data, length, address, rxSec, rxNsec),
      this.reply,
    );
    socket.onError((error) => {
      if (isSendError(error)) {
        this.core.countSendError();
        if (this.log.enabled("debug")) {
          this.log.debug("could not send reply", { client: error.address, error: error.message });
        }
        return;
      }
      this.log.debug("server socket error", { listen: this.listenText, error: error.message });
    });
    try {
      await socket.bind(this.config.listen.address, this.config.listen.port, this.bindOptions);
    } catch (error) {
      socket.close();
      throw new ServerBindError(
        `cannot listen on ${this.listenText} (UDP): ${bindReason(error, "another NTP server?")}`,
      );
    }
    if (this.stopped) {
      socket.close();
      return;
    }
    this.socket = socket;
    this.log.info("serving NTP", {
      listen: this.listenText,
      kernel_timestamps: socket.kernelTimestamps,
    });
  }

  /** The port actually bound (useful with port 0), or the configured one before. */
  get port(): number {
    return this.socket?.localAddress().port ?? this.config.listen.port;
  }

  stop(): void {
    this.stopped = true;
    this.socket?.close();
    this.socket = null;
  }

  /** One datagram: the length of the reply written to `this.reply`, 0 for none. */
  private answer(
    data: Buffer,
    length: number,
    address: string,
    rxSec: number,
    rxNsec: number,
  ): number {
    const rx = NtpTimestamp.fromUnix(rxSec, rxNsec);
    this.rxTimestamp = rx;
    const decision = this.core.handle(data, length, address, rx, this.reply);
    return decision.action === "reply" ? decision.length : 0;
  }

  /** The core's clock: T3, never before the T2 of the request it answers. */
  private transmitTime(clock: WallClock): NtpTimestamp {
    const now = clock.now();
    return now.diffSeconds(this.rxTimestamp) < 0 ? this.rxTimestamp : now;
  }
}
