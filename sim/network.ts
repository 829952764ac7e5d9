// One network path between the simulated host and one server: the delay of
// each leg (fixed part ± half the asymmetry, random queueing, occasional
// spikes) and loss. Each direction draws from its own random stream.

import { Rng } from "./random.js";
import type { JitterSpec, PathSpec } from "./scenario.js";

/** No leg is faster than this, s. */
const MIN_LEG_DELAY = 1e-6;

export class NetworkPath {
  readonly #spec: PathSpec;
  readonly #out: Rng;
  readonly #back: Rng;

  constructor(spec: PathSpec, seed: number, label: string) {
    this.#spec = spec;
    this.#out = new Rng(seed, `path:${label}:out`);
    this.#back = new Rng(seed, `path:${label}:back`);
  }

  /** Delay of a request (client → server), s, or null when it is lost. */
  request(): number | null {
    return this.#leg(this.#out, +1);
  }

  /** Delay of a reply (server → client), s, or null when it is lost. */
  reply(): number | null {
    return this.#leg(this.#back, -1);
  }

  #leg(rng: Rng, sign: 1 | -1): number | null {
    const s = this.#spec;
    // Draw every number whether or not the packet is lost, so that the loss
    // rate does not shift the delays the other packets see.
    const lost = rng.uniform() < (s.loss ?? 0);
    let delay = s.delay + (sign * (s.asymmetry ?? 0)) / 2;
    delay += jitterDelay(rng, s.jitter);
    const spike = rng.uniform();
    const spikeSize = rng.uniform();
    if (s.spikes !== undefined && spike < s.spikes.probability) {
      delay += s.spikes.min + (s.spikes.max - s.spikes.min) * spikeSize;
    }
    return lost ? null : Math.max(MIN_LEG_DELAY, delay);
  }
}

/** One draw of a random delay (s; 0 without a spec). */
export function jitterDelay(rng: Rng, spec: JitterSpec | undefined): number {
  if (spec?.kind === "exponential") return rng.exponential(spec.mean);
  if (spec?.kind === "lognormal") return rng.lognormal(spec.median, spec.sigma);
  return 0;
}
