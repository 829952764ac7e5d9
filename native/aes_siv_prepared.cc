// See aes_siv_prepared.h.
#include "aes_siv_prepared.h"

#include <openssl/crypto.h>

#include <cstring>

#include "aes_siv_components.h"

namespace ntpd::siv {

PreparedKey::PreparedKey(const uint8_t* key, size_t key_len) {
  if (key_len != 32 && key_len != 48 && key_len != 64) return;
  std::memcpy(bytes_, key, key_len);
  len_ = key_len;
  schedules_ = ni::NewKeySchedules(key, key_len);  // null without AES-NI, or for 48
}

void PreparedKey::Wipe() {
  ni::DeleteKeySchedules(schedules_);
  schedules_ = nullptr;
  OPENSSL_cleanse(bytes_, sizeof bytes_);
  len_ = 0;
}

bool PreparedKey::Seal(const uint8_t* const* parts, const size_t* lens, size_t n,
                       const uint8_t* pt, size_t pt_len, uint8_t* out_tag,
                       uint8_t* out_ct) const {
  if (schedules_ != nullptr && CurrentImplementation() == Implementation::kAesNi) {
    return ni::SealComponents(*schedules_, parts, lens, n, pt, pt_len, out_tag, out_ct);
  }
  return len_ != 0 &&
         SealComponents(bytes_, len_, parts, lens, n, pt, pt_len, out_tag, out_ct);
}

bool PreparedKey::Open(const uint8_t* const* parts, const size_t* lens, size_t n,
                       const uint8_t* tag, const uint8_t* ct, size_t ct_len,
                       uint8_t* out_pt) const {
  if (schedules_ != nullptr && CurrentImplementation() == Implementation::kAesNi) {
    return ni::OpenComponents(*schedules_, parts, lens, n, tag, ct, ct_len, out_pt);
  }
  if (len_ == 0) {
    if (ct_len > 0) OPENSSL_cleanse(out_pt, ct_len);
    return false;
  }
  return OpenComponents(bytes_, len_, parts, lens, n, tag, ct, ct_len, out_pt);
}

}  // namespace ntpd::siv
