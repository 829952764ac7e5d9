// The key file (`[keyset] key-storage-path`) in the ntpd-rs format, so a key
// file written by ntpd-rs loads here and the other way round (ntpd-rs.md §4.7,
// `KeySetProvider::store`/`load`). All integers big-endian:
//
//   offset 0   u64  unix seconds when the file was written
//   offset 8   u32  id offset (key id of the first key)
//   offset 12  u32  primary (index of the key new cookies are sealed with)
//   offset 16  u32  n (number of keys)
//   offset 20  n × 64 octets: the AES-SIV-CMAC-512 keys, oldest first
//
// Parsing is stricter than ntpd-rs (which only checks primary <= n and
// ignores trailing bytes): the length must be exact, n >= 1, primary < n, and
// no key may be all zeros or a copy of another (a fresh random key is neither,
// a zero-filled or spliced file is). Every problem has its own code and a
// message the daemon can log before refusing to overwrite the file.

import { KeySet, MASTER_KEY_LENGTH, DEFAULT_STALE_KEY_COUNT } from "./keyset.js";

/** Octets before the first key. */
export const KEY_FILE_HEADER_LENGTH = 20;

/** Why a key file was rejected; each corruption class has its own code. */
export type KeyFileErrorCode =
  | "empty"
  | "short-header"
  | "time-out-of-range"
  | "no-keys"
  | "truncated"
  | "trailing-data"
  | "primary-out-of-range"
  | "zero-key"
  | "duplicate-key";

export type ParseKeySetResult =
  | { ok: true; keyset: KeySet; storedAt: number }
  | { ok: false; code: KeyFileErrorCode; error: string };

/**
 * The key file bytes of `keyset`, stamped with `nowUnixSeconds` (fractions are
 * dropped). Throws a RangeError for a negative or non-finite time.
 */
export function serializeKeySet(keyset: KeySet, nowUnixSeconds: number): Uint8Array {
  const seconds = Math.floor(nowUnixSeconds);
  if (!Number.isSafeInteger(seconds) || seconds < 0) {
    throw new RangeError(`store time ${nowUnixSeconds} is not a non-negative unix time`);
  }
  const n = keyset.size;
  const out = new Uint8Array(KEY_FILE_HEADER_LENGTH + n * MASTER_KEY_LENGTH);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(seconds));
  view.setUint32(8, keyset.idOffset);
  view.setUint32(12, keyset.primaryIndex);
  view.setUint32(16, n);
  for (let i = 0; i < n; i++) {
    const key = keyset.keyBytes(i);
    out.set(key, KEY_FILE_HEADER_LENGTH + i * MASTER_KEY_LENGTH);
    key.fill(0);
  }
  return out;
}

function fail(code: KeyFileErrorCode, error: string): ParseKeySetResult {
  return { ok: false, code, error };
}

/**
 * Parses a key file. Never throws for any `bytes`; a rejected file comes back
 * with a code and a sentence saying exactly what is wrong with it (a RangeError
 * is thrown only for an invalid `staleKeyCount`, a caller bug). `staleKeyCount` is the
 * history the returned set keeps on its next rotation (a file may hold more
 * keys than that, e.g. after the setting was lowered; the extra ones go at the
 * next rotation, as in ntpd-rs).
 */
export function parseKeySet(
  bytes: Uint8Array,
  staleKeyCount = DEFAULT_STALE_KEY_COUNT,
): ParseKeySetResult {
  if (bytes.length === 0) return fail("empty", "key file is empty");
  if (bytes.length < KEY_FILE_HEADER_LENGTH) {
    return fail(
      "short-header",
      `key file is ${bytes.length} octets, shorter than its ${KEY_FILE_HEADER_LENGTH}-octet header`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const storedAt = view.getBigUint64(0);
  if (storedAt > BigInt(Number.MAX_SAFE_INTEGER)) {
    return fail(
      "time-out-of-range",
      `key file store time ${storedAt} is not a plausible unix time`,
    );
  }
  const idOffset = view.getUint32(8);
  const primary = view.getUint32(12);
  const n = view.getUint32(16);
  if (n === 0) return fail("no-keys", "key file holds no keys (key count 0)");
  const expected = KEY_FILE_HEADER_LENGTH + n * MASTER_KEY_LENGTH;
  if (bytes.length < expected) {
    return fail(
      "truncated",
      `key file is truncated: its header announces ${n} keys (${expected} octets) but it has ${bytes.length} octets`,
    );
  }
  if (bytes.length > expected) {
    return fail(
      "trailing-data",
      `key file has ${bytes.length - expected} octets after the ${n} keys its header announces (${expected} octets expected)`,
    );
  }
  if (primary >= n) {
    return fail(
      "primary-out-of-range",
      `key file primary index ${primary} is not below its key count ${n}`,
    );
  }
  const keys: Uint8Array[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const start = KEY_FILE_HEADER_LENGTH + i * MASTER_KEY_LENGTH;
    const key = bytes.subarray(start, start + MASTER_KEY_LENGTH);
    if (key.every((b) => b === 0)) {
      return fail("zero-key", `key file key ${i} (id ${(idOffset + i) >>> 0}) is all zeros`);
    }
    const hex = Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString("hex");
    const twin = seen.get(hex);
    if (twin !== undefined) {
      return fail("duplicate-key", `key file key ${i} is identical to key ${twin}`);
    }
    seen.set(hex, i);
    keys.push(key);
  }
  const keyset = KeySet.fromParts({ keys, idOffset, primary }, staleKeyCount);
  return { ok: true, keyset, storedAt: Number(storedAt) };
}

/**
 * Seconds until the first rotation of a set loaded from a file stored at
 * `storedAt` (ntpd-rs: `interval − (now − stored)`, saturating at 0; a store
 * time in the future counts as stored now). All values in seconds.
 */
export function nextRotationDelay(storedAt: number, now: number, interval: number): number {
  const elapsed = Math.max(0, now - storedAt);
  return Math.max(0, interval - elapsed);
}
