// See reply_finish.h.
#include "reply_finish.h"

#include <openssl/crypto.h>

#include <cstring>

#include "aes_siv.h"

namespace ntpd {
namespace {

// Word indices of the shared descriptor (src/daemon/native/reply-finish.ts).
enum Word {
  kKind = 0,
  kT3Offset,
  kT2Offset,
  kAead,
  kAdLength,
  kNonceOffset,
  kNonceLength,
  kTextOffset,
  kTextLength,
  kTagOffset,
  kKeyLength,
};

constexpr uint32_t kNtpUnixOffset = 2208988800u;
constexpr size_t kTimestampLength = 8;

bool Within(size_t offset, size_t n, size_t length) { return offset <= length && n <= length - offset; }

// [a, a + an) and [b, b + bn) share no octet.
bool Disjoint(size_t a, size_t an, size_t b, size_t bn) { return a + an <= b || b + bn <= a; }

uint32_t ReadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

void WriteU32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

bool Valid(const ReplyFinish& f, size_t length) {
  if ((f.kind & ~(kFinishStamp | kFinishSeal | kFinishTxStamp)) != 0) return false;
  if ((f.kind & kFinishStamp) != 0 &&
      !(Within(f.t3_offset, kTimestampLength, length) &&
        Within(f.t2_offset, kTimestampLength, length))) {
    return false;
  }
  if ((f.kind & kFinishSeal) == 0) return f.key_length == 0;
  size_t key = f.aead == 15 ? 32 : f.aead == 17 ? 64 : 0;
  return key != 0 && f.key_length == key && Within(0, f.ad_length, length) &&
         Within(f.nonce_offset, f.nonce_length, length) && f.nonce_length > 0 &&
         Within(f.text_offset, f.text_length, length) &&
         Within(f.tag_offset, siv::kTagLength, length) &&
         // Sealing writes text and tag: neither may overlap the AD or each other.
         f.text_offset >= f.ad_length && f.tag_offset >= f.ad_length &&
         Disjoint(f.text_offset, f.text_length, f.tag_offset, siv::kTagLength) &&
         ((f.kind & kFinishStamp) == 0 || f.t3_offset + kTimestampLength <= f.ad_length);
}

}  // namespace

bool TakeReplyFinish(uint8_t* shared, size_t length, ReplyFinish* out) {
  uint16_t w[kReplyFinishWords];
  std::memcpy(w, shared, sizeof w);
  out->kind = w[kKind];
  out->t3_offset = w[kT3Offset];
  out->t2_offset = w[kT2Offset];
  out->aead = w[kAead];
  out->ad_length = w[kAdLength];
  out->nonce_offset = w[kNonceOffset];
  out->nonce_length = w[kNonceLength];
  out->text_offset = w[kTextOffset];
  out->text_length = w[kTextLength];
  out->tag_offset = w[kTagOffset];
  out->key_length = w[kKeyLength];
  bool ok = out->key_length <= kReplyFinishMaxKey;
  if (ok && out->key_length > 0) std::memcpy(out->key, shared + kReplyFinishKeyOffset, out->key_length);
  OPENSSL_cleanse(shared + kReplyFinishKeyOffset, kReplyFinishMaxKey);
  shared[kKind * 2] = 0;
  shared[kKind * 2 + 1] = 0;
  if (ok) ok = Valid(*out, length);
  if (!ok) WipeReplyFinish(out);
  return ok;
}

bool ApplyReplyFinish(uint8_t* reply, ReplyFinish* f, const struct timespec& now) {
  if ((f->kind & kFinishStamp) != 0) {
    uint32_t seconds = static_cast<uint32_t>(now.tv_sec) + kNtpUnixOffset;  // wraps at the era
    uint32_t fraction =
        static_cast<uint32_t>((static_cast<uint64_t>(now.tv_nsec) << 32) / 1000000000u) & ~1u;
    const uint8_t* t2 = reply + f->t2_offset;
    uint32_t t2_seconds = ReadU32(t2);
    uint32_t t2_fraction = ReadU32(t2 + 4);
    int32_t ahead = static_cast<int32_t>(seconds - t2_seconds);
    if (ahead < 0 || (ahead == 0 && fraction < t2_fraction)) {
      seconds = t2_seconds;  // the clock went back since T2: hold T3 at T2
      fraction = t2_fraction;
    }
    WriteU32(reply + f->t3_offset, seconds);
    WriteU32(reply + f->t3_offset + 4, fraction);
  }
  bool ok = true;
  if ((f->kind & kFinishSeal) != 0) {
    uint8_t* text = reply + f->text_offset;
    ok = siv::Seal(f->key, f->key_length, reply, f->ad_length, reply + f->nonce_offset,
                   f->nonce_length, text, f->text_length, reply + f->tag_offset, text);
  }
  WipeReplyFinish(f);
  return ok;
}

void ClearSharedReplyFinish(uint8_t* shared) {
  if (shared != nullptr) OPENSSL_cleanse(shared, kReplyFinishBytes);
}

void WipeReplyFinish(ReplyFinish* f) {
  if (f->key_length > 0) OPENSSL_cleanse(f->key, sizeof f->key);
  f->key_length = 0;
  f->kind = 0;
}

}  // namespace ntpd
