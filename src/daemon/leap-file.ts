// Reads `[synchronization] leap-seconds-file` for the discipline and for
// `ntp-ctl validate`: the checked list (src/proto/leap/leap-seconds-list.ts), or
// the one line an operator needs to fix it (file, line, what is wrong). A file
// that is bad or expired is not used: the sources' leap indicators decide.

import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import {
  isExpired,
  MAX_LEAP_FILE_BYTES,
  ntpDate,
  parseLeapSecondsList,
  type LeapSecondsList,
} from "../proto/leap/leap-seconds-list.js";
import { fsReason } from "./fs-reason.js";

export type LeapFileOutcome =
  { ok: true; list: LeapSecondsList } | { ok: false; list: null; problem: string };

/** Reads and checks the leap-seconds file at `path` against `nowNtpSeconds`. */
export function readLeapSecondsFile(path: string, nowNtpSeconds: number): LeapFileOutcome {
  let bytes: Buffer;
  try {
    bytes = readBounded(path, MAX_LEAP_FILE_BYTES + 1);
  } catch (error) {
    return bad(`leap-seconds file ${path}: ${fsReason(error)}; not used`);
  }
  const parsed = parseLeapSecondsList(bytes);
  if (!parsed.ok) {
    const where = parsed.line === null ? path : `${path}:${parsed.line}`;
    return bad(`leap-seconds file ${where}: ${parsed.error}; not used`);
  }
  if (isExpired(parsed.list, nowNtpSeconds)) {
    return bad(
      `leap-seconds file ${path}:${parsed.list.expiresLine}: expired on ` +
        `${ntpDate(parsed.list.expires)} (update it, e.g. with the tzdata package); not used`,
    );
  }
  return { ok: true, list: parsed.list };
}

function bad(problem: string): LeapFileOutcome {
  return { ok: false, list: null, problem };
}

/** At most `limit` bytes of the file (more tells the parser it is too large). */
export function readBounded(path: string, limit: number): Buffer {
  const fd = openSync(path, "r");
  try {
    if (!fstatSync(fd).isFile()) throw Object.assign(new Error("not a file"), { code: "EISDIR" });
    const buffer = Buffer.alloc(limit);
    let length = 0;
    while (length < limit) {
      const n = readSync(fd, buffer, length, limit - length, null);
      if (n === 0) break;
      length += n;
    }
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}
