// May this process steer the system clock? Answered WITHOUT changing anything, from
// /proc: CAP_SYS_TIME (bit 25) in the effective capability set, in the initial user
// namespace (in any other user namespace the capability does not cover the system
// clock, which the kernel checks against the initial one). A seccomp filter can still
// refuse clock_adjtime; KernelClock.canControl({ writeBack: true }) confirms with the
// kernel by writing back the frequency it just read.

import { readFileSync } from "node:fs";

/** The capability bit that allows setting the system clock (<linux/capability.h>). */
export const CAP_SYS_TIME = 25;

export interface ControlProbe {
  /** Whether clock_adjtime writes should be accepted. */
  permitted: boolean;
  /** One line saying why, for the log. */
  reason: string;
}

const HINT = "run as root or grant CAP_SYS_TIME, or use --no-clock-control";

/** The CapEff mask from the text of /proc/<pid>/status, or null when it is missing. */
export function parseCapEff(procStatus: string): bigint | null {
  const m = /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(procStatus);
  return m ? BigInt(`0x${m[1]}`) : null;
}

/** Whether /proc/<pid>/uid_map describes the initial user namespace (0 0 4294967295). */
export function isInitialUserNamespace(uidMap: string): boolean {
  const lines = uidMap
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
  if (lines.length !== 1) return false;
  const fields = lines[0]!.split(/\s+/);
  return (
    fields.length === 3 && fields[0] === "0" && fields[1] === "0" && fields[2] === "4294967295"
  );
}

/** The decision from the two files' contents (pure; exported for tests). */
export function decideControl(procStatus: string, uidMap: string | null): ControlProbe {
  const capEff = parseCapEff(procStatus);
  if (capEff === null) {
    return { permitted: false, reason: `no CapEff line in /proc/self/status; ${HINT}` };
  }
  const hex = `0x${capEff.toString(16)}`;
  if ((capEff & (1n << BigInt(CAP_SYS_TIME))) === 0n) {
    return {
      permitted: false,
      reason: `CAP_SYS_TIME is not in the effective capabilities (CapEff ${hex}); ${HINT}`,
    };
  }
  // No uid_map: a kernel without user namespaces, so the initial one.
  if (uidMap !== null && !isInitialUserNamespace(uidMap)) {
    return {
      permitted: false,
      reason:
        "CAP_SYS_TIME is held only inside a user namespace (a container), where it does " +
        `not cover the system clock; ${HINT}`,
    };
  }
  return {
    permitted: true,
    reason: `CAP_SYS_TIME is in the effective capabilities (CapEff ${hex})`,
  };
}

export type TextFileReader = (path: string) => string;

const readText: TextFileReader = (path) => readFileSync(path, "utf8");

/** Reads /proc/self/status and /proc/self/uid_map. Reads only; never throws. */
export function probeClockControl(read: TextFileReader = readText): ControlProbe {
  let status: string;
  try {
    status = read("/proc/self/status");
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { permitted: false, reason: `cannot read /proc/self/status (${message}); ${HINT}` };
  }
  let uidMap: string | null;
  try {
    uidMap = read("/proc/self/uid_map");
  } catch {
    uidMap = null;
  }
  return decideControl(status, uidMap);
}
