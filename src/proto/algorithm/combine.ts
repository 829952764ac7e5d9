// Combination of the selected sources (ntpd-rs `algorithm/kalman/combiner.rs`)
// and the system state the server publishes from it.
//
// Each selected source contributes its Kalman estimate (x, P), with the
// server's root dispersion² added to the offset variance unless
// `ignore-server-dispersion`. Estimates are fused one after the other:
//   x̄ = xᵢ + Pᵢ(Pᵢ + Pⱼ)⁻¹(xⱼ − xᵢ),   P̄ = Pᵢ(Pᵢ + Pⱼ)⁻¹Pⱼ
// (for diagonal P this is the inverse-variance weighted mean). The primary
// source, which gives the system its stratum and reference id, is the one
// with the smallest det P. Root delay is the smallest delay + root delay of
// the selected sources. Leap: a strict majority of the votes (LI 3 has none).

import type { LeapIndicator } from "../packet/types.js";
import type { SystemState } from "../system/system-state.js";
import type { NtpTimestamp } from "../time.js";
import { add, det, inverse, mul, mulVec, subVec, addVec, symmetrize } from "./matrix.js";
import type { Mat2, Vec2 } from "./matrix.js";

export interface CombineInput {
  id: number;
  /** (Δ, ω). */
  state: Vec2;
  covariance: Mat2;
  /** Mean round-trip delay to the source, seconds. */
  delay: number;
  /** The source's own root delay and dispersion, seconds. */
  rootDelay: number;
  rootDispersion: number;
  leap: LeapIndicator;
  stratum: number;
  /**
   * What this host advertises as its reference id when this source is the
   * primary (from the source's address: IPv4 octets or MD5 of the IPv6 address).
   */
  referenceId: number;
  /** Frequency wander of the source's filter, s²/s³. */
  wander: number;
}

export interface Combination {
  state: Vec2;
  covariance: Mat2;
  offset: number;
  offsetUncertainty: number;
  frequency: number;
  frequencyUncertainty: number;
  /** Ids of the combined sources, most certain (smallest det P) first. */
  sources: number[];
  primary: CombineInput;
  /** min(delay + root delay), seconds. */
  rootDelay: number;
  /** Majority leap indicator, or null without a strict majority. */
  leap: LeapIndicator | null;
  /** Largest wander of the combined sources (the cubic root-variance term). */
  wander: number;
}

/** Fuse two independent estimates of the same state; null if P₁ + P₂ is singular. */
export function fuse(
  a: { state: Vec2; covariance: Mat2 },
  b: { state: Vec2; covariance: Mat2 },
): { state: Vec2; covariance: Mat2 } | null {
  const sumInv = inverse(add(a.covariance, b.covariance));
  if (sumInv === null) return null;
  const gain = mul(a.covariance, sumInv);
  return {
    state: addVec(a.state, mulVec(gain, subVec(b.state, a.state))),
    covariance: symmetrize(mul(gain, b.covariance)),
  };
}

/** Strict majority of the leap votes; LI 3 (unknown) casts no vote. */
export function voteLeap(leaps: readonly LeapIndicator[]): LeapIndicator | null {
  const votes = [0, 0, 0];
  let total = 0;
  for (const l of leaps) {
    if (l === 3) continue;
    votes[l] = (votes[l] ?? 0) + 1;
    total++;
  }
  for (const l of [0, 2, 1] as const) {
    if ((votes[l] ?? 0) * 2 > total) return l;
  }
  return null;
}

export function combine(
  inputs: readonly CombineInput[],
  options: { ignoreServerDispersion: boolean },
): Combination | null {
  const first = inputs[0];
  if (first === undefined) return null;
  const withDispersion = (i: CombineInput): { state: Vec2; covariance: Mat2 } => {
    if (options.ignoreServerDispersion) return { state: i.state, covariance: i.covariance };
    const c = i.covariance;
    const d2 = i.rootDispersion * i.rootDispersion;
    return { state: i.state, covariance: [c[0] + d2, c[1], c[2], c[3]] };
  };

  let estimate = withDispersion(first);
  const used: { input: CombineInput; det: number }[] = [
    { input: first, det: det(estimate.covariance) },
  ];
  for (const input of inputs.slice(1)) {
    const e = withDispersion(input);
    const fused = fuse(estimate, e);
    // Only a degenerate (singular) pair of covariances fails; leave that one out.
    if (fused === null) continue;
    estimate = fused;
    used.push({ input, det: det(e.covariance) });
  }
  // Stable sort: ties keep input order.
  used.sort((a, b) => a.det - b.det);
  const primary = used[0]?.input ?? first;

  let rootDelay = Infinity;
  let wander = 0;
  for (const { input: i } of used) {
    rootDelay = Math.min(rootDelay, i.delay + i.rootDelay);
    wander = Math.max(wander, i.wander);
  }
  const P = estimate.covariance;
  return {
    state: estimate.state,
    covariance: P,
    offset: estimate.state[0],
    offsetUncertainty: Math.sqrt(Math.max(0, P[0])),
    frequency: estimate.state[1],
    frequencyUncertainty: Math.sqrt(Math.max(0, P[3])),
    sources: used.map((r) => r.input.id),
    primary,
    rootDelay,
    leap: voteLeap(used.map((r) => r.input.leap)),
    wander,
  };
}

/**
 * The system state after a clock update at local time `time`: stratum and
 * reference id from the primary, root delay, and the root variance polynomial
 *   var(t) = P₀₀ + 2·P₀₁·t + P₁₁·t² + w·t³
 * (the combined offset variance propagated t seconds, with the largest wander
 * as the cubic term as ntpd-rs publishes it: 3× the model's w·t³/3, on the safe
 * side). Without a leap majority the previous leap indicator stays.
 */
export function systemStateFrom(
  combination: Combination,
  time: NtpTimestamp,
  previous: SystemState,
): SystemState {
  const P = combination.covariance;
  return {
    leap: combination.leap ?? previous.leap,
    stratum: Math.min(16, combination.primary.stratum + 1),
    referenceId: combination.primary.referenceId >>> 0,
    precisionLog2: previous.precisionLog2,
    rootDelay: combination.rootDelay,
    rootVarianceBaseTime: time,
    rootVarianceBase: Math.max(0, P[0]),
    rootVarianceLinear: P[1] + P[2],
    rootVarianceQuadratic: Math.max(0, P[3]),
    rootVarianceCubic: combination.wander,
  };
}
