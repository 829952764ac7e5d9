// CPU accounting from /proc, as loadgen.c does it, for the load generators
// written in TypeScript: a process's CPU time (utime+stime of all its threads)
// and per-CPU busy fractions.
import { readFileSync } from "node:fs";

/** USER_HZ: the unit of /proc/PID/stat and /proc/stat times (100 on Linux). */
const CLK_TCK = 100;

/** CPU seconds (user+system, all threads) of `pid` so far, or NaN if unreadable. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // "PID (comm) STATE ..." — comm may contain spaces; fields 14 and 15 are utime, stime.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

export interface CpuTimes {
  total: number[];
  idle: number[];
}

/** Per-CPU jiffies from /proc/stat: total, and idle + iowait. */
export function cpuTimes(): CpuTimes {
  const total: number[] = [];
  const idle: number[] = [];
  for (const line of readFileSync("/proc/stat", "utf8").split("\n")) {
    const m = /^cpu(\d+)\s+(.*)$/.exec(line);
    if (!m) continue;
    const v = m[2]!.trim().split(/\s+/).slice(0, 8).map(Number);
    total.push(v.reduce((a, b) => a + b, 0));
    idle.push(v[3]! + v[4]!);
  }
  return { total, idle };
}

/** Per-CPU busy fraction between two cpuTimes() samples. */
export function busyBetween(a: CpuTimes, b: CpuTimes): number[] {
  return b.total.map((t, i) => {
    const dt = t - (a.total[i] ?? 0);
    return dt > 0 ? 1 - (b.idle[i]! - (a.idle[i] ?? 0)) / dt : 0;
  });
}
