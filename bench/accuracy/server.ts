// The accuracy bench's test NTP server: our real server core (NtpServerCore,
// local stratum 1) on 127.0.0.1, whose clock is the system clock plus the
// scenario's known offset(t). The socket is the daemon's timestamped UDP
// socket (src/daemon/native/udp.ts): with the addon, T2 is the kernel's
// receive timestamp (SO_TIMESTAMPNS), as in the daemon's own server; without
// it, node:dgram and a user-space read. T3 is read and the reply finished
// (finishReply) right after the core has laid it out.
//
// Jitter: each reply (timestamps already written) is held back by an
// exponentially distributed extra delay before it is sent, which the client
// sees as a longer, noisy return path (asymmetric: it biases every offset
// sample by -delay/2). setTimeout has 1 ms granularity, so the last stretch of
// each wait spins on setImmediate against CLOCK_MONOTONIC: the delays are
// accurate to a few µs (cheap: a few requests per second).
import { clockReader } from "../../src/daemon/native/clock.js";
import { createUdpSocket } from "../../src/daemon/native/udp.js";
import { finishReply } from "../../src/proto/server/finish.js";
import { NtpServerCore } from "../../src/proto/server/server.js";
import { initialSystemState, SystemStateCell } from "../../src/proto/system/system-state.js";
import { NtpTimestamp } from "../../src/proto/time.js";
import { exponential, seededRandom, truthAt, type Scenario } from "./scenarios.js";

/** CLOCK_MONOTONIC in seconds. */
export function monoSeconds(): number {
  return Number(process.hrtime.bigint()) / 1e9;
}

/** Calls `fn` at CLOCK_MONOTONIC second `deadline` (within a few µs), without blocking the loop. */
export function atMono(deadline: number, fn: () => void): { cancel(): void } {
  let timer: NodeJS.Timeout | null = null;
  let immediate: NodeJS.Immediate | null = null;
  let cancelled = false;
  const step = () => {
    if (cancelled) return;
    const left = deadline - monoSeconds();
    if (left <= 0) {
      fn();
    } else if (left > 0.003) {
      timer = setTimeout(step, (left - 0.002) * 1000);
    } else {
      immediate = setImmediate(step);
    }
  };
  immediate = setImmediate(step);
  return {
    cancel() {
      cancelled = true;
      if (timer) clearTimeout(timer);
      if (immediate) clearImmediate(immediate);
    },
  };
}

export interface TestServer {
  readonly port: number;
  readonly scenario: Scenario;
  /** "addon" (kernel receive timestamps) or "dgram". */
  readonly socketKind: string;
  /** Seconds into the scenario now (CLOCK_MONOTONIC). */
  elapsed(): number;
  /** True time − system clock now (s): the scenario's offset at this instant. */
  truthNow(): number;
  /** The same at CLOCK_MONOTONIC second `mono`. */
  truthAtMono(mono: number): number;
  /** Replies sent, requests the core dropped, mean extra delay applied (s). */
  stats(): { replies: number; dropped: number; meanExtraDelay: number };
  close(): void;
}

export async function startTestServer(scenario: Scenario, seed: number): Promise<TestServer> {
  const reader = clockReader();
  const scratch = { sec: 0, nsec: 0 };
  const mono0 = monoSeconds();
  const elapsed = () => monoSeconds() - mono0;
  const clock = {
    now(): NtpTimestamp {
      const offset = truthAt(scenario, elapsed());
      const t = reader.readRealtime(scratch);
      return NtpTimestamp.fromUnix(t.sec, t.nsec).addSeconds(offset);
    },
  };
  const core = new NtpServerCore({
    systemState: new SystemStateCell(
      initialSystemState({ localStratum: 1, referenceId: "TEST", precisionLog2: -20 }),
    ),
  });
  const random = seededRandom(seed);
  const socket = createUdpSocket(4);
  let replies = 0;
  let dropped = 0;
  let extraDelay = 0;
  let closed = false;
  const pending = new Set<{ cancel(): void }>();
  socket.onError(() => {
    // A client that went away (ICMP unreachable): nothing to do.
  });
  socket.onMessage((data, length, address, port, rxSec, rxNsec) => {
    const rx = NtpTimestamp.fromUnix(rxSec, rxNsec).addSeconds(truthAt(scenario, elapsed()));
    const out = Buffer.alloc(Math.max(length, 48));
    const decision = core.handle(data, length, address, rx, out);
    if (decision.action !== "reply") {
      dropped++;
      return;
    }
    finishReply(out, decision.finish, clock.now());
    const replyLength = decision.length; // the decision is reused by the next request
    const send = () => {
      if (closed) return;
      replies++;
      socket.sendTo(out, replyLength, address, port);
    };
    const delay = exponential(scenario.jitterMean, random);
    extraDelay += delay;
    if (delay <= 0) {
      send();
      return;
    }
    const handle = atMono(monoSeconds() + delay, () => {
      pending.delete(handle);
      send();
    });
    pending.add(handle);
  });
  await socket.bind("127.0.0.1", 0);
  return {
    port: socket.localAddress().port,
    scenario,
    socketKind: socket.kernelTimestamps ? "addon, kernel rx timestamps" : socket.implementation,
    elapsed,
    truthNow: () => truthAt(scenario, elapsed()),
    truthAtMono: (mono) => truthAt(scenario, mono - mono0),
    stats: () => ({
      replies,
      dropped,
      meanExtraDelay: replies + dropped > 0 ? extraDelay / (replies || 1) : 0,
    }),
    close: () => {
      closed = true;
      for (const p of pending) p.cancel();
      pending.clear();
      socket.close();
    },
  };
}
