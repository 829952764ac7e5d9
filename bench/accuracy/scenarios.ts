// The scenarios of the accuracy bench: what the test server's clock does
// relative to the system clock, and how its replies are delayed.
//
// Truth convention (the daemon's): offset(t) = true time − system clock, in
// seconds, positive when the system clock is behind. The test server serves
// system time + offset(t), so offset(t) is exactly what a perfect client of it
// would estimate. `t` is seconds since the scenario started (CLOCK_MONOTONIC,
// which runs at the system clock's rate), so a drift of `ppm` makes the
// system clock look `ppm` slow (true frequency = +ppm in the daemon's sign).

export interface Scenario {
  readonly name: string;
  readonly description: string;
  /** Offset of the server's clock from the system clock at t = 0, seconds. */
  readonly offset0: number;
  /** Rate of change of that offset, ppm (positive: the system clock runs slow). */
  readonly ppm: number;
  /** Mean of the exponential extra delay before each reply is sent, seconds (0: none). */
  readonly jitterMean: number;
}

export const SCENARIOS: readonly Scenario[] = [
  {
    name: "constant",
    description: "server +25 ms ahead of the system clock, no drift, no jitter",
    offset0: 0.025,
    ppm: 0,
    jitterMean: 0,
  },
  {
    name: "drift",
    description: "server starts 2 ms behind and gains 10 ppm on the system clock",
    offset0: -0.002,
    ppm: 10,
    jitterMean: 0,
  },
  {
    name: "jitter",
    description: "server 5 ms behind; each reply held back by Exp(mean 200 us) (return-path noise)",
    offset0: -0.005,
    ppm: 0,
    jitterMean: 200e-6,
  },
];

/** True time − system clock (s) at `t` seconds into the scenario. */
export function truthAt(s: Scenario, t: number): number {
  return s.offset0 + s.ppm * 1e-6 * t;
}

/** A small seeded PRNG (mulberry32), so jittered runs can be repeated. */
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
