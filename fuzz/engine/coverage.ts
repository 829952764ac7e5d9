// Block coverage from V8's precise coverage (node:inspector, Profiler domain,
// callCount + detailed), reduced to a set of stable "points".
//
// V8 reports, per function called since the last take, the function's range
// and the nested block ranges whose count differs from their parent's (blocks
// with the parent's count are merged into it, and adjacent ranges with equal
// counts are merged together). Range boundaries therefore move from take to
// take, but the start offset of every block V8 ever reported is a fixed
// point of the source. A point is covered by a take when the innermost range
// of that take containing it has a count above zero. Points are keyed by their
// function (its start offset), so a block of a nested function is never
// credited to its parent.
//
// takePreciseCoverage costs about a millisecond whatever ran, far more than one
// parser call, so the fuzzer runs inputs in batches and takes coverage once
// per batch (see fuzzer.ts). Taking also resets the counters.

import { Session } from "node:inspector";

interface Range {
  startOffset: number;
  endOffset: number;
  count: number;
}
interface FunctionCoverage {
  functionName: string;
  ranges: Range[];
}
interface ScriptCoverage {
  url: string;
  functions: FunctionCoverage[];
}

export class BlockCoverage {
  private readonly session = new Session();
  /** Points ever seen, per "url#functionStart". */
  private readonly known = new Map<string, Set<number>>();
  /** Covered points, as "url#functionStart:offset". */
  private readonly covered = new Set<string>();
  /** "file functionName" per "url#functionStart", for reports. */
  private readonly names = new Map<string, string>();
  private started = false;

  /** `include`: which scripts count (by URL), e.g. the sources under src/. */
  constructor(private readonly include: (url: string) => boolean) {}

  get points(): number {
    return this.covered.size;
  }

  /** Known points (covered or not) of the scripts seen so far. */
  get knownPoints(): number {
    let n = 0;
    for (const set of this.known.values()) n += set.size;
    return n;
  }

  /** Uncovered points per function ("file functionName": count), most first. */
  uncovered(): [string, number][] {
    const counts = new Map<string, number>();
    for (const [fnKey, points] of this.known) {
      let n = 0;
      for (const p of points) if (!this.covered.has(`${fnKey}:${p}`)) n++;
      if (n > 0) {
        const name = this.names.get(fnKey) ?? fnKey;
        counts.set(name, (counts.get(name) ?? 0) + n);
      }
    }
    return [...counts].sort((a, b) => b[1] - a[1]);
  }

  start(): void {
    if (this.started) return;
    this.session.connect();
    this.post("Profiler.enable");
    this.post("Profiler.startPreciseCoverage", { callCount: true, detailed: true });
    this.started = true;
    this.take();
  }

  stop(): void {
    if (!this.started) return;
    this.post("Profiler.stopPreciseCoverage");
    this.post("Profiler.disable");
    this.session.disconnect();
    this.started = false;
  }

  /**
   * Coverage since the last call. Returns how many points it covered that no
   * earlier committed call did; with `commit` those points are recorded.
   */
  collect(commit: boolean): number {
    const scripts = this.take();
    let fresh = 0;
    const seenNow = commit ? null : new Set<string>();
    for (const script of scripts) {
      if (!this.include(script.url)) continue;
      for (const fn of script.functions) {
        const ranges = fn.ranges;
        const top = ranges[0];
        if (top === undefined) continue;
        const fnKey = `${script.url}#${top.startOffset}`;
        let points = this.known.get(fnKey);
        if (points === undefined) {
          points = new Set<number>([top.startOffset]);
          this.known.set(fnKey, points);
          const file = script.url.slice(script.url.lastIndexOf("/") + 1);
          this.names.set(fnKey, `${file} ${fn.functionName || "(anonymous)"}`);
        }
        for (const r of ranges) points.add(r.startOffset);
        if (top.count === 0) continue;
        for (const p of points) {
          const key = `${fnKey}:${p}`;
          if (this.covered.has(key) || seenNow?.has(key)) continue;
          if (innermostCount(ranges, p) > 0) {
            fresh++;
            if (seenNow !== null) seenNow.add(key);
            else this.covered.add(key);
          }
        }
      }
    }
    return fresh;
  }

  private take(): ScriptCoverage[] {
    return (this.post("Profiler.takePreciseCoverage") as { result: ScriptCoverage[] }).result;
  }

  /** The same-thread session answers synchronously. */
  private post(method: string, params?: object): unknown {
    const reply: { error: Error | null; result: unknown } = { error: null, result: undefined };
    this.session.post(method, params, (error, result) => {
      reply.error = error;
      reply.result = result;
    });
    if (reply.error !== null) throw reply.error;
    return reply.result;
  }
}

/** Count of the innermost range containing `offset` (ranges[0] is the function). */
function innermostCount(ranges: readonly Range[], offset: number): number {
  let best = ranges[0]!;
  for (let i = 1; i < ranges.length; i++) {
    const r = ranges[i]!;
    if (
      r.startOffset <= offset &&
      offset < r.endOffset &&
      r.endOffset - r.startOffset <= best.endOffset - best.startOffset
    ) {
      best = r;
    }
  }
  return best.count;
}
