// native/aes_siv.h — the contract between the nts-crypto helper (who implements it, in
// native/aes_siv.cc) and the t3-wire helper (who calls Seal from the UDP socket's flush).
// Do not change these signatures without telling the lead.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ntpd::siv {

// AES-SIV-CMAC (RFC 5297) as NTS uses it (RFC 8915 §5.6; ntpd-rs): S2V over the
// components [associated data, nonce], then the plaintext. key_len is 32 (AEAD 15,
// AES-SIV-CMAC-256) or 64 (AEAD 17, AES-SIV-CMAC-512). The tag is 16 octets.
// Thread-safe (worker threads each use their own contexts: thread_local).
constexpr size_t kTagLength = 16;

// Tag to out_tag[0, 16), ciphertext to out_ct[0, pt_len); out_ct may equal pt (in place).
// False only on a bad key length or an OpenSSL failure (outputs then unspecified).
bool Seal(const uint8_t* key, size_t key_len, const uint8_t* ad, size_t ad_len,
          const uint8_t* nonce, size_t nonce_len, const uint8_t* pt, size_t pt_len,
          uint8_t* out_tag, uint8_t* out_ct);

// Verifies tag over ct and writes the plaintext to out_pt[0, ct_len) (may equal ct).
// False on authentication failure (out_pt then zeroed), a bad key length or an OpenSSL failure.
bool Open(const uint8_t* key, size_t key_len, const uint8_t* ad, size_t ad_len,
          const uint8_t* nonce, size_t nonce_len, const uint8_t* tag, const uint8_t* ct,
          size_t ct_len, uint8_t* out_pt);

}  // namespace ntpd::siv
