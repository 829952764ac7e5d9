// RFC 5297 SIV with any list of associated-data components (aes_siv.h's Seal/Open are
// the NTS case: [associated data, nonce]). For the addon's JS binding and the RFC 5297
// test vectors, which have several components.
#pragma once
#include <cstddef>
#include <cstdint>

namespace ntpd::siv {

// RFC 5297 §7: at most 126 associated-data components.
constexpr size_t kMaxComponents = 126;

// As Seal/Open in aes_siv.h with parts[0, n) as the S2V components before the
// plaintext (0 <= n <= kMaxComponents, else false). A component pointer may be null only
// when its length is 0.
bool SealComponents(const uint8_t* key, size_t key_len, const uint8_t* const* parts,
                    const size_t* lens, size_t n, const uint8_t* pt, size_t pt_len,
                    uint8_t* out_tag, uint8_t* out_ct);
bool OpenComponents(const uint8_t* key, size_t key_len, const uint8_t* const* parts,
                    const size_t* lens, size_t n, const uint8_t* tag, const uint8_t* ct,
                    size_t ct_len, uint8_t* out_pt);

}  // namespace ntpd::siv
