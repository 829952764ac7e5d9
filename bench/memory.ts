// A server's memory as the kernel counts it, from /proc/PID/status: VmRSS
// (resident now: anonymous + file-backed pages, e.g. the node binary's code
// that has been touched) and VmHWM (the peak of VmRSS). Writing 5 to
// /proc/PID/clear_refs resets VmHWM (Linux >= 4.0; our own child processes),
// so the peak of a phase is VmHWM at its end; a sampler backs that up where
// the reset is not allowed.
import { readFileSync, writeFileSync } from "node:fs";

export interface MemorySample {
  /** Resident set now, MiB. */
  rssMiB: number;
  /** Peak resident set (since start or the last resetPeak), MiB. */
  hwmMiB: number;
  /** Of rssMiB: anonymous (heap, stacks...) and file-backed (binary, libraries). */
  anonMiB: number;
  fileMiB: number;
}

/** The process's memory now, or undefined if it is gone. */
export function readMemory(pid: number): MemorySample | undefined {
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, "utf8");
  } catch {
    return undefined;
  }
  const kib = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status);
    return m ? Number(m[1]) / 1024 : NaN;
  };
  return {
    rssMiB: kib("VmRSS"),
    hwmMiB: kib("VmHWM"),
    anonMiB: kib("RssAnon"),
    fileMiB: kib("RssFile"),
  };
}

/** Resets VmHWM to the current VmRSS; false if the kernel refused. */
export function resetPeak(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Samples VmRSS every `intervalMs` until stopped; keeps the samples (bounded by the caller's run time). */
export class RssSampler {
  readonly samples: { atMs: number; rssMiB: number }[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly start = Date.now();

  constructor(
    private readonly pid: number,
    intervalMs: number,
  ) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.sample();
  }

  private sample(): void {
    const m = readMemory(this.pid);
    if (m) this.samples.push({ atMs: Date.now() - this.start, rssMiB: m.rssMiB });
  }

  /** Stops sampling (after one last sample) and returns the largest VmRSS seen, MiB. */
  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return Math.max(...this.samples.map((s) => s.rssMiB));
  }
}
