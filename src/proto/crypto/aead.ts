// The AEAD interface NTS uses (RFC 8915 §5.6, RFC 5116): the contract between
// the cipher implementations in this folder and their users (cookies, the NTS
// extension fields, the key set).

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
}
