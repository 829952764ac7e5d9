// An AES-SIV-CMAC key set up once for many messages: the NTS cookie master keys, which
// open and seal a cookie per request for a day or more. On AES-NI its schedules are
// expanded once (ni::KeySchedules); elsewhere, or while tests select OpenSSL, it runs
// as SealComponents/OpenComponents with its bytes.
#pragma once
#include <cstddef>
#include <cstdint>

#include "aes_siv_ni.h"

namespace ntpd::siv {

class PreparedKey {
 public:
  // key_len 32, 48 or 64 (else Valid() is false).
  PreparedKey(const uint8_t* key, size_t key_len);
  ~PreparedKey() { Wipe(); }
  PreparedKey(const PreparedKey&) = delete;
  PreparedKey& operator=(const PreparedKey&) = delete;

  bool Valid() const { return len_ != 0; }
  // Overwrites the key and its schedules; later Seal/Open fail.
  void Wipe();

  // As SealComponents/OpenComponents (aes_siv_components.h) with this key.
  bool Seal(const uint8_t* const* parts, const size_t* lens, size_t n, const uint8_t* pt,
            size_t pt_len, uint8_t* out_tag, uint8_t* out_ct) const;
  bool Open(const uint8_t* const* parts, const size_t* lens, size_t n, const uint8_t* tag,
            const uint8_t* ct, size_t ct_len, uint8_t* out_pt) const;

 private:
  uint8_t bytes_[64] = {};
  size_t len_ = 0;
  ni::KeySchedules* schedules_ = nullptr;
};

}  // namespace ntpd::siv
