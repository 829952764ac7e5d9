// The scenarios of the accuracy bench: what each reference server's clock does
// relative to the system clock, how its replies travel, and how both daemons
// are configured. Pure: no IO, no clocks (unit-tested in
// test/bench/accuracy.test.ts).
//
// Truth convention (the daemon's): offset(t) = true time − system clock, in
// seconds, positive when the system clock is behind. An honest reference
// serves system time + offset(t), so offset(t) is exactly what a perfect
// client of it would estimate. `t` is seconds since the scenario started
// (CLOCK_MONOTONIC, which runs at the system clock's rate), so a reference
// `ppm` fast makes the system clock look `ppm` slow (true frequency = +ppm in
// the daemon's sign). A falseticker serves the same plus its own fixed error.

/** What a reference's clock does relative to the system clock. */
export interface ClockModel {
  /** Offset from the system clock at t = 0, seconds. */
  readonly offset0: number;
  /** Rate of change of that offset, ppm (positive: the reference runs fast). */
  readonly ppm: number;
  /** A step of the reference's time by `by` seconds at `at` seconds into the run. */
  readonly step?: { readonly at: number; readonly by: number };
}

/** How replies travel between a daemon and a reference (extra to loopback's own path). */
export interface PathModel {
  /** Fixed extra delay client → server (s). */
  readonly forward: number;
  /** Fixed extra delay server → client (s). */
  readonly back: number;
  /** Mean of an exponential extra delay drawn independently for each direction (s, 0: none). */
  readonly jitterMean: number;
  /** With this probability a reply is held back by a spike of Uniform(min, max) s on a random direction. */
  readonly spike?: { readonly probability: number; readonly min: number; readonly max: number };
  /** Probability that a request goes unanswered. */
  readonly loss: number;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly clock: ClockModel;
  readonly path: PathModel;
  /** Honest references (all serve the truth through `path`). */
  readonly honest: number;
  /** Falsetickers: each serves the truth plus this error (s). */
  readonly falsetickers: readonly number[];
  /** Both daemons' poll interval range, log2 s (ours: poll-interval-limits; chrony: minpoll/maxpoll). */
  readonly poll: { readonly min: number; readonly max: number };
  /** minimum-agreeing-sources (ours) and minsources (chrony). */
  readonly minAgreeing: number;
  /** The references' time steps by `by` s at this fraction of the run. */
  readonly step?: { readonly at: number; readonly by: number };
  /** Stop and restart both daemons at this fraction of the run. */
  readonly restartAt?: number;
}

const CLEAN: PathModel = { forward: 0, back: 0, jitterMean: 0, loss: 0 };
const CLOCK: ClockModel = { offset0: 0.025, ppm: 0 };

function scenario(
  s: Pick<Scenario, "name" | "description"> & Partial<Omit<Scenario, "name" | "description">>,
): Scenario {
  return {
    clock: CLOCK,
    path: CLEAN,
    honest: 1,
    falsetickers: [],
    poll: { min: 0, max: 4 },
    minAgreeing: 1,
    ...s,
  };
}

export const SCENARIOS: readonly Scenario[] = [
  scenario({
    name: "clean",
    description: "one reference 25 ms ahead of the system clock; nothing else",
  }),
  scenario({
    name: "jitter",
    description: "each direction delayed by Exp(mean 100 µs)",
    path: { ...CLEAN, jitterMean: 100e-6 },
  }),
  scenario({
    name: "spikes",
    description: "5 % of exchanges delayed by a 1-10 ms spike on one direction",
    path: { ...CLEAN, jitterMean: 10e-6, spike: { probability: 0.05, min: 1e-3, max: 10e-3 } },
  }),
  scenario({
    name: "fast",
    description: "reference 40 ppm fast (starts 2 ms behind)",
    clock: { offset0: -0.002, ppm: 40 },
  }),
  scenario({
    name: "slow",
    description: "reference 40 ppm slow (starts 2 ms ahead)",
    clock: { offset0: 0.002, ppm: -40 },
  }),
  scenario({
    name: "fast-spikes",
    description: "40 ppm fast with 5 % 1-10 ms delay spikes (issue #11's field case)",
    clock: { offset0: -0.002, ppm: 40 },
    path: { ...CLEAN, jitterMean: 10e-6, spike: { probability: 0.05, min: 1e-3, max: 10e-3 } },
  }),
  scenario({
    name: "step",
    description: `the reference's time steps by +5 ms halfway through`,
    step: { at: 0.5, by: 0.005 },
  }),
  scenario({
    name: "falseticker",
    description:
      "3 honest references (Exp 20 µs jitter) + 1 falseticker 20 ms ahead; minimum 3 agreeing",
    path: { ...CLEAN, jitterMean: 20e-6 },
    honest: 3,
    falsetickers: [0.02],
    minAgreeing: 3,
  }),
  scenario({
    name: "loss",
    description: "30 % of requests unanswered",
    path: { ...CLEAN, loss: 0.3 },
  }),
  scenario({
    name: "asymmetry",
    description:
      "fixed 400 µs extra on the return path only: both must show −200 µs (errors taken against that)",
    path: { ...CLEAN, back: 400e-6 },
  }),
  scenario({
    name: "poll",
    description:
      "poll range 2^1..2^4 s for both: the interval steps from 2 s to 16 s (Exp 20 µs jitter)",
    path: { ...CLEAN, jitterMean: 20e-6 },
    poll: { min: 1, max: 4 },
  }),
  scenario({
    name: "restart",
    description: "reference 10 ppm fast; both daemons stopped and restarted halfway through",
    clock: { offset0: 0.025, ppm: 10 },
    restartAt: 0.5,
  }),
];

/** The honest references' clock in a run of `duration` s (the step placed in seconds). */
export function referenceClock(s: Scenario, duration: number): ClockModel {
  return s.step === undefined
    ? s.clock
    : { ...s.clock, step: { at: s.step.at * duration, by: s.step.by } };
}

/** Seconds into a run of `duration` s of the scenario's event (step or restart), or null. */
export function eventAt(s: Scenario, duration: number): number | null {
  if (s.step !== undefined) return s.step.at * duration;
  if (s.restartAt !== undefined) return s.restartAt * duration;
  return null;
}

/**
 * What a client of `path` measures beyond the truth (s): its fixed asymmetry
 * shows as (forward − back)/2, and no client can tell it from an offset (the
 * `asymmetry` scenario: −200 µs). Both daemons' errors are taken against
 * truth + this bias: a daemon nearer the truth than the path allows is not
 * better, it is wrong by the difference.
 */
export function pathBias(path: PathModel): number {
  return (path.forward - path.back) / 2;
}

/** True time − system clock (s) at `t` seconds into the scenario. */
export function truthAt(clock: ClockModel, t: number): number {
  const stepped = clock.step !== undefined && t >= clock.step.at ? clock.step.by : 0;
  return clock.offset0 + clock.ppm * 1e-6 * t + stepped;
}

/** The fate of one request: dropped, or the extra delay on each direction (s). */
export interface PathDraw {
  drop: boolean;
  forward: number;
  back: number;
}

export function drawPath(path: PathModel, random: () => number): PathDraw {
  if (path.loss > 0 && random() < path.loss) return { drop: true, forward: 0, back: 0 };
  let forward = path.forward + exponential(path.jitterMean, random);
  let back = path.back + exponential(path.jitterMean, random);
  if (path.spike && random() < path.spike.probability) {
    const size = path.spike.min + (path.spike.max - path.spike.min) * random();
    if (random() < 0.5) forward += size;
    else back += size;
  }
  return { drop: false, forward, back };
}

/**
 * When a reply is built and leaves, all in system-clock seconds: the request
 * reached the server's socket at `received` (its kernel time stamp); `now` is
 * when the server handles it. T2 is the (emulated) arrival after the forward
 * delay; T3 the departure, at least `lead` after now, so that the reply can be
 * laid out and finished (T3 written) before that instant and then sent AT it;
 * it is put on the wire `back` after T3.
 */
export function replySchedule(
  received: number,
  now: number,
  draw: PathDraw,
  lead: number,
): { t2: number; t3: number; leave: number } {
  const t2 = received + draw.forward;
  const t3 = Math.max(t2, now + lead);
  return { t2, t3, leave: t3 + draw.back };
}

/** A small, fast, seeded PRNG (mulberry32): reproducible runs. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** One draw of an exponential distribution with the given mean (0 for mean 0). */
export function exponential(mean: number, random: () => number): number {
  if (mean <= 0) return 0;
  return -mean * Math.log(1 - random());
}
