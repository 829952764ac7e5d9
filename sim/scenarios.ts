// The scenario catalogue: small declarative worlds (see scenario.ts for the
// fields and units). Each description says what correct behaviour is;
// test/sim/scenarios.test.ts holds the bounds.

import {
  hours,
  minutes,
  ms,
  us,
  type PathSpec,
  type Scenario,
  type ServerSpec,
} from "./scenario.js";

/** A quiet switched LAN: ~150 µs each way, a few µs of queueing. */
function lan(overrides: Partial<PathSpec> = {}): PathSpec {
  return { delay: us(150), jitter: { kind: "exponential", mean: us(15) }, ...overrides };
}

/** An Internet path: tens of ms, heavy-tailed queueing, rare spikes, a little loss. */
function internet(delay: number, asymmetry: number, overrides: Partial<PathSpec> = {}): PathSpec {
  return {
    delay,
    asymmetry,
    jitter: { kind: "lognormal", median: ms(0.4), sigma: 1 },
    spikes: { probability: 0.02, min: ms(20), max: ms(200) },
    loss: 0.01,
    ...overrides,
  };
}

const honest = (name: string, path: PathSpec, extra: Partial<ServerSpec> = {}): ServerSpec => ({
  name,
  path,
  ...extra,
});

const LAN_SERVERS: ServerSpec[] = [
  honest("lan-a", lan({ asymmetry: us(6) })),
  honest("lan-b", lan({ delay: us(180), asymmetry: us(-4) })),
  honest("lan-c", lan({ delay: us(120) })),
  honest("lan-d", lan({ delay: us(210), asymmetry: us(10) })),
];

/** Loopback to a server on the same host: ~20 µs each way, a few µs of scheduling noise. */
const LOOPBACK: PathSpec = { delay: us(20), jitter: { kind: "exponential", mean: us(3) } };

/**
 * Loopback as the accuracy bench sees it (kernel time stamps at both ends): a
 * round trip of a few µs, so the start-up's placeholder σ (the square root of the
 * largest delay, in seconds) is only ~2 ms and a 5 ms offset is slewed at once.
 */
const BENCH_LOOPBACK: PathSpec = { delay: us(1), jitter: { kind: "exponential", mean: us(0.5) } };

/** The same with occasional multi-millisecond stalls of one leg. */
const LOOPBACK_WITH_SPIKES: PathSpec = {
  ...LOOPBACK,
  spikes: { probability: 0.03, min: ms(1), max: ms(8) },
};

/**
 * Loopback between two user-space daemons: now and then one of them is not
 * scheduled for a while (garbage collection, a busy core), so one leg of 2 %
 * of the exchanges takes 0.5-3 ms more.
 */
const LOOPBACK_WITH_STALLS: PathSpec = {
  delay: us(40),
  jitter: { kind: "exponential", mean: us(10) },
  spikes: { probability: 0.02, min: ms(0.5), max: ms(3) },
};

/** A typical crystal: 12 ppm slow, a slow random walk, a small daily-ish swing. */
/** Five Internet servers, asymmetric paths of 8 to 45 ms. */
const INTERNET_SERVERS: ServerSpec[] = [
  honest("inet-a", internet(ms(8), us(300))),
  honest("inet-b", internet(ms(15), us(-600))),
  honest("inet-c", internet(ms(22), us(900))),
  honest("inet-d", internet(ms(31), us(-1200))),
  honest("inet-e", internet(ms(45), us(200)), { noise: us(20) }),
];

/** Four Internet servers with symmetric paths: the error left is the filters' own. */
const REBOOT_SERVERS: ServerSpec[] = [
  honest("inet-a", internet(ms(8), 0)),
  honest("inet-b", internet(ms(15), 0)),
  honest("inet-c", internet(ms(22), 0)),
  honest("inet-d", internet(ms(31), 0)),
];

const TYPICAL_CLOCK = {
  frequencyError: 12,
  wander: 2e-4,
  thermal: { amplitude: 0.2, period: hours(8) },
};

export const scenarios: readonly Scenario[] = [
  {
    name: "clean-lan",
    description:
      "Four honest servers on a quiet LAN; the clock starts 3 ms behind and 12 ppm slow. " +
      "Expect a slew (no step), |offset| < 100 µs within minutes, µs-level error afterwards.",
    hours: 6,
    seed: 1,
    clock: { initialOffset: ms(3), ...TYPICAL_CLOCK },
    servers: LAN_SERVERS,
  },
  {
    name: "internet-jitter",
    description:
      "Five honest servers 8–45 ms away with heavy-tailed queueing, 2 % delay spikes, 1 % loss " +
      "and path asymmetries up to 1.2 ms; the clock starts 40 ms ahead, 35 ppm fast, " +
      "with a 0.3 ppm swing over 12 h. Expect one start-up step, then sub-ms tracking.",
    hours: 6,
    seed: 2,
    clock: {
      initialOffset: ms(-40),
      frequencyError: -35,
      wander: 1e-3,
      thermal: { amplitude: 0.3, period: hours(12), phase: 1 },
    },
    servers: [...INTERNET_SERVERS],
  },
  {
    name: "falseticker",
    description:
      "Three honest LAN servers and two falsetickers: one 80 ms ahead from the start, one that " +
      "drifts away at +40 ppm (10 ms off after ~4 min). Expect both outvoted, never selected " +
      "while false, and the clock unaffected.",
    hours: 6,
    seed: 3,
    clock: { initialOffset: ms(2), ...TYPICAL_CLOCK },
    servers: [
      ...LAN_SERVERS.slice(0, 3),
      honest("false-80ms", lan({ delay: us(160) }), { offset: ms(80) }),
      honest("false-drift", lan({ delay: us(140) }), { drift: 40 }),
    ],
  },
  {
    name: "server-steps",
    description:
      "Four LAN servers; after 2 h one of them steps its clock 200 ms ahead, and back after 4 h. " +
      "Expect it outvoted while it is wrong and back in use afterwards, no local step, and " +
      "|offset| staying below 1 ms.",
    hours: 6,
    seed: 4,
    clock: { initialOffset: ms(-1.5), ...TYPICAL_CLOCK },
    servers: [
      ...LAN_SERVERS.slice(0, 3),
      honest("stepper", lan({ delay: us(170) }), {
        steps: [
          { at: hours(2), by: ms(200) },
          { at: hours(4), by: ms(-200) },
        ],
      }),
    ],
  },
  {
    name: "server-vanishes",
    description:
      "Four LAN servers; the nearest one stops answering after 1 h. Expect the remaining three " +
      "to keep the clock synchronized (three agree: minimum-agreeing-sources is met).",
    hours: 6,
    seed: 5,
    clock: { initialOffset: ms(4), ...TYPICAL_CLOCK },
    servers: [
      honest("lan-a", lan({ asymmetry: us(6) })),
      honest("lan-b", lan({ delay: us(180), asymmetry: us(-4) })),
      honest("vanishes", lan({ delay: us(90) }), { stopsAt: hours(1) }),
      honest("lan-d", lan({ delay: us(210), asymmetry: us(10) })),
    ],
  },
  {
    name: "reboot",
    description:
      "A reboot: the clock starts 0.2 s off (the RTC) and 35 ppm slow, the kernel's frequency " +
      "back at 0, four LAN servers. The baseline for reboot-drift-file.",
    hours: 2,
    seed: 11,
    clock: { initialOffset: 0.2, frequencyError: 35, wander: 2e-4 },
    servers: REBOOT_SERVERS,
  },
  {
    name: "reboot-drift-file",
    description:
      "The same reboot with a drift file from before it, 0.1 ppm off the oscillator's frequency " +
      "now (it was warm then): expect the first minutes' error to be far smaller than reboot's.",
    hours: 2,
    seed: 11,
    clock: {
      initialOffset: 0.2,
      frequencyError: 35,
      wander: 2e-4,
      driftFile: { frequencyPpm: 34.9, uncertaintyPpm: 0.02 },
    },
    servers: REBOOT_SERVERS,
  },
  {
    name: "large-initial-offset",
    description:
      "Four LAN servers; the clock starts 5.3 s behind and 40 ppm slow (a host that booted " +
      "without an RTC). Expect exactly one step, at start-up, then normal convergence.",
    hours: 4,
    seed: 6,
    clock: { initialOffset: 5.3, frequencyError: 40, wander: 2e-4 },
    servers: LAN_SERVERS,
  },
  {
    name: "lossy",
    description:
      "Four servers on a congested 10 ms path losing 25–40 % of packets each way, with " +
      "exponential queueing (mean 1 ms); the clock starts 6 ms behind. Expect slower but " +
      "steady convergence, no step after it.",
    hours: 6,
    seed: 7,
    clock: { initialOffset: ms(6), ...TYPICAL_CLOCK },
    servers: [
      honest("lossy-a", {
        delay: ms(10),
        jitter: { kind: "exponential", mean: ms(1) },
        loss: 0.25,
      }),
      honest("lossy-b", { delay: ms(11), jitter: { kind: "exponential", mean: ms(1) }, loss: 0.3 }),
      honest("lossy-c", { delay: ms(9), jitter: { kind: "exponential", mean: ms(1) }, loss: 0.4 }),
      honest("lossy-d", {
        delay: ms(12),
        asymmetry: us(200),
        jitter: { kind: "exponential", mean: ms(1) },
        loss: 0.35,
      }),
    ],
  },
  {
    name: "thermal",
    description:
      "Four LAN servers and a clock whose frequency swings ±3 ppm every 40 min (a laptop whose " +
      "fan cycles) on top of a fast random walk. Expect the frequency to be tracked: " +
      "|offset| well below 1 ms throughout.",
    hours: 6,
    seed: 8,
    clock: {
      initialOffset: us(-500),
      frequencyError: -8,
      wander: 2e-3,
      thermal: { amplitude: 3, period: minutes(40) },
    },
    servers: LAN_SERVERS,
  },
  {
    name: "falseticker-startup",
    description:
      "Three honest servers on a LAN with queueing and noisy timestamps, and one falseticker " +
      "50 ms ahead; minimum-agreeing-sources = 3 and the clock starts 7 ms behind. At start-up " +
      "every source's uncertainty is at its largest. Expect the falseticker never selected, " +
      "from the first update on, and no step (the 7 ms is slewed).",
    hours: 1,
    seed: 9,
    clock: { initialOffset: ms(7), ...TYPICAL_CLOCK },
    synchronization: { minimumAgreeingSources: 3 },
    servers: [
      honest("noisy-a", lan({ jitter: { kind: "exponential", mean: us(80) } }), { noise: us(30) }),
      honest("noisy-b", lan({ delay: us(200), jitter: { kind: "exponential", mean: us(120) } }), {
        noise: us(30),
      }),
      honest("noisy-c", lan({ delay: us(110), jitter: { kind: "exponential", mean: us(60) } }), {
        noise: us(30),
      }),
      honest("false-50ms", lan({ delay: us(160) }), { offset: ms(50) }),
    ],
  },
  {
    name: "drifting-reference-spikes",
    description:
      "One loopback server (minimum-agreeing-sources = 1, poll 1-16 s) whose time runs 40 ppm " +
      "ahead of the local clock, and 3 % of packets delayed 1-8 ms on one leg (issue #11 item 1). " +
      "Expect the frequency found at start-up, spikes ignored, and µs-level error afterwards.",
    hours: 2,
    seed: 9,
    clock: { initialOffset: ms(2), frequencyError: 40 },
    servers: [honest("loopback", LOOPBACK_WITH_SPIKES)],
    pollLimits: { min: 0, max: 4 },
    initialPoll: 0,
    synchronization: { minimumAgreeingSources: 1 },
  },
  {
    name: "still-server-poll-step",
    description:
      "A perfect local server on loopback (with the odd scheduling stall), a perfect local clock, poll limits " +
      "2-16 s and initial-poll-interval 16 s, so the poll steps from the 2 s start-up burst " +
      "to 16 s (issue #11 item 4). Expect no slew away from it and a frequency estimate near 0.",
    hours: 1,
    seed: 10,
    clock: { initialOffset: 0, frequencyError: 0 },
    servers: [honest("local", LOOPBACK_WITH_STALLS)],
    pollLimits: { min: 1, max: 4 },
    initialPoll: 4,
    synchronization: { minimumAgreeingSources: 1 },
  },
  {
    name: "fast-reference",
    description:
      'The accuracy bench\'s "fast" (issue #11): one loopback server whose time runs 40 ppm ' +
      "ahead of the local clock, starting 2 ms behind it; poll 1-16 s, minimum-agreeing-sources = 1. " +
      "Expect the published estimate within 100 µs in seconds (found during the start-up burst) " +
      "and no step.",
    hours: 0.5,
    seed: 12,
    clock: { initialOffset: ms(-2), frequencyError: 40 },
    servers: [honest("loopback", BENCH_LOOPBACK, { noise: us(1) })],
    pollLimits: { min: 0, max: 4 },
    initialPoll: 0,
    synchronization: { minimumAgreeingSources: 1 },
  },
  {
    name: "loopback-jitter",
    description:
      "One server on loopback whose replies and requests each queue for Exp(mean 100 µs) " +
      "(the accuracy bench's jitter scenario), poll 1-16 s, the clock 25 ms behind. The offset " +
      "error of an exchange is half the difference of its legs: the low-delay exchanges are the " +
      "accurate ones. Expect an error well below a single exchange's (71 µs σ).",
    hours: 1,
    seed: 12,
    clock: { initialOffset: ms(25), frequencyError: 0 },
    servers: [
      honest("loopback", { delay: us(20), jitter: { kind: "exponential", mean: us(100) } }),
    ],
    pollLimits: { min: 0, max: 4 },
    initialPoll: 0,
    synchronization: { minimumAgreeingSources: 1 },
  },
  {
    name: "late-replies",
    description:
      "One server on loopback whose replies leave Exp(mean 20 µs) after their T3 reading (a " +
      "loaded server's send path; the accuracy bench's reference measured 14 µs median, 20 µs " +
      "mean), poll 1-16 s, the clock 25 ms behind. Each offset is early by half its reply's " +
      "lateness, which its delay shows: expect the published estimate's mean error well below " +
      "the 10 µs an average of the offsets has.",
    hours: 1,
    seed: 14,
    clock: { initialOffset: ms(25), frequencyError: 0 },
    servers: [
      honest("loopback", BENCH_LOOPBACK, {
        noise: us(0.5),
        sendJitter: { kind: "exponential", mean: us(20) },
      }),
    ],
    pollLimits: { min: 0, max: 4 },
    initialPoll: 0,
    synchronization: { minimumAgreeingSources: 1 },
  },
  {
    name: "loopback-spikes",
    description:
      "One server on loopback with Exp(mean 10 µs) queueing each way and 1-10 ms stalls of one " +
      "leg in 5 % of the exchanges (the accuracy bench's spikes scenario), poll 1-16 s. Expect " +
      "the stalls ignored and µs-level error.",
    hours: 1,
    seed: 13,
    clock: { initialOffset: ms(25), frequencyError: 0 },
    servers: [
      honest("loopback", {
        delay: us(20),
        jitter: { kind: "exponential", mean: us(10) },
        spikes: { probability: 0.025, min: ms(1), max: ms(10) },
      }),
    ],
    pollLimits: { min: 0, max: 4 },
    initialPoll: 0,
    synchronization: { minimumAgreeingSources: 1 },
  },
];

export function findScenario(name: string): Scenario | undefined {
  return scenarios.find((s) => s.name === name);
}
