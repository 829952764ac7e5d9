// AES-SIV-CMAC on the CPU's AES instructions (x86-64 AES-NI), for aes_siv.cc to
// dispatch to. Same contract as SealComponents/OpenComponents (aes_siv_components.h),
// for key lengths 32 and 64 only (AES-128 and AES-256 halves; AES-192, the unused
// AEAD 16, stays on OpenSSL).
#pragma once
#include <cstddef>
#include <cstdint>

namespace ntpd::siv::ni {

// True when this build has the AES-NI code and the CPU has AES-NI and SSE4.1.
// Decided once per process.
bool Supported();

// As siv::SealComponents / OpenComponents. Callers check Supported() first and pass
// key_len 32 or 64 and n <= kMaxComponents; anything else returns false.
bool SealComponents(const uint8_t* key, size_t key_len, const uint8_t* const* parts,
                    const size_t* lens, size_t n, const uint8_t* pt, size_t pt_len,
                    uint8_t* out_tag, uint8_t* out_ct);
bool OpenComponents(const uint8_t* key, size_t key_len, const uint8_t* const* parts,
                    const size_t* lens, size_t n, const uint8_t* tag, const uint8_t* ct,
                    size_t ct_len, uint8_t* out_pt);

// A key expanded once for many messages (both AES schedules and the CMAC subkeys), for
// long-lived keys. Heap memory, wiped by DeleteKeySchedules. Null when !Supported() or
// the key length is not 32 or 64.
struct KeySchedules;
KeySchedules* NewKeySchedules(const uint8_t* key, size_t key_len);
void DeleteKeySchedules(KeySchedules* schedules);

// As above with the prepared key.
bool SealComponents(const KeySchedules& key, const uint8_t* const* parts, const size_t* lens,
                    size_t n, const uint8_t* pt, size_t pt_len, uint8_t* out_tag,
                    uint8_t* out_ct);
bool OpenComponents(const KeySchedules& key, const uint8_t* const* parts, const size_t* lens,
                    size_t n, const uint8_t* tag, const uint8_t* ct, size_t ct_len,
                    uint8_t* out_pt);

}  // namespace ntpd::siv::ni
