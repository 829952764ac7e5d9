// The IERS/NIST leap-seconds.list file (tzdata ships it as
// /usr/share/zoneinfo/leap-seconds.list): the table of TAI − UTC since 1972, when
// it was last updated and when it expires, protected by a SHA-1 hash.
//
//   #$  <NTP seconds>              last update
//   #@  <NTP seconds>              expiry: after it, the file says nothing about
//                                  leap seconds still to come
//   <NTP seconds> <TAI−UTC> [# c]  from this instant (a UTC midnight) on, TAI − UTC
//                                  is the new value: a step of +1 inserts a second
//                                  at the end of the day before, −1 deletes one
//   #h  <5 groups of hex>          SHA-1 of the data
//   # ...                          comments (also after the data on a line)
//
// The hash, by the method the file's comments point to (the IERS's README), and
// which tzdata's copy checks against: SHA-1 over the ASCII digits of
// the `#$` and `#@` values and of each data line's two numbers, in file order,
// without any whitespace or comment. Some published copies print a group without
// its leading zeros, so each group is left-padded to 8 digits before comparing.
//
// Bounded: the input, the lines and the entries are limited; every rejection names
// the line. Pure: the expiry is checked against a time the caller passes.

import { createHash } from "node:crypto";

/** Largest file accepted, bytes (the real one is about 5 KiB). */
export const MAX_LEAP_FILE_BYTES = 64 * 1024;
/** Most data lines accepted (28 leap seconds so far). */
export const MAX_LEAP_ENTRIES = 1000;
const SECONDS_PER_DAY = 86_400;
/** NTP seconds of 1 Jan 1972, the first line of every list (TAI − UTC = 10). */
export const FIRST_ENTRY_NTP = 2_272_060_800;
/** Largest NTP seconds value a line may hold (era 0: until 2036). */
const MAX_NTP_SECONDS = 0xffff_ffff;

export interface LeapEntry {
  /** NTP seconds (era 0) of the UTC midnight from which `taiUtc` holds. */
  at: number;
  /** TAI − UTC from then on, s. */
  taiUtc: number;
}

export interface LeapSecondsList {
  /** `#$`: last update, NTP seconds. */
  updated: number;
  /** `#@`: expiry, NTP seconds. */
  expires: number;
  /** The line of the `#@`, for messages. */
  expiresLine: number;
  /** In increasing order of `at`. */
  entries: readonly LeapEntry[];
}

export type LeapListResult =
  { ok: true; list: LeapSecondsList } | { ok: false; line: number | null; error: string };

const DECIMAL = /^[0-9]{1,10}$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,8}$/;

/** Parses a leap-seconds.list; never throws. */
export function parseLeapSecondsList(input: Uint8Array | string): LeapListResult {
  const size = typeof input === "string" ? Buffer.byteLength(input) : input.length;
  if (size > MAX_LEAP_FILE_BYTES) {
    return fail(null, `larger than ${MAX_LEAP_FILE_BYTES} bytes`);
  }
  const text = typeof input === "string" ? input : Buffer.from(input).toString("latin1");
  const hashed: string[] = [];
  const entries: LeapEntry[] = [];
  let updated: number | null = null;
  let expires: number | null = null;
  let expiresLine = 0;
  let hash: { hex: string; line: number } | null = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i]!.replace(/\r$/, "");
    if (line.startsWith("#$") || line.startsWith("#@")) {
      const value = line.slice(2).trim();
      if (!DECIMAL.test(value) || Number(value) > MAX_NTP_SECONDS) {
        return fail(n, `${line.slice(0, 2)} must hold one NTP time in seconds`);
      }
      if (line.startsWith("#$")) {
        if (updated !== null) return fail(n, "a second #$ (last update) line");
        updated = Number(value);
      } else {
        if (expires !== null) return fail(n, "a second #@ (expiry) line");
        expires = Number(value);
        expiresLine = n;
      }
      hashed.push(value);
      continue;
    }
    if (line.startsWith("#h")) {
      if (hash !== null) return fail(n, "a second #h (hash) line");
      const groups = line.slice(2).trim().split(/\s+/);
      if (groups.length !== 5 || !groups.every((g) => HEX_GROUP.test(g))) {
        return fail(n, "#h must hold five groups of up to 8 hex digits");
      }
      hash = { hex: groups.map((g) => g.padStart(8, "0").toLowerCase()).join(""), line: n };
      continue;
    }
    if (line.startsWith("#")) continue;
    const data = line.split("#", 1)[0]!.trim();
    if (data === "") continue;
    if (hash !== null) return fail(n, "data after the #h (hash) line");
    const fields = data.split(/\s+/);
    if (fields.length !== 2 || !DECIMAL.test(fields[0]!) || !/^[0-9]{1,4}$/.test(fields[1]!)) {
      return fail(n, "a data line must be: <NTP seconds> <TAI-UTC> [# comment]");
    }
    const entry = { at: Number(fields[0]), taiUtc: Number(fields[1]) };
    const problem = checkEntry(entry, entries[entries.length - 1]);
    if (problem !== null) return fail(n, problem);
    if (entries.length === MAX_LEAP_ENTRIES)
      return fail(n, `more than ${MAX_LEAP_ENTRIES} entries`);
    entries.push(entry);
    hashed.push(fields[0]!, fields[1]!);
  }
  if (updated === null) return fail(null, "no #$ (last update) line");
  if (expires === null) return fail(null, "no #@ (expiry) line");
  if (entries.length === 0) return fail(null, "no leap second entries");
  if (hash === null) return fail(null, "no #h (hash) line: the file cannot be checked");
  const computed = createHash("sha1").update(hashed.join(""), "latin1").digest("hex");
  if (computed !== hash.hex) {
    return fail(
      hash.line,
      `hash mismatch: the file says ${hash.hex}, its data hash to ${computed}`,
    );
  }
  if (expires <= updated) return fail(null, "expires (#@) before its last update (#$)");
  return { ok: true, list: { updated, expires, expiresLine, entries } };
}

function checkEntry(entry: LeapEntry, previous: LeapEntry | undefined): string | null {
  if (entry.at > MAX_NTP_SECONDS) return "time beyond the NTP era";
  if (entry.at % SECONDS_PER_DAY !== 0) return "time is not a UTC midnight";
  if (previous === undefined) {
    if (entry.at !== FIRST_ENTRY_NTP || entry.taiUtc !== 10) {
      return "the first entry must be 2272060800 10 (1 Jan 1972, TAI-UTC 10 s)";
    }
    return null;
  }
  if (entry.at <= previous.at) return "entries are not in increasing order of time";
  if (Math.abs(entry.taiUtc - previous.taiUtc) !== 1) {
    return "TAI-UTC must change by exactly one second from the previous entry";
  }
  return null;
}

function fail(line: number | null, error: string): LeapListResult {
  return { ok: false, line, error };
}

/** Whether the list still speaks for `nowNtpSeconds` (NTP seconds, era 0). */
export function isExpired(list: LeapSecondsList, nowNtpSeconds: number): boolean {
  return nowNtpSeconds >= list.expires;
}

/**
 * The leap second at the end of the UTC day containing `nowNtpSeconds`: 1
 * (insert 23:59:60), 2 (delete 23:59:59) or 0 (none), with the midnight it ends at.
 */
export function leapEndingDay(
  list: LeapSecondsList,
  nowNtpSeconds: number,
): { leap: 0 | 1 | 2; at: number } {
  const at = (Math.floor(nowNtpSeconds / SECONDS_PER_DAY) + 1) * SECONDS_PER_DAY;
  const entries = list.entries;
  for (let i = entries.length - 1; i > 0; i--) {
    const entry = entries[i]!;
    if (entry.at < at) break;
    if (entry.at === at) {
      return { leap: entry.taiUtc > entries[i - 1]!.taiUtc ? 1 : 2, at };
    }
  }
  return { leap: 0, at };
}

/** TAI − UTC at `nowNtpSeconds`, s (the last entry at or before it). */
export function taiUtcAt(list: LeapSecondsList, nowNtpSeconds: number): number {
  let value = list.entries[0]!.taiUtc;
  for (const entry of list.entries) {
    if (entry.at > nowNtpSeconds) break;
    value = entry.taiUtc;
  }
  return value;
}

/** Formats an NTP time in seconds as a UTC date, for messages. */
export function ntpDate(ntpSeconds: number): string {
  return new Date((ntpSeconds - 2_208_988_800) * 1000).toISOString().slice(0, 10);
}
