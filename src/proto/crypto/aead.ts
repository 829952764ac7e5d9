// The AEAD interface NTS uses (RFC 8915 §5.6, RFC 5116): the contract between
// the cipher implementations (the TypeScript ones in this folder, the native
// addon's that the daemon injects) and their users (cookies, the NTS extension
// fields, the key set, the server's request handler).
//
// Two ways to call a cipher: seal/open take and return whole arrays (simple,
// allocating); sealInto/openInto take (array, offset, length) ranges and write
// into a caller's buffer, so a hot path can run without allocating (the native
// ciphers then allocate nothing at all; the TypeScript ones still do inside).

/** IANA AEAD algorithm ids used by NTS. */
export const AeadId = {
  AES_SIV_CMAC_256: 15,
  AES_SIV_CMAC_384: 16,
  AES_SIV_CMAC_512: 17,
  AES_128_GCM_SIV: 30,
} as const;
export type AeadId = (typeof AeadId)[keyof typeof AeadId];

/**
 * A cipher bound to one key. Objects are meant to be kept per long-lived key
 * (cookie master keys, session keys) so per-key setup is paid once.
 */
export interface AeadCipher {
  readonly id: AeadId;
  /** Bytes of key material this algorithm takes (32 for id 15, 64 for id 17, 16 for id 30). */
  readonly keyLength: number;
  /** Nonce length this implementation generates and expects (16 for SIV, 12 for GCM-SIV). */
  readonly nonceLength: number;
  /** Tag length prepended/appended by seal (16 for all NTS AEADs). */
  readonly tagLength: number;
  /**
   * Encrypts `plaintext` authenticating `associatedData` under `nonce`.
   * Returns the ciphertext as NTS carries it (for SIV: tag ‖ ciphertext).
   */
  seal(nonce: Uint8Array, associatedData: Uint8Array, plaintext: Uint8Array): Uint8Array;
  /**
   * The inverse of seal; null when authentication fails (compare in constant
   * time). Never throws for malformed input.
   */
  open(nonce: Uint8Array, associatedData: Uint8Array, ciphertext: Uint8Array): Uint8Array | null;
  /**
   * seal() over ranges: writes what seal returns for nonce[nonceOffset, +nonceLength),
   * ad[adOffset, +adLength) and pt[ptOffset, +ptLength) to out[outOffset, ...) and
   * returns its length (ptLength + tagLength). Sealing in place is allowed when the
   * ciphertext lands exactly where the plaintext was (for SIV: out === pt,
   * ptOffset === outOffset + 16); no other overlap. Throws as seal does.
   */
  sealInto(
    nonce: Uint8Array,
    nonceOffset: number,
    nonceLength: number,
    ad: Uint8Array,
    adOffset: number,
    adLength: number,
    pt: Uint8Array,
    ptOffset: number,
    ptLength: number,
    out: Uint8Array,
    outOffset: number,
  ): number;
  /**
   * open() over ranges: writes the plaintext of ct[ctOffset, +ctLength) to
   * out[outOffset, ...) and returns its length, or -1 when it does not authenticate
   * (the output range may then have been overwritten). In place as for sealInto.
   * Never throws for malformed input; a too small `out` is a caller bug (RangeError).
   */
  openInto(
    nonce: Uint8Array,
    nonceOffset: number,
    nonceLength: number,
    ad: Uint8Array,
    adOffset: number,
    adLength: number,
    ct: Uint8Array,
    ctOffset: number,
    ctLength: number,
    out: Uint8Array,
    outOffset: number,
  ): number;
  /**
   * Optional: overwrites the key state this cipher holds outside the JS heap, now
   * (the key set calls it when a master key is dropped); the cipher is unusable
   * afterwards. Without it the state goes with the object.
   */
  dispose?(): void;
}

/**
 * A cipher whose key is replaced in place: the server's per-request session
 * ciphers (the keys come out of each request's cookie), so that a request does
 * not create cipher objects.
 */
export interface RekeyableAeadCipher extends AeadCipher {
  /** Takes key[offset, +keyLength) (copied). */
  setKey(key: Uint8Array, offset: number): void;
  /** Overwrites the key copy (and any key state) with zeros. */
  clearKey(): void;
}

/**
 * Where ciphers come from: the TypeScript implementations by default
 * (registry.ts `TS_AEAD`), the native addon's when the daemon has it. The
 * sans-IO code takes one as an option and never imports the addon.
 */
export interface AeadProvider {
  /** A short name for logs and tests ("typescript", "native"). */
  readonly name: string;
  /**
   * A cipher for AEAD `id` bound to a copy of `key`, for long-lived keys.
   * @throws RangeError for an unsupported id or a key of the wrong length.
   */
  create(id: AeadId, key: Uint8Array): AeadCipher;
  /**
   * A new rekeyable cipher for AEAD `id`, without a key until setKey.
   * @throws RangeError for an unsupported id.
   */
  rekeyable(id: AeadId): RekeyableAeadCipher;
}
