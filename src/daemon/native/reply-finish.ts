// The finish of a server reply, described for the addon's socket (native/reply_finish.h
// is the other side of this layout). In reply mode the handler lays the reply out but
// for T3 (and the NTS seal over it), writes this description next to it and returns
// the length; the addon copies both into its send queue, reads CLOCK_REALTIME, stamps
// T3 and seals right before the sendmmsg, and overwrites the key bytes here at once
// and in its queue once used (issue #8).
//
// Layout of the REPLY_FINISH_BYTES shared buffer: 16 native-endian u16 words (the
// Word indices below; unused words are 0), then the S2C key at KEY_OFFSET.

import { AeadId } from "../../proto/crypto/aead.js";
import {
  FinishStep,
  MAX_FINISH_KEY_LENGTH,
  RECEIVE_OFFSET,
  TRANSMIT_OFFSET,
  type ReplyFinish,
} from "../../proto/server/finish.js";

const WORDS = 16;
const KEY_OFFSET = WORDS * 2;
/** Size of the buffer given to onRequest as `finish` (kReplyFinishBytes). */
export const REPLY_FINISH_BYTES = KEY_OFFSET + MAX_FINISH_KEY_LENGTH;

const Word = {
  kind: 0,
  t3Offset: 1,
  t2Offset: 2,
  aead: 3,
  adLength: 4,
  nonceOffset: 5,
  nonceLength: 6,
  textOffset: 7,
  textLength: 8,
  tagOffset: 9,
  keyLength: 10,
} as const;

/** The AEADs the addon seals (native/aes_siv.h): AES-SIV-CMAC-256 and -512. */
function sealsNatively(id: AeadId): boolean {
  return id === AeadId.AES_SIV_CMAC_256 || id === AeadId.AES_SIV_CMAC_512;
}

/** The shared buffer, and the handler's side of filling it. */
export class NativeReplyFinish {
  readonly bytes = new Uint8Array(REPLY_FINISH_BYTES);
  private readonly words = new Uint16Array(this.bytes.buffer, 0, WORDS);

  /**
   * Describes `finish` for the addon and clears it (its key bytes are overwritten);
   * true when the addon is to do it. False, with an empty description, when it cannot
   * (a seal with an AEAD it lacks: AES-128-GCM-SIV): `finish` is then left to the
   * caller's finishReply.
   */
  take(finish: ReplyFinish): boolean {
    const w = this.words;
    const kind = finish.kind;
    if ((kind & FinishStep.Seal) !== 0 && !sealsNatively(finish.cipher!.id)) {
      w[Word.kind] = 0;
      return false;
    }
    w[Word.kind] = kind;
    w[Word.t3Offset] = TRANSMIT_OFFSET;
    w[Word.t2Offset] = RECEIVE_OFFSET;
    if ((kind & FinishStep.Seal) !== 0) {
      w[Word.aead] = finish.cipher!.id;
      w[Word.adLength] = finish.adLength;
      w[Word.nonceOffset] = finish.nonceOffset;
      w[Word.nonceLength] = finish.nonceLength;
      w[Word.textOffset] = finish.textOffset;
      w[Word.textLength] = finish.textLength;
      w[Word.tagOffset] = finish.tagOffset;
      w[Word.keyLength] = finish.keyLength;
      const bytes = this.bytes;
      const key = finish.key;
      for (let i = 0; i < finish.keyLength; i++) bytes[KEY_OFFSET + i] = key[i]!; // no view
    } else {
      w[Word.keyLength] = 0;
    }
    finish.clear();
    return true;
  }
}
