// The NTS server's per-request AEAD work (src/proto/server/nts-crypto.ts) in as few
// addon calls as it can: the cookie and the authenticator in one (ntsOpenRequest), a
// new cookie in another (ntsSealCookie), each with three arguments. The arguments'
// conversions were most of the cost: a call of sivSeal/sivOpen with its twelve cost
// ~170 ns before any AES work, a three-argument call about half of that (issue #8).
//
// The ranges go to the addon in `io`, a scratch array this object owns (layout shared
// with native/aes_siv_binding.cc): 16 native-endian u32 words, then the cookie plaintext
// at COOKIE_OFFSET, then the request's plaintext at PLAINTEXT_OFFSET; the base class
// reads and clears those two as its own buffers. What the addon cannot do (a cookie for
// AES-128-GCM-SIV, a master key that is not a prepared native one) goes the base class's
// way, on the provider's ciphers: same results, byte for byte.

import type { AeadCipher, AeadProvider } from "../../proto/crypto/aead.js";
import { aeadKeyLength } from "../../proto/crypto/registry.js";
import {
  COOKIE_BODY_OFFSET,
  COOKIE_TAG_LENGTH,
  MAX_COOKIE_PLAINTEXT_LENGTH,
  cookieAeadId,
  cookieMasterCipher,
  writeCookieHeader,
} from "../../proto/nts/cookie/cookie.js";
import type { KeySet, RandomFill } from "../../proto/nts/keyset/keyset.js";
import type { AuthenticatorView } from "../../proto/nts/packet/fields.js";
import { MAX_NTP_PACKET_LENGTH } from "../../proto/packet/parse.js";
import {
  AUTHENTICATOR_REJECTED,
  COOKIE_REJECTED,
  NtsRequestCrypto,
} from "../../proto/server/nts-crypto.js";
import type { NativeAddon } from "./types.js";

const WORDS = 16;
const COOKIE_OFFSET = WORDS * 4;
const PLAINTEXT_OFFSET = COOKIE_OFFSET + ((MAX_COOKIE_PLAINTEXT_LENGTH + 3) & ~3);
/** Octets of `io` (kNtsIoBytes). */
export const NTS_IO_BYTES = PLAINTEXT_OFFSET + MAX_NTP_PACKET_LENGTH;

/** Parameter words of `io`. */
const Word = {
  // ntsOpenRequest
  cookieOffset: 0,
  cookieSealedLength: 1,
  sessionKeyLength: 2,
  adLength: 3,
  nonceOffset: 4,
  nonceLength: 5,
  ciphertextOffset: 6,
  ciphertextLength: 7,
  // ntsSealCookie
  newCookieOffset: 8,
  cookiePlaintextLength: 9,
} as const;

export class NativeNtsRequestCrypto extends NtsRequestCrypto {
  private readonly io: Uint8Array;
  private readonly words: Uint32Array;

  /** `preparedKey`: the addon's handle of a master key cipher, or null when it has none. */
  constructor(
    private readonly addon: NativeAddon,
    aead: AeadProvider,
    private readonly preparedKey: (cipher: AeadCipher) => object | null,
  ) {
    const io = new Uint8Array(NTS_IO_BYTES);
    super(
      aead,
      io.subarray(COOKIE_OFFSET, COOKIE_OFFSET + MAX_COOKIE_PLAINTEXT_LENGTH),
      io.subarray(PLAINTEXT_OFFSET, PLAINTEXT_OFFSET + MAX_NTP_PACKET_LENGTH),
    );
    this.io = io;
    this.words = new Uint32Array(io.buffer, io.byteOffset, WORDS);
  }

  override open(
    keySet: KeySet,
    request: Uint8Array,
    cookieOffset: number,
    cookieLength: number,
    view: AuthenticatorView,
  ): number {
    const master = cookieMasterCipher(keySet, request, cookieOffset, cookieLength, this.aead);
    if (master === undefined) return this.reject(COOKIE_REJECTED);
    const handle = this.preparedKey(master);
    const sealedLength = cookieLength - COOKIE_BODY_OFFSET;
    // The sealed length names the session key length (AEAD id ‖ two keys, plus a tag).
    const k = (sealedLength - COOKIE_TAG_LENGTH - 2) >>> 1;
    if (handle === null || (k !== 32 && k !== 64)) {
      return super.open(keySet, request, cookieOffset, cookieLength, view);
    }
    const w = this.words;
    w[Word.cookieOffset] = cookieOffset;
    w[Word.cookieSealedLength] = sealedLength;
    w[Word.sessionKeyLength] = k;
    w[Word.adLength] = view.fieldOffset;
    w[Word.nonceOffset] = view.nonceOffset;
    w[Word.nonceLength] = view.nonceLength;
    w[Word.ciphertextOffset] = view.ciphertextOffset;
    w[Word.ciphertextLength] = view.ciphertextLength;
    const n = this.addon.ntsOpenRequest(handle, request, this.io);
    if (n === COOKIE_REJECTED) return this.reject(COOKIE_REJECTED);
    // Authentic and of the right length; the AEAD it names must have this key length.
    const id = cookieAeadId(this.cookiePlaintext, 2 + 2 * k);
    if (id < 0 || aeadKeyLength(id) !== k) return this.reject(COOKIE_REJECTED);
    this.aeadId = id;
    if (n < 0) return AUTHENTICATOR_REJECTED;
    this.plaintextLength = n;
    return n;
  }

  override sealCookie(
    keySet: KeySet,
    randomFill: RandomFill,
    out: Uint8Array,
    offset: number,
  ): number {
    const handle = this.preparedKey(keySet.primaryCipher(this.aead));
    if (handle === null) return super.sealCookie(keySet, randomFill, out, offset);
    const plaintextLength = this.cookiePlaintextLength();
    const length = writeCookieHeader(keySet, plaintextLength, randomFill, out, offset);
    const w = this.words;
    w[Word.newCookieOffset] = offset;
    w[Word.cookiePlaintextLength] = plaintextLength;
    this.addon.ntsSealCookie(handle, out, this.io);
    return length;
  }
}
