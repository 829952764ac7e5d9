// The accuracy bench's reference servers: our real server core (NtpServerCore,
// local stratum 1), one per loopback address (127.0.0.11, .12, ...), each
// serving the system clock plus the scenario's known offset(t) (plus its own
// error for a falseticker), through the scenario's emulated path
// (scenarios.ts: drawPath, replySchedule).
//
// The reference must not be the noise:
// - T2 comes from the kernel's receive time stamp (the daemon's addon socket,
//   SO_TIMESTAMPNS), moved by the emulated forward delay; without the addon
//   the bench refuses to run (node:dgram's user-space receive time would be
//   tens of µs late).
// - T3 is a scheduled departure at least LEAD_S after the request is handled,
//   and the reply, laid out and finished (T3 written) beforehand, is sent at
//   T3 + the emulated return delay by a timer that sleeps (setTimeout) to 3 ms
//   before, yields (setImmediate) to 0.3 ms before and spins the rest on
//   CLOCK_MONOTONIC, then sends synchronously (the addon's sendto). So nothing
//   but the send itself lies between the scheduled instant and the wire, and
//   cold (unoptimised) code, which a few requests a second never warm up,
//   costs nothing: reading T3 right before an immediate send measured ~50 µs
//   late on the wire here, and it biased both daemons alike by half of that.
// - Even so, the send itself (the addon call, the sendto system call, the
//   loopback path to the device) takes ~30 µs on this VM, which a client takes
//   for return-path delay (a bias of half of it). So each server asks for the
//   kernel's software TX time stamp of its replies (taken where a capture on
//   lo sees the frame), and starts each send earlier by the SMALLEST send cost
//   of its last 15 replies: the replies then reach the wire at their scheduled
//   instant or a little after, never before it. (Tried without: wire lateness
//   median 31 µs, both daemons biased by −13 µs in the clean scenario. With
//   the median instead of the smallest, the slow sends of cold code at the
//   start made the head start too large once the code was warm: 5–13 of the
//   first 15 replies left more than 20 µs before the T3 they carry, a round
//   trip shorter than none, which fools any client that trusts its
//   lowest-delay exchanges most.)
// - Each server answers WARM_UP_REQUESTS requests of its own process before
//   the daemons start (warmUp; not counted, no emulated path): the first
//   replies of a cold server left 0.5–1 ms late (code never run, pages never
//   touched), and the head start taken from those slow sends then sent the
//   next ones up to 100 µs EARLY; the daemon that asked first got both.
// - How late each reply really left is measured twice: by that TX time stamp
//   (kernel, per reply) and on the wire (capture.ts: the loopback capture's
//   frame time minus the scheduled departure, matched by the reply's T3).
//   Both are reported per run.
import { createSocket } from "node:dgram";
import { once } from "node:events";
import { clockReader } from "../../src/daemon/native/clock.js";
import { createUdpSocket } from "../../src/daemon/native/udp.js";
import { finishReply } from "../../src/proto/server/finish.js";
import { NtpServerCore } from "../../src/proto/server/server.js";
import { initialSystemState, SystemStateCell } from "../../src/proto/system/system-state.js";
import { NtpTimestamp } from "../../src/proto/time.js";
import {
  drawPath,
  replySchedule,
  seededRandom,
  truthAt,
  type ClockModel,
  type PathModel,
} from "./scenarios.js";

const delay = (s: number) => new Promise<void>((resolve) => setTimeout(resolve, s * 1000));

/** CLOCK_MONOTONIC in seconds. */
export function monoSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/**
 * Calls `fn` at CLOCK_MONOTONIC second `deadline`: sleeps, then yields, then
 * spins (at most 0.3 ms of blocking: a few replies a second).
 */
export function atMono(deadline: number, fn: () => void): { cancel(): void } {
  let timer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  let cancelled = false;
  const step = () => {
    timer = null;
    immediate = null;
    if (cancelled) return;
    const left = deadline - monoSeconds();
    if (left > 0.003) {
      timer = setTimeout(step, (left - 0.002) * 1000);
    } else if (left > 0.0003) {
      immediate = setImmediate(step);
    } else {
      while (monoSeconds() < deadline) {
        // spin: the last 0.3 ms
      }
      fn();
    }
  };
  // Always from the event loop, never inside the caller.
  immediate = setImmediate(step);
  return {
    cancel() {
      cancelled = true;
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
    },
  };
}

/**
 * How long after handling a request its reply is scheduled to leave at the
 * earliest (s): enough to lay it out and finish it first, small against the
 * daemons' errors (clients subtract T3 − T2).
 */
export const LEAD_S = 300e-6;

/**
 * The time base shared by the servers and the run: CLOCK_REALTIME as seconds
 * since a whole second `baseSec` (small numbers: full double precision), and
 * the CLOCK_MONOTONIC instant `mono0` at which the scenario started.
 */
export class TimeBase {
  private readonly reader = clockReader();
  private readonly scratch = { sec: 0, nsec: 0 };

  private constructor(
    readonly baseSec: number,
    /** CLOCK_MONOTONIC seconds at the start (the same clock in every process). */
    readonly mono0: number,
    /** System (realtime, relative) seconds at mono0. */
    readonly real0: number,
  ) {}

  /** A time base starting now. */
  static now(): TimeBase {
    const t = clockReader().readRealtime({ sec: 0, nsec: 0 });
    return new TimeBase(t.sec, monoSeconds(), t.nsec * 1e-9);
  }

  /** The same time base in another process. */
  static from(v: { baseSec: number; mono0: number; real0: number }): TimeBase {
    return new TimeBase(v.baseSec, v.mono0, v.real0);
  }

  toJSON(): { baseSec: number; mono0: number; real0: number } {
    return { baseSec: this.baseSec, mono0: this.mono0, real0: this.real0 };
  }

  /** CLOCK_REALTIME now, relative. */
  realNow(): number {
    const t = this.reader.readRealtime(this.scratch);
    return this.relative(t.sec, t.nsec);
  }

  relative(sec: number, nsec: number): number {
    return sec - this.baseSec + nsec * 1e-9;
  }

  /** Scenario seconds at relative realtime `real`. */
  elapsedAtReal(real: number): number {
    return real - this.real0;
  }

  /** The NTP time stamp of relative realtime `real` moved by `offset` s. */
  ntp(real: number, offset: number): NtpTimestamp {
    return NtpTimestamp.fromUnix(this.baseSec, 0).addSeconds(real + offset);
  }
}

export interface ReferenceStats {
  replies: number;
  /** Requests left unanswered on purpose (emulated loss). */
  lost: number;
  /** Requests the server core dropped. */
  refused: number;
  /** Lateness of each reply (s): its kernel TX time stamp − its scheduled departure. */
  lateness: number[];
}

export interface ReferenceServer {
  readonly address: string;
  readonly port: number;
  /** The fixed error this server adds to the truth (s): 0 for honest ones. */
  readonly error: number;
  /** Scheduled departure (relative realtime s) by the reply's T3 octets (hex). */
  readonly departures: Map<string, number>;
  stats(): ReferenceStats;
  /** Answers WARM_UP_REQUESTS requests of its own, then forgets them (see above). */
  warmUp(): Promise<void>;
  close(): void;
}

/** Requests a server answers before the run (warmUp). */
export const WARM_UP_REQUESTS = 100;
/** Seconds between two warm-up requests, and the longest wait for a reply. */
const WARM_UP_INTERVAL_S = 0.005;
const WARM_UP_TIMEOUT_S = 0.1;

export interface ReferenceOptions {
  address: string;
  clock: ClockModel;
  path: PathModel;
  /** Added to the truth (a falseticker's error), s. */
  error: number;
  seed: number;
  base: TimeBase;
}

export async function startReference(o: ReferenceOptions): Promise<ReferenceServer> {
  const { base } = o;
  const offsetAt = (real: number) => truthAt(o.clock, base.elapsedAtReal(real)) + o.error;
  const core = new NtpServerCore({
    systemState: new SystemStateCell(
      initialSystemState({ localStratum: 1, referenceId: "TEST", precisionLog2: -20 }),
    ),
  });
  const random = seededRandom(o.seed);
  const socket = createUdpSocket(4, { implementation: "addon", txTimestamps: true });
  if (!socket.kernelTimestamps) {
    socket.close();
    throw new Error(
      "the reference server needs the addon's kernel receive time stamps (node scripts/build-addon.mjs)",
    );
  }
  let stats: ReferenceStats = { replies: 0, lost: 0, refused: 0, lateness: [] };
  const departures = new Map<string, number>();
  // Scheduled departure of the n-th send, until its TX time stamp arrives; a
  // warm-up reply only calibrates the head start.
  const scheduled = new Map<number, { leave: number; counted: boolean }>();
  let warming = false;
  let sends = 0;
  const recent: number[] = [];
  let early = 0;
  socket.onTxTimestamp((sec, nsec, id) => {
    const send = scheduled.get(id);
    if (send === undefined) return;
    scheduled.delete(id);
    const late = base.relative(sec, nsec) - send.leave;
    if (send.counted) stats.lateness.push(late);
    // Compensate what the send itself costs, at the least it cost lately
    // (lateness on top of the head start already taken): never ahead of T3.
    recent.push(late + early);
    if (recent.length > 15) recent.shift();
    early = Math.min(200e-6, Math.max(0, Math.min(...recent)));
  });
  let closed = false;
  const pending = new Set<{ cancel(): void }>();
  socket.onError(() => {
    // A client that went away (ICMP unreachable): nothing to do.
  });
  socket.onMessage((data, length, address, port, rxSec, rxNsec) => {
    const draw = warming ? { drop: false, forward: 0, back: 0 } : drawPath(o.path, random);
    if (draw.drop) {
      stats.lost++;
      return;
    }
    const received = base.relative(rxSec, rxNsec);
    const when = replySchedule(received, base.realNow(), draw, LEAD_S);
    const out = Buffer.alloc(Math.max(length, 48));
    const decision = core.handle(data, length, address, base.ntp(when.t2, offsetAt(when.t2)), out);
    if (decision.action !== "reply") {
      stats.refused++;
      return;
    }
    const replyLength = decision.length; // the decision is reused by the next request
    finishReply(out, decision.finish, base.ntp(when.t3, offsetAt(when.t3)));
    const counted = !warming;
    if (counted) departures.set(out.toString("hex", 40, 48), when.leave);
    const deadline = monoSeconds() + (when.leave - base.realNow()) - early;
    const handle = atMono(deadline, () => {
      pending.delete(handle);
      if (closed) return;
      scheduled.set(sends++, { leave: when.leave, counted });
      socket.sendTo(out, replyLength, address, port);
      if (counted) stats.replies++;
    });
    pending.add(handle);
  });
  await socket.bind(o.address, 0);
  const port = socket.localAddress().port;
  return {
    address: o.address,
    port,
    error: o.error,
    departures,
    stats: () => stats,
    async warmUp() {
      warming = true;
      const client = createSocket("udp4");
      client.on("error", () => {});
      await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", resolve));
      try {
        for (let i = 0; i < WARM_UP_REQUESTS; i++) {
          const request = Buffer.alloc(48);
          request[0] = 0x23; // version 4, mode 3 (client)
          request.writeUInt32BE(i + 1, 44); // a transmit time stamp of its own
          const reply = once(client, "message", {
            signal: AbortSignal.timeout(WARM_UP_TIMEOUT_S * 1000),
          }).catch(() => {}); // a lost reply only means one exchange fewer
          client.send(request, port, o.address);
          await reply;
          await delay(WARM_UP_INTERVAL_S);
        }
      } finally {
        client.close();
        warming = false;
        stats = { replies: 0, lost: 0, refused: 0, lateness: [] };
      }
    },
    close: () => {
      closed = true;
      for (const p of pending) p.cancel();
      pending.clear();
      socket.close();
    },
  };
}
