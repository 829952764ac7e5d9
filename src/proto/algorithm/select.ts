// Source selection by interval intersection (ntpd-rs `algorithm/kalman/select.rs`).
//
// Each candidate claims the true offset lies in [offset − r, offset + r] with
//   r = range-statistical-weight · σ + range-delay-weight · delay.
// A source whose filter is still in start-up has no real σ yet (its filter
// reports a deliberately huge placeholder, ±25 ms on a LAN), and intervals that
// wide let a falseticker tens of ms off overlap the honest sources just when
// the clock may be stepped. Such a source instead brings the interval its own
// samples prove (measured-interval.ts: the best sample's offset ± half its
// delay and the server's root distance, cut to what its estimate can be off;
// an empty interval, a source contradicting itself, does not vote), so the
// majority is real from the first sample.
// Candidates that are unusable, unsynchronized (LI 3) or too unsure
// (r > maximum-source-uncertainty) do not vote. A sweep over the interval ends
// finds the largest number M of intervals sharing a point (touching counts).
// The agreeing set is used only when M ≥ minimum-agreeing-sources and M is a
// strict majority of the voting candidates; the selected sources are the
// voters whose interval contains that point (the first such point from the
// left when several reach M). Unlike classic NTP, intervals only have to
// overlap, not to contain each other's centres.
// A periodic source (pps: its offset is known only modulo its period) never
// votes, nor counts toward M or the majority (ntpd-rs). It is selected when
// it passes the same gates and its interval meets the region where the M
// agreeing intervals overlap: it refines the agreed time, never picks it.

import type { LeapIndicator } from "../packet/types.js";
import type { Interval } from "./measured-interval.js";

export interface SelectionCandidate {
  id: number;
  /** Seconds. */
  offset: number;
  /** σ of the offset, seconds. */
  uncertainty: number;
  /** Mean round-trip delay, seconds. */
  delay: number;
  leap: LeapIndicator;
  stratum: number;
  /** False when the source may not be used to synchronize (e.g. a loop, bad stratum). */
  usable: boolean;
  /** The source's filter is still in start-up: its σ is a placeholder. */
  startup?: boolean;
  /** What the source's samples prove (MeasuredInterval.at), seconds; null: no samples. */
  measured?: Interval | null;
  /** The offset is known only modulo a period (pps): the source does not vote. */
  periodic?: boolean;
}

export interface SelectionParameters {
  minimumAgreeingSources: number;
  rangeStatisticalWeight: number;
  rangeDelayWeight: number;
  maximumSourceUncertainty: number;
}

export type RejectReason = "unusable" | "unsynchronized" | "uncertainty" | "periodic";

export type SelectionResult =
  | {
      kind: "selected";
      /** Voters agreeing on the chosen point in candidate order, then the periodic sources there. */
      selected: number[];
      /** Voters whose interval misses the chosen point (falsetickers). */
      outvoted: number[];
      /** Candidates that did not vote, and why. */
      rejected: { id: number; reason: RejectReason }[];
      /** Number of voting candidates. */
      voting: number;
    }
  | {
      kind: "no-consensus";
      /** The largest number of overlapping intervals found. */
      agreeing: number;
      voting: number;
      rejected: { id: number; reason: RejectReason }[];
    };

/** r = statistical weight · σ + delay weight · delay. */
export function selectionRadius(
  candidate: Pick<SelectionCandidate, "uncertainty" | "delay">,
  params: Pick<SelectionParameters, "rangeStatisticalWeight" | "rangeDelayWeight">,
): number {
  return (
    candidate.uncertainty * params.rangeStatisticalWeight +
    candidate.delay * params.rangeDelayWeight
  );
}

/**
 * The interval a candidate votes with: the measured one while its filter is
 * in start-up (when there is one), else offset ± selectionRadius.
 */
export function selectionInterval(
  candidate: Pick<SelectionCandidate, "offset" | "uncertainty" | "delay" | "startup" | "measured">,
  params: Pick<SelectionParameters, "rangeStatisticalWeight" | "rangeDelayWeight">,
): Interval {
  if (candidate.startup === true && candidate.measured != null) return candidate.measured;
  const r = selectionRadius(candidate, params);
  return { low: candidate.offset - r, high: candidate.offset + r };
}

export function selectSources(
  candidates: readonly SelectionCandidate[],
  params: SelectionParameters,
): SelectionResult {
  const rejected: { id: number; reason: RejectReason }[] = [];
  const voters: { id: number; low: number; high: number }[] = [];
  const periodic: { id: number; low: number; high: number }[] = [];
  for (const c of candidates) {
    if (!c.usable) {
      rejected.push({ id: c.id, reason: "unusable" });
      continue;
    }
    if (c.leap === 3) {
      rejected.push({ id: c.id, reason: "unsynchronized" });
      continue;
    }
    // The gate judges the estimate combination would use (the filter's),
    // the interval only whether the source agrees. NaN fails these tests
    // too: a broken estimate never votes.
    const { low, high } = selectionInterval(c, params);
    if (
      !(selectionRadius(c, params) <= params.maximumSourceUncertainty) ||
      !Number.isFinite(c.offset) ||
      !(low <= high && high - low <= 2 * params.maximumSourceUncertainty)
    ) {
      rejected.push({ id: c.id, reason: "uncertainty" });
      continue;
    }
    if (c.periodic === true) periodic.push({ id: c.id, low, high });
    else voters.push({ id: c.id, low, high });
  }

  // Sweep: starts before ends at the same coordinate (closed intervals).
  const events: { at: number; delta: 1 | -1 }[] = [];
  for (const v of voters) {
    events.push({ at: v.low, delta: 1 });
    events.push({ at: v.high, delta: -1 });
  }
  events.sort((a, b) => a.at - b.at || b.delta - a.delta);
  let best = 0;
  let bestAt = 0;
  // Where the first region of best overlap ends: the next end after bestAt.
  let bestEnd = 0;
  let current = 0;
  let endPending = false;
  for (const e of events) {
    current += e.delta;
    if (current > best) {
      best = current;
      bestAt = e.at;
      endPending = true;
    } else if (endPending && e.delta < 0) {
      bestEnd = e.at;
      endPending = false;
    }
  }

  const voting = voters.length;
  if (best === 0 || best < params.minimumAgreeingSources || !(best * 2 > voting)) {
    return { kind: "no-consensus", agreeing: best, voting, rejected };
  }
  const selected: number[] = [];
  const outvoted: number[] = [];
  for (const v of voters) {
    if (v.low <= bestAt && bestAt <= v.high) selected.push(v.id);
    else outvoted.push(v.id);
  }
  for (const p of periodic) {
    if (p.low <= bestEnd && bestAt <= p.high) selected.push(p.id);
    else rejected.push({ id: p.id, reason: "periodic" });
  }
  return { kind: "selected", selected, outvoted, rejected, voting };
}
