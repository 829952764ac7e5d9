// One `[[server]]`: a UDP socket bound to `listen`, each datagram handed to
// the sans-IO server core with its kernel receive timestamp, the reply sent
// back from the same socket. The packet path allocates nothing of its own:
// one reply buffer and one finish description are reused.
//
// The socket runs in reply mode (udp.ts): the handler returns the reply's
// length and the addon queues it, sending up to SEND_BATCH replies with one
// sendmmsg. Against one sendTo per reply, that cut the server's CPU per
// response by 13% under `npm run bench`'s load (4.59 -> 3.97 us, interleaved
// runs); with a one-slot queue by 1%, so most of it is the batching.
//
// T3 at the wire (issue #8): the core lays the reply out but for T3 and the
// NTS seal over it (ReplyFinish, src/proto/server/finish.ts). With the addon
// the handler hands that finish to the socket (reply-finish.ts), which reads
// CLOCK_REALTIME, stamps T3 and seals right before the reply's send: the
// handlers of later datagrams and the cookie work no longer sit between T3
// and the wire, only the reply's own seal and the kernel sending the replies
// ahead of it in the same sendmmsg (runs of plain replies share one; a sealed
// reply goes alone, so it never waits for other replies' seals). Without the
// addon (node:dgram), with a clock other than the system clock (tests), or
// for an AEAD the addon does not seal (AES-128-GCM-SIV), the handler finishes
// the reply itself with finishReply just before returning it. T3 >= T2
// always, both ways: T3 is raised to the T2 in the reply should the clock
// have been stepped back since the datagram arrived.
//
// Interleaved mode (docs/interleaved.md): the socket also gives the kernel's TX
// timestamps of the replies whose finish asks (FinishStep.TxStamp: replies to
// requests in interleaved form only), with the T2 written in each; they go to
// the core's table (saveTransmitTimestamp), and the client's next request gets
// that wire time as T3. Only with the wire finish (the addon, the system clock):
// the timestamps are CLOCK_REALTIME. With serving threads, the threads of one
// [[server]] share the table (interleaveTable).
//
// Leap smear (`leap-smear = true`, src/proto/leap/smear.ts): T2 and T3 are both
// moved by the smear's correction at the receive time (it changes by 12 ppm at
// most, nothing between the two), so the reply is finished here, not at the wire
// (the socket would stamp unsmeared time), and interleaved mode is off (its T3s
// are the kernel's unsmeared TX times).
//
// SEND_BATCH is then what is left of the wait: on loopback the kernel delivers
// each reply to its receiver inside the sendmmsg, so the k-th reply of a
// sendmmsg leaves several microseconds per reply ahead of it after its T3.
// Measured at half load (plain, a dumpcap capture on lo as `npm run bench`
// makes, batches formed by this shared VM's scheduling), T3-to-wire median
// with 8 / 4 / 2 / 1 slots: 16 /
// 7.7 / 4.7 / 3.1 us (chrony 2.8); server CPU per reply against chrony's in
// the same `npm run bench` runs: 0.95-0.98 / 0.95-0.99 / 1.06 / ~1.3. Four
// slots halve the error at no CPU cost we could measure. Since then (ABI 13) a
// plain reply goes alone whenever its receive batch came short (udp_send.cc's
// Enqueue): nothing was waiting, so there is no burst to save syscalls on, and
// SEND_BATCH only shapes a saturated server's sends (full batches). Measured
// with `npm run bench` (docs/benchmark.md, "T3 to wire").

import type { ServerConfig } from "../proto/config/types.js";
import { finishReply } from "../proto/server/finish.js";
import { LeapSmear } from "../proto/leap/smear.js";
import { NtpServerCore } from "../proto/server/server.js";
import type { ServerStats } from "../proto/server/stats.js";
import type { SystemStateProvider } from "../proto/system/system-state.js";
import type { KeySetProvider } from "../proto/server/nts.js";
import { NtpTimestamp } from "../proto/time.js";
import type { Logger } from "./log.js";
import { defaultAeadProvider } from "./native/aead.js";
import { NativeReplyFinish } from "./native/reply-finish.js";
import {
  createUdpSocket,
  isSendError,
  type BindOptions,
  type TimestampedUdpSocket,
} from "./native/udp.js";
import { formatHostPort } from "./resolve.js";
import { bindReason } from "./bind-reason.js";
import { systemWallClock, type WallClock } from "./wall-clock.js";

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

/** Replies per sendmmsg at most (see the T3 notes above). */
const SEND_BATCH = 4;

export class ServerTask {
  readonly core: NtpServerCore;
  readonly listenText: string;
  private socket: TimestampedUdpSocket | null = null;
  private readonly reply = new Uint8Array(MAX_REQUEST_BYTES);
  private stopped = false;
  /** Where the handler describes the finish for the socket; null: it finishes replies itself. */
  private wireFinish: NativeReplyFinish | null = null;
  /** How many of the socket's truncatedDatagrams are in the core's counters. */
  private truncatedCounted = 0;
  /** `leap-smear = true`: the smear of this server's replies; null: none. */
  private readonly smear: LeapSmear | null;

  constructor(
    readonly config: ServerConfig,
    private readonly clock: WallClock,
    private readonly system: SystemStateProvider,
    private readonly log: Logger,
    /** The NTS cookie keys; without them NTS requests get plain replies. */
    keySet?: KeySetProvider,
    private readonly createSocket: (family: 4 | 6) => TimestampedUdpSocket = (family) =>
      createUdpSocket(family, {
        maxDatagramSize: MAX_REQUEST_BYTES,
        receiveBufferSize: 1 << 20,
        sendBatchSize: SEND_BATCH,
        replyTxTimestamps: true,
      }),
    /** Bind with SO_REUSEPORT: one socket per serving thread on the same address. */
    private readonly bindOptions: BindOptions = {},
    /** Interleaved mode's table, shared with the other serving threads of this server. */
    private readonly interleaveTable?: SharedArrayBuffer,
    /** The NTPv5 reference-ID Bloom filter to publish (the daemon's, the same on every thread). */
    v5: { referenceIdFilter?: Uint8Array } = {},
  ) {
    // The parsed table is the core's policy as it is; listen is ours.
    const { listen: _listen, leapSmear, ...policy } = config;
    this.smear = leapSmear ? new LeapSmear() : null;
    this.core = new NtpServerCore({
      policy,
      systemState: system,
      keySet,
      aead: defaultAeadProvider(),
      leapSmear,
      referenceIdFilter: v5.referenceIdFilter,
    });
    this.listenText = formatHostPort(config.listen.address, config.listen.port);
  }

  /** Binds; rejects with a ServerBindError when that fails. */
  async start(): Promise<void> {
    const socket = this.createSocket(this.config.listen.family);
    // The socket stamps CLOCK_REALTIME: only right when that is our clock.
    this.wireFinish =
      socket.finishesReplies && this.clock === systemWallClock && this.smear === null
        ? new NativeReplyFinish()
        : null;
    // Interleaved mode needs the kernel's TX timestamps of replies, on the clock the
    // replies carry (the socket's CLOCK_REALTIME).
    const interleaved = this.wireFinish !== null && socket.replyTxTimestamps;
    this.core.setInterleaved(interleaved, this.interleaveTable);
    if (interleaved) {
      socket.onTxTimestamp((sec, nsec, _id, t2Seconds, t2Fraction) =>
        this.core.saveTransmitTimestamp(t2Seconds ?? 0, t2Fraction ?? 0, sec, nsec),
      );
    }
    socket.onRequest(
      (data, length, address, _port, rxSec, rxNsec) =>
        this.answer(data, length, address, rxSec, rxNsec),
      this.reply,
      this.wireFinish?.bytes,
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
    this.truncatedCounted = 0;
    this.log.info("serving NTP", {
      listen: this.listenText,
      kernel_timestamps: socket.kernelTimestamps,
      interleaved: interleaved,
      ...(this.smear !== null ? { leap_smear: true } : {}),
    });
  }

  /**
   * The server's counters, with the datagrams the socket dropped unread (longer
   * than MAX_REQUEST_BYTES) brought in as received and ignored (malformed).
   */
  get stats(): ServerStats {
    const socket = this.socket;
    if (socket !== null) {
      const truncated = socket.truncatedDatagrams;
      if (truncated > this.truncatedCounted) {
        this.core.countTruncated(truncated - this.truncatedCounted);
        this.truncatedCounted = truncated;
      }
    }
    return this.core.stats;
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
    if (this.smear !== null) return this.answerSmeared(data, length, address, rx);
    const decision = this.core.handle(data, length, address, rx, this.reply);
    if (decision.action !== "reply") return 0;
    const wire = this.wireFinish;
    if (wire === null || !wire.take(decision.finish)) {
      finishReply(this.reply, decision.finish, this.clock.now());
    }
    return decision.length;
  }

  /** answer() for a smearing server: T2 and T3 moved by the smear at T2. */
  private answerSmeared(data: Buffer, length: number, address: string, rx: NtpTimestamp): number {
    const event = this.system.current().leapEvent;
    const correction =
      event == null
        ? 0
        : this.smear!.correction(
            event,
            rx.seconds + rx.fraction / 2 ** 32,
            performance.now() / 1000,
          );
    const decision = this.core.handle(data, length, address, rx.addSeconds(correction), this.reply);
    if (decision.action !== "reply") return 0;
    finishReply(this.reply, decision.finish, this.clock.now().addSeconds(correction));
    return decision.length;
  }
}
