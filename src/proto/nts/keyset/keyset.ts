// The NTS cookie master keys of a server (RFC 8915 §6, NTS.md §7.2; ntpd-rs
// `KeySet`/`KeySetProvider`, ntpd-rs.md §4.7).
//
// A key set is an ordered list of 64-octet AES-SIV-CMAC-512 keys. The key at
// index i has the public key id `(i + idOffset) mod 2^32`; that id is the first
// field of every cookie sealed with it. One key is the primary: new cookies are
// sealed with it. `rotate` keeps the newest `staleKeyCount` keys, appends a
// fresh random key as the new primary and advances `idOffset` by the number of
// keys dropped, so ids stay stable across rotations (with the default 7, eight
// keys are valid at any time and a cookie lives 7–8 rotation intervals).
//
// A set may also hold the key that becomes primary at the next rotation, after
// the primary (`publishNext`): a daemon that stores its set for others to
// follow (docs/nts-fleet.md) publishes every key one rotation interval before
// it seals its first cookie, so a follower that reloads the file within that
// interval knows every key before a client can present a cookie made with it.
//
// The set is mutable on purpose: the daemon has one, rotates it on a timer and
// every server reads the current keys from the same object. The AEAD object of
// each key is created on first use and kept until the key is dropped.

import { AeadId, type AeadCipher, type AeadProvider } from "../../crypto/aead.js";
import { TS_AEAD } from "../../crypto/registry.js";

/** Cryptographic randomness: exactly `n` fresh octets. */
export type RandomBytes = (n: number) => Uint8Array;

/** Fills `out[offset, +length)` with random octets: the allocation-free form of RandomBytes. */
export type RandomFill = (out: Uint8Array, offset: number, length: number) => void;

/** A RandomFill drawing from `random` (copies what it returns). */
export function fillFrom(random: RandomBytes): RandomFill {
  return (out, offset, length) => {
    const bytes = random(length);
    if (bytes.length !== length) {
      throw new RangeError(`random source returned ${bytes.length} octets, ${length} requested`);
    }
    out.set(bytes, offset);
  };
}

/** Octets of every master key. */
export const MASTER_KEY_LENGTH = 64;
/** The AEAD every master key is used with. */
export const MASTER_KEY_AEAD = AeadId.AES_SIV_CMAC_512;
/** ntpd-rs `[keyset] stale-key-count` default. */
export const DEFAULT_STALE_KEY_COUNT = 7;

/** The raw state of a key set, as stored on disk. */
export interface KeySetParts {
  /** Keys, oldest first; each MASTER_KEY_LENGTH octets. At least one. */
  readonly keys: readonly Uint8Array[];
  /** Key id of keys[0] (u32). */
  readonly idOffset: number;
  /** Index into keys of the key new cookies are sealed with. */
  readonly primary: number;
}

interface MasterKey {
  readonly bytes: Uint8Array;
  /** Made on first use, by `provider`; remade when asked for by another provider. */
  cipher: AeadCipher | null;
  provider: AeadProvider | null;
}

function isU32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

function freshKey(random: RandomBytes): Uint8Array {
  const bytes = random(MASTER_KEY_LENGTH);
  if (bytes.length !== MASTER_KEY_LENGTH) {
    throw new RangeError(
      `random source returned ${bytes.length} octets, ${MASTER_KEY_LENGTH} requested`,
    );
  }
  return Uint8Array.from(bytes);
}

export class KeySet {
  /** Older keys kept after a rotation (ntpd-rs `stale-key-count`). */
  readonly staleKeyCount: number;
  #keys: MasterKey[];
  #idOffset: number;
  #primary: number;

  private constructor(keys: MasterKey[], idOffset: number, primary: number, stale: number) {
    this.#keys = keys;
    this.#idOffset = idOffset;
    this.#primary = primary;
    this.staleKeyCount = stale;
  }

  /** A new set holding one random key with id 0 (ntpd-rs `KeySetProvider::new`). */
  static generate(random: RandomBytes, staleKeyCount = DEFAULT_STALE_KEY_COUNT): KeySet {
    checkStaleKeyCount(staleKeyCount);
    return new KeySet(
      [{ bytes: freshKey(random), cipher: null, provider: null }],
      0,
      0,
      staleKeyCount,
    );
  }

  /**
   * A set from explicit parts (the key file, tests). The key bytes are copied.
   * Throws a RangeError when the parts are inconsistent: this is for values
   * the caller controls; bytes from a file go through `parseKeySet`, which
   * reports problems as values.
   */
  static fromParts(parts: KeySetParts, staleKeyCount = DEFAULT_STALE_KEY_COUNT): KeySet {
    checkStaleKeyCount(staleKeyCount);
    if (parts.keys.length === 0) throw new RangeError("a key set needs at least one key");
    if (parts.keys.length > 0x100000000) throw new RangeError("more keys than u32 key ids");
    if (!isU32(parts.idOffset)) throw new RangeError(`id offset ${parts.idOffset} is not a u32`);
    if (!Number.isInteger(parts.primary) || parts.primary < 0) {
      throw new RangeError(`primary index ${parts.primary} is not a non-negative integer`);
    }
    if (parts.primary >= parts.keys.length) {
      throw new RangeError(`primary index ${parts.primary} not below ${parts.keys.length} keys`);
    }
    const keys = parts.keys.map((k, i): MasterKey => {
      if (k.length !== MASTER_KEY_LENGTH) {
        throw new RangeError(`key ${i} has ${k.length} octets, not ${MASTER_KEY_LENGTH}`);
      }
      return { bytes: Uint8Array.from(k), cipher: null, provider: null };
    });
    return new KeySet(keys, parts.idOffset, parts.primary, staleKeyCount);
  }

  /** Number of valid keys (the primary and the stale ones). */
  get size(): number {
    return this.#keys.length;
  }

  /** Key id of the oldest key. */
  get idOffset(): number {
    return this.#idOffset;
  }

  /** Index of the primary key in the set, oldest first. */
  get primaryIndex(): number {
    return this.#primary;
  }

  /** Key id of the primary key: the id of new cookies. */
  get primaryId(): number {
    return (this.#primary + this.#idOffset) >>> 0;
  }

  /** Ids of all valid keys, oldest first. */
  ids(): number[] {
    return this.#keys.map((_, i) => (i + this.#idOffset) >>> 0);
  }

  /**
   * The cipher of the primary key (seals new cookies), made by `provider`
   * (default: the TypeScript ciphers) and kept with the key.
   */
  primaryCipher(provider: AeadProvider = TS_AEAD): AeadCipher {
    // The constructor and rotate keep primary < keys.length.
    return this.#cipherAt(this.#primary, provider)!;
  }

  /** The cipher of the key with this id, or undefined when no valid key has it. */
  cipherForId(id: number, provider: AeadProvider = TS_AEAD): AeadCipher | undefined {
    if (!isU32(id)) return undefined;
    return this.#cipherAt((id - this.#idOffset) >>> 0, provider);
  }

  /** A copy of the key at `index` (oldest first), for storage. */
  keyBytes(index: number): Uint8Array {
    const key = this.#keys[index];
    if (key === undefined) throw new RangeError(`no key at index ${index}`);
    return Uint8Array.from(key.bytes);
  }

  /** Whether the key that becomes primary at the next rotation is already in the set. */
  get hasNext(): boolean {
    return this.#primary < this.#keys.length - 1;
  }

  /**
   * Adds a fresh random key after the primary, unless one is there: the key
   * the next rotation makes primary, known (and stored) one interval early.
   */
  publishNext(random: RandomBytes): void {
    if (this.hasNext) return;
    this.#keys.push({ bytes: freshKey(random), cipher: null, provider: null });
  }

  /**
   * Makes the next key the primary (the published one, or a fresh random key
   * when none was published) and forgets all but the newest `staleKeyCount`
   * keys before it (ntpd-rs `KeySetProvider::rotate`). The bytes of forgotten
   * keys are overwritten with zeros (best effort: a JS engine may hold other
   * copies; the ciphers' own key state is wiped by their dispose()).
   */
  rotate(random: RandomBytes): void {
    if (this.hasNext) {
      this.#primary += 1;
    } else {
      this.#keys.push({ bytes: freshKey(random), cipher: null, provider: null });
      this.#primary = this.#keys.length - 1;
    }
    const dropped = Math.max(0, this.#primary - this.staleKeyCount);
    for (const key of this.#keys.slice(0, dropped)) wipe(key);
    this.#keys = this.#keys.slice(dropped);
    this.#idOffset = (this.#idOffset + dropped) >>> 0;
    this.#primary -= dropped;
  }

  /** Wipes every key: for a set that is being replaced by another (a follower's reload). */
  dispose(): void {
    for (const key of this.#keys) wipe(key);
  }

  #cipherAt(index: number, provider: AeadProvider): AeadCipher | undefined {
    const key = this.#keys[index];
    if (key === undefined) return undefined;
    if (key.cipher === null || key.provider !== provider) {
      key.cipher?.dispose?.();
      key.cipher = provider.create(MASTER_KEY_AEAD, key.bytes);
      key.provider = provider;
    }
    return key.cipher;
  }
}

function wipe(key: MasterKey): void {
  key.bytes.fill(0);
  key.cipher?.dispose?.();
  key.cipher = null;
  key.provider = null;
}

function checkStaleKeyCount(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`stale key count ${n} is not a non-negative integer`);
  }
}
