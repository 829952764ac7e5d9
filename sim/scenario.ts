// What a simulated world is made of. A scenario is a plain object: the local
// clock, the servers and the network path to each, and any configuration
// that differs from the ntp.toml defaults.
//
// Units: times and offsets in seconds, frequencies in ppm. Signs follow
// SimulatedClock (src/proto/clock/simulated-clock.ts) and the controller:
//   offset     = true time − local clock (positive: the clock is behind; the
//                controller measures the same quantity and steps by it);
//   frequency  = d(offset)/dt (positive: the clock runs slow).

import type { AlgorithmConfig, SynchronizationConfig } from "../src/proto/config/types.js";
import type { PollIntervalLimits } from "../src/proto/source/poll-interval.js";

export interface ThermalSpec {
  /** Peak frequency excursion, ppm. */
  amplitude: number;
  /** Period of the cycle, s (a day, or minutes for a fan switching on and off). */
  period: number;
  /** Phase at the start, radians (default 0: the excursion starts rising). */
  phase?: number;
}

export interface LocalClockSpec {
  /** True time − clock at the start, s. */
  initialOffset: number;
  /** The oscillator's frequency error, ppm (positive: slow). */
  frequencyError: number;
  /** Random-walk wander of the frequency error, ppm per √s (default 0). */
  wander?: number;
  /** A temperature-like sinusoidal frequency error on top (default none). */
  thermal?: ThermalSpec;
  /** A frequency correction the kernel kept from an earlier run, ppm (default 0). */
  initialFrequency?: number;
  /**
   * A drift file kept from an earlier run (`[synchronization] drift-file`,
   * src/proto/system/drift.ts): the core puts its frequency on the clock at start
   * and seeds the filters with it. Default none.
   */
  driftFile?: { frequencyPpm: number; uncertaintyPpm: number };
  /**
   * Someone else steps the clock (`date -s`, another daemon): forward by `by`
   * seconds at true time `at`, without telling the controller.
   */
  meddling?: { at: number; by: number }[];
}

export type JitterSpec =
  /** Queueing delay with this mean, per leg. */
  | { kind: "exponential"; mean: number }
  /** Heavy-tailed queueing delay: median · e^(σ·N(0,1)), per leg. */
  | { kind: "lognormal"; median: number; sigma: number };

export interface PathSpec {
  /** Fixed one-way delay, s (the mean of the two legs' fixed parts). */
  delay: number;
  /** Request leg minus reply leg fixed delay, s (default 0). Biases the offset by half. */
  asymmetry?: number;
  /** Random delay added to each leg (default none). */
  jitter?: JitterSpec;
  /** Occasional long delays: each leg, with `probability`, waits uniform [min, max) more. */
  spikes?: { probability: number; min: number; max: number };
  /** Probability that a leg loses the packet (default 0). */
  loss?: number;
}

export interface ServerSpec {
  /** Short name, unique in the scenario (used in reports and random stream labels). */
  name: string;
  path: PathSpec;
  /** Constant error of the server's clock, s (server − true; default 0). */
  offset?: number;
  /** The server's clock runs fast by this much, ppm (its error grows linearly). */
  drift?: number;
  /** Gaussian noise on every timestamp the server reads, σ in s (default 1 µs). */
  noise?: number;
  /** The server's clock is stepped by `by` seconds at true time `at`. */
  steps?: { at: number; by: number }[];
  /** The server stops answering at this true time, s (it vanishes for good). */
  stopsAt?: number;
  /** Stratum it advertises (default 1). */
  stratum?: number;
  /** Root delay and root dispersion it advertises, s (default 0 and 10 µs). */
  rootDelay?: number;
  rootDispersion?: number;
  /** Time between its receive and transmit timestamps, s (default 20 µs). */
  processing?: number;
  /**
   * Time from its T3 reading to the reply leaving, s (default 0): what a basic
   * reply's T3 misses. The server keeps the time each reply left and gives it
   * in interleaved mode (docs/interleaved.md).
   */
  sendPath?: number;
  /**
   * More time from T3 to the wire, drawn anew for each reply (default none): a
   * loaded server's send path, which makes every basic reply's T3 early by a
   * different amount and so biases a client's offsets by minus half of it,
   * more the longer the round trip (the accuracy bench's reference, on loopback).
   */
  sendJitter?: JitterSpec;
}

export interface Scenario {
  name: string;
  /** One line: what the world looks like and what correct behaviour is. */
  description: string;
  /** Default simulated duration, hours. */
  hours: number;
  /** Default seed. */
  seed: number;
  clock: LocalClockSpec;
  servers: ServerSpec[];
  /** Poll interval limits of every source (default ntp.toml's 4..10). */
  pollLimits?: PollIntervalLimits;
  /** `initial-poll-interval` of every source, log2 s (default the minimum of the limits). */
  initialPoll?: number;
  /** Every source asks in interleaved mode (`interleaved = true`). */
  interleaved?: boolean;
  /** `[synchronization]` keys that differ from the defaults. */
  synchronization?: Partial<Omit<SynchronizationConfig, "algorithm">>;
  /** `[synchronization.algorithm]` keys that differ from the defaults. */
  algorithm?: Partial<AlgorithmConfig>;
  /**
   * Selecting a source is a failure ("falseticker selected") when its server's
   * clock is more than this far from true time, s (default 10 ms), and so is
   * the time the source vouches for (its filter's offset estimate, compared
   * with the local clock's true offset).
   */
  falsetickerThreshold?: number;
}

export const us = (n: number): number => n * 1e-6;
export const ms = (n: number): number => n * 1e-3;
export const minutes = (n: number): number => n * 60;
export const hours = (n: number): number => n * 3600;

/** The default falseticker threshold, s. */
export const DEFAULT_FALSETICKER_THRESHOLD = 0.01;
