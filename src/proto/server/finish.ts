// The last step of a reply, the only one that depends on T3 (issue #8).
//
// The server core (server.ts, nts.ts) does everything else first: policy,
// parsing, the cookie and authenticator checks, the new cookies, the whole
// reply laid out in `out` (header with T2, UID echo, authenticator field with
// its nonce, the plaintext already where the ciphertext goes). What is left is
// described by a ReplyFinish:
//
//   STAMP: write T3 at offset 40 (time replies; kiss-o'-death replies carry
//          no T3), never earlier than the T2 the reply carries at offset 32
//          (the clock may have been stepped back in between);
//   SEAL:  then seal the authenticator in place with the S2C key: associated
//          data out[0, adLength), the nonce in the packet, the plaintext
//          replaced by the ciphertext, the tag written beside it (NTS time
//          replies and NTS-signed DENYs).
//
// finishReply() does that in TypeScript; the sim, the dgram fallback and the
// tests call it right after handle(), with T3 read just before. The native
// socket does the same at the wire, right before its sendmmsg, from a copy of
// the description (src/daemon/native/reply-finish.ts, native/reply_finish.cc).
// The ReplyFinish is a reused mutable object: valid until the next handle().

import { AeadId, type RekeyableAeadCipher } from "../crypto/aead.js";
import { readU32, writeU32 } from "../packet/header.js";
import type { NtpTimestamp } from "../time.js";
import { SERVER_RECEIVE_MARK } from "./interleave.js";

/** Bits of ReplyFinish.kind. */
export const FinishStep = {
  /** Write T3 (not before the reply's T2) at TRANSMIT_OFFSET. */
  Stamp: 1,
  /** Seal the NTS authenticator (after the stamp: T3 is associated data). */
  Seal: 2,
  /**
   * Have the kernel timestamp the reply as it leaves and hand the time to the
   * core (NtpServerCore.saveTransmitTimestamp): the T3 of an interleaved reply
   * to come (interleave.ts). Nothing to do for finishReply.
   */
  TxStamp: 4,
} as const;

/** Offset of the transmit timestamp (T3) in an NTP header. */
export const TRANSMIT_OFFSET = 40;
/** Offset of the receive timestamp (T2): T3 is never written below it. */
export const RECEIVE_OFFSET = 32;
/** Longest key a finish carries (AES-SIV-CMAC-512). */
export const MAX_FINISH_KEY_LENGTH = 64;

/** How to finish the reply handle() laid out; all offsets are into the reply. */
export class ReplyFinish {
  /** FinishStep bits; 0: the reply is complete as it is. */
  kind = 0;
  /** The S2C cipher (SEAL), keyed with `key` only while the finish seals. */
  cipher: RekeyableAeadCipher | null = null;
  /** The S2C key bytes, key[0, keyLength) (SEAL). */
  readonly key = new Uint8Array(MAX_FINISH_KEY_LENGTH);
  keyLength = 0;
  /** The associated data is reply[0, adLength): everything before the authenticator field. */
  adLength = 0;
  nonceOffset = 0;
  nonceLength = 0;
  /** Where the plaintext is and the ciphertext goes (same length). */
  textOffset = 0;
  textLength = 0;
  /** Where the 16-octet tag goes: before the text (SIV) or after it (GCM-SIV). */
  tagOffset = 0;

  /** Nothing to do; any key bytes are overwritten. */
  clear(): void {
    this.kind = 0;
    this.cipher = null;
    if (this.keyLength !== 0) {
      const key = this.key;
      for (let i = 0; i < key.length; i++) key[i] = 0; // per reply: a loop is cheaper than fill()
      this.keyLength = 0;
    }
  }
}

/**
 * Whether AEAD `id` puts its tag before the ciphertext: AES-SIV's synthetic IV
 * leads (RFC 5297, V ‖ C); AES-GCM-SIV's tag trails (RFC 8452, C ‖ tag).
 */
export function tagPrecedesText(id: AeadId): boolean {
  return id !== AeadId.AES_128_GCM_SIV;
}

/**
 * Finishes `out` as `finish` says, T3 being `t3` (raised to the reply's T2 if
 * it is earlier), then clears `finish` (the key bytes are overwritten). Does
 * nothing for a finish of kind 0. Allocates nothing with the native ciphers.
 */
export function finishReply(out: Uint8Array, finish: ReplyFinish, t3: NtpTimestamp): void {
  const kind = finish.kind;
  if ((kind & FinishStep.Stamp) !== 0) stampTransmit(out, t3.seconds >>> 0, t3.fraction >>> 0);
  if ((kind & FinishStep.Seal) !== 0) {
    const cipher = finish.cipher!;
    const text = finish.textOffset;
    cipher.setKey(finish.key, 0);
    // The output is tag ‖ ciphertext (SIV) or ciphertext ‖ tag (GCM-SIV):
    // either way one block starting at the lower of the two offsets, over
    // the plaintext in place.
    cipher.sealInto(
      out,
      finish.nonceOffset,
      finish.nonceLength,
      out,
      0,
      finish.adLength,
      out,
      text,
      finish.textLength,
      out,
      Math.min(text, finish.tagOffset),
    );
    cipher.clearKey();
  }
  finish.clear();
}

/**
 * Writes T3 at TRANSMIT_OFFSET, its lowest bit cleared, or the reply's T2 when T3 is
 * before it (wrapping compare).
 */
function stampTransmit(out: Uint8Array, seconds: number, fraction: number): void {
  // The lowest bit clear: our T3s are told from our T2s (interleave.ts).
  fraction = (fraction & ~SERVER_RECEIVE_MARK) >>> 0;
  const t2Seconds = readU32(out, RECEIVE_OFFSET);
  const t2Fraction = readU32(out, RECEIVE_OFFSET + 4);
  const ahead = (seconds - t2Seconds) | 0;
  if (ahead < 0 || (ahead === 0 && fraction < t2Fraction)) {
    seconds = t2Seconds;
    fraction = t2Fraction;
  }
  writeU32(out, TRANSMIT_OFFSET, seconds);
  writeU32(out, TRANSMIT_OFFSET + 4, fraction);
}
