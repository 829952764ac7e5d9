// Builds leap-seconds.list texts with a correct hash, for tests, the fuzz seeds and
// the simulator (a leap second on a date of their choosing). Not used by the daemon.

import { createHash } from "node:crypto";
import { FIRST_ENTRY_NTP, type LeapEntry } from "./leap-seconds-list.js";

export interface LeapFileSpec {
  /** `#$`, NTP seconds. */
  updated: number;
  /** `#@`, NTP seconds. */
  expires: number;
  /** After the 1972 entry (added here). */
  entries: readonly LeapEntry[];
}

/** The file's text, with its `#h` hash computed as the format specifies. */
export function leapFileText(spec: LeapFileSpec): string {
  const entries = [{ at: FIRST_ENTRY_NTP, taiUtc: 10 }, ...spec.entries];
  const digits = [String(spec.updated), String(spec.expires)];
  const lines = ["# a test leap-seconds.list", `#$\t${spec.updated}`, `#@\t${spec.expires}`, "#"];
  for (const e of entries) {
    lines.push(`${e.at}\t${e.taiUtc}\t# entry`);
    digits.push(String(e.at), String(e.taiUtc));
  }
  const hex = createHash("sha1").update(digits.join("")).digest("hex");
  lines.push(`#h\t${hex.match(/.{8}/g)!.join(" ")}`, "");
  return lines.join("\n");
}
