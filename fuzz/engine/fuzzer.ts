// The coverage-guided loop: keep every input that reached a block of src/ no
// earlier input reached, mutate corpus entries, stop at the first crasher.
//
// Coverage is taken per batch of inputs (one takePreciseCoverage costs 1-20
// ms, one parser call a few µs). A batch that covered something new is
// bisected: each half is replayed and kept looking into while it still covers
// something new, down to the single inputs that do, which join the corpus.
// The batch size adapts: it shrinks when batches find new coverage (early in
// a run) and grows up to MAX_BATCH while they do not.

import { createHash } from "node:crypto";
import type { BlockCoverage } from "./coverage.js";
import { mutate } from "./mutate.js";
import { Rng } from "./rng.js";
import type { FuzzTarget } from "./target.js";

const MAX_BATCH = 4096;

export interface Crasher {
  input: Uint8Array;
  error: unknown;
}

export interface FuzzOptions {
  /** Distinct generated inputs to run (seeds not counted). */
  runs: number;
  seed: number;
  /** Extra starting inputs (a saved corpus). */
  corpus?: Uint8Array[];
  /** Called about every `progressMs` with the running figures. */
  onProgress?: (stats: FuzzStats) => void;
  progressMs?: number;
  now?: () => number;
}

export interface FuzzStats {
  target: string;
  /** Generated inputs run (the "runs" count). */
  inputs: number;
  /** Target calls including seeds and replays of batches that found coverage. */
  executions: number;
  elapsedMs: number;
  /** Covered coverage points (block starts) in src/. */
  points: number;
  /** Points of src/ functions seen so far, covered or not. */
  knownPoints: number;
  corpus: number;
  seeds: number;
  /** Slowest single execution seen in replays, ms (noisy on a shared machine). */
  slowestMs: number;
}

export interface FuzzResult {
  stats: FuzzStats;
  corpus: Uint8Array[];
  crasher: Crasher | null;
}

function key(input: Uint8Array): string {
  return createHash("sha1").update(input).digest("hex");
}

export function fuzz(
  target: FuzzTarget,
  coverage: BlockCoverage,
  options: FuzzOptions,
): FuzzResult {
  const now = options.now ?? (() => performance.now());
  const t0 = now();
  const rng = new Rng(options.seed);
  const corpus: Uint8Array[] = [];
  const inCorpus = new Set<string>();
  const stats: FuzzStats = {
    target: target.name,
    inputs: 0,
    executions: 0,
    elapsedMs: 0,
    points: 0,
    knownPoints: 0,
    corpus: 0,
    seeds: 0,
    slowestMs: 0,
  };
  const result = (crasher: Crasher | null): FuzzResult => {
    stats.elapsedMs = now() - t0;
    stats.points = coverage.points;
    stats.knownPoints = coverage.knownPoints;
    stats.corpus = corpus.length;
    return { stats, corpus, crasher };
  };

  /** Runs one input; a throw is a crasher. */
  const execute = (input: Uint8Array): Crasher | null => {
    stats.executions++;
    try {
      target.run(input);
      return null;
    } catch (error) {
      return { input: Uint8Array.from(input), error };
    }
  };
  /** Runs one input and commits its coverage; the counters must be fresh (just collected). */
  const execAlone = (input: Uint8Array): { crasher: Crasher | null; fresh: number } => {
    const t = now();
    const crasher = execute(input);
    const ms = now() - t;
    if (ms > stats.slowestMs) stats.slowestMs = ms;
    return { crasher, fresh: coverage.collect(true) };
  };
  const keep = (input: Uint8Array): void => {
    const k = key(input);
    if (inCorpus.has(k)) return;
    inCorpus.add(k);
    corpus.push(Uint8Array.from(input));
  };

  /** Finds the inputs of `inputs` (which together covered something new) that do. */
  const bisect = (inputs: Uint8Array[]): Crasher | null => {
    if (inputs.length === 1) {
      const { crasher, fresh } = execAlone(inputs[0]!);
      if (fresh > 0) keep(inputs[0]!);
      return crasher;
    }
    const mid = inputs.length >> 1;
    // The counters are fresh here: the caller has just collected.
    for (const half of [inputs.slice(0, mid), inputs.slice(mid)]) {
      for (const input of half) {
        const crasher = execute(input);
        if (crasher !== null) return crasher;
      }
      if (coverage.collect(false) > 0) {
        const crasher = bisect(half);
        if (crasher !== null) return crasher;
      }
    }
    return null;
  };

  // Seeds (and a saved corpus) one by one: keep those that add coverage.
  const starting = [...target.seeds(), ...(options.corpus ?? [])];
  stats.seeds = starting.length;
  coverage.collect(false); // drop whatever ran before
  for (const input of starting) {
    const clipped = input.subarray(0, target.maxLength);
    const { crasher, fresh } = execAlone(clipped);
    if (crasher !== null) return result(crasher);
    if (fresh > 0) keep(clipped);
  }
  if (corpus.length === 0) keep(starting[0] ?? new Uint8Array(1));

  const ctx = { target, other: () => rng.pick(corpus) };
  let batchSize = 1;
  const batch: Uint8Array[] = [];
  let nextProgress = now() + (options.progressMs ?? 5000);
  coverage.collect(false);
  while (stats.inputs < options.runs) {
    batch.length = 0;
    const n = Math.min(batchSize, options.runs - stats.inputs);
    for (let i = 0; i < n; i++) {
      const input = mutate(rng.pick(corpus), rng, ctx);
      batch.push(input);
      stats.inputs++;
      const crasher = execute(input);
      if (crasher !== null) return result(crasher);
    }
    if (coverage.collect(false) > 0) {
      const crasher = bisect(batch);
      if (crasher !== null) return result(crasher);
      batchSize = Math.max(1, batchSize >> 2);
    } else {
      batchSize = Math.min(MAX_BATCH, batchSize * 2);
    }
    if (options.onProgress !== undefined && now() >= nextProgress) {
      nextProgress = now() + (options.progressMs ?? 5000);
      options.onProgress(result(null).stats);
    }
  }
  return result(null);
}

/** A crasher made smaller: chunks are deleted while the same error (name + message) persists. */
export function minimize(target: FuzzTarget, crasher: Crasher, budget = 2000): Uint8Array {
  const signature = (error: unknown): string =>
    error instanceof Error ? `${error.name}: ${error.message.slice(0, 80)}` : String(error);
  const want = signature(crasher.error);
  const fails = (input: Uint8Array): boolean => {
    try {
      target.run(input);
      return false;
    } catch (error) {
      return signature(error) === want;
    }
  };
  let best = crasher.input;
  let tries = 0;
  for (let chunk = best.length >> 1; chunk >= 1 && tries < budget; chunk >>= 1) {
    for (let at = 0; at + chunk <= best.length && tries < budget;) {
      const candidate = new Uint8Array(best.length - chunk);
      candidate.set(best.subarray(0, at));
      candidate.set(best.subarray(at + chunk), at);
      tries++;
      if (fails(candidate)) best = candidate;
      else at += chunk;
    }
  }
  return best;
}
