// AES-SIV-CMAC (RFC 5297) for NTS, on the OpenSSL 3 that Node exports (see aes_siv.h).
//
// Why not OpenSSL's own "AES-128-SIV"/"AES-256-SIV": its key setup re-creates a CMAC
// context (a MAC fetch, a cipher fetch by name) on every EVP_CipherInit and duplicates
// that context for every S2V component, which is most of an NTS request's budget; and in
// OpenSSL 3.0 an empty plaintext never reaches the tag computation (the provider drops
// zero-length updates), so sealing an empty plaintext fails. NTS needs both: a new key per
// message (cookie keys, session keys) and empty plaintexts (DENY replies, clients that
// send an authenticator with no encrypted fields). So S2V and CTR are built here on two
// plain EVP AES contexts per thread:
//
//   CMAC (RFC 4493) runs on an AES-CBC context keyed with K1, padding off: one
//   EVP_EncryptUpdate per S2V component over a copy of the component whose last block
//   already carries the CMAC subkey. The context's CBC chaining value is never reset:
//   we know it (it is the last output block), so the first block of the next message is
//   XORed with it, which cancels it (E(chain ^ chain ^ M1) = E(M1)).
//   CTR runs on an AES-CTR context keyed with K2 and Q = V with bits 31 and 63 cleared;
//   OpenSSL's 128-bit big-endian counter increment is RFC 5297's.
//
// Per message that is about 2 + (components + 2) + 2 EVP calls and two AES key
// schedules, no allocation once the per-thread scratch has grown to the largest message
// seen. Everything secret the scratch held is wiped before returning.

#include "aes_siv.h"
#include "aes_siv_components.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <climits>
#include <cstring>
#include <vector>

namespace ntpd::siv {
namespace {

constexpr size_t kBlock = 16;

// Fetched once per process (EVP_CIPHER objects are shared between threads) and kept for
// its lifetime: freeing them at exit could race OpenSSL's own clean-up.
struct Ciphers {
  const EVP_CIPHER* cbc[3];  // AES-128, -192, -256 (index: half key length / 8 - 2)
  const EVP_CIPHER* ctr[3];
};

const Ciphers* FetchCiphers() {
  static const Ciphers* ciphers = [] {
    auto* c = new Ciphers();
    static const char* const kCbc[3] = {"AES-128-CBC", "AES-192-CBC", "AES-256-CBC"};
    static const char* const kCtr[3] = {"AES-128-CTR", "AES-192-CTR", "AES-256-CTR"};
    for (int i = 0; i < 3; i++) {
      c->cbc[i] = EVP_CIPHER_fetch(nullptr, kCbc[i], nullptr);
      c->ctr[i] = EVP_CIPHER_fetch(nullptr, kCtr[i], nullptr);
    }
    return c;
  }();
  return ciphers;
}

// Index into Ciphers for a full SIV key length, or -1.
int CipherIndex(size_t key_len) {
  switch (key_len) {
    case 32:
      return 0;
    case 48:
      return 1;
    case 64:
      return 2;
    default:
      return -1;
  }
}

// dbl() of RFC 5297 §2.3 (the GF(2^128) doubling CMAC also uses), in place.
void Dbl(uint8_t* v) {
  const uint8_t carry = v[0] >> 7;
  for (size_t i = 0; i < kBlock - 1; i++) v[i] = static_cast<uint8_t>((v[i] << 1) | (v[i + 1] >> 7));
  v[kBlock - 1] = static_cast<uint8_t>((v[kBlock - 1] << 1) ^ (carry ? 0x87 : 0));
}

void XorInto(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] ^= src[i];
}

// The per-thread contexts and scratch. Worker threads each get their own.
class ThreadState {
 public:
  ThreadState() : mac_(EVP_CIPHER_CTX_new()), ctr_(EVP_CIPHER_CTX_new()) {}
  ~ThreadState() {
    EVP_CIPHER_CTX_free(mac_);
    EVP_CIPHER_CTX_free(ctr_);
    if (!scratch_.empty()) OPENSSL_cleanse(scratch_.data(), scratch_.size());
  }
  ThreadState(const ThreadState&) = delete;
  ThreadState& operator=(const ThreadState&) = delete;

  // Keys both contexts (K1 = key[0, half), K2 = key[half, key_len)) and derives the CMAC
  // subkeys. False on a bad key length or an OpenSSL failure.
  bool SetKey(const uint8_t* key, size_t key_len) {
    const int index = CipherIndex(key_len);
    if (index < 0 || mac_ == nullptr || ctr_ == nullptr) return false;
    const Ciphers* ciphers = FetchCiphers();
    const EVP_CIPHER* cbc = ciphers->cbc[index];
    const EVP_CIPHER* ctr = ciphers->ctr[index];
    if (cbc == nullptr || ctr == nullptr) return false;
    const size_t half = key_len / 2;
    static const uint8_t kZero[kBlock] = {};
    if (EVP_EncryptInit_ex(mac_, cbc, nullptr, key, kZero) != 1 ||
        EVP_CIPHER_CTX_set_padding(mac_, 0) != 1 ||
        EVP_EncryptInit_ex(ctr_, ctr, nullptr, key + half, kZero) != 1) {
      return false;
    }
    std::memset(chain_, 0, kBlock);
    // L = AES(K1, 0); subkeys K1' = dbl(L), K2' = dbl(K1') (RFC 4493 §2.3).
    uint8_t l[kBlock] = {};
    if (!EncryptBlocks(l, kBlock)) return false;
    std::memcpy(sub1_, l, kBlock);
    Dbl(sub1_);
    std::memcpy(sub2_, sub1_, kBlock);
    Dbl(sub2_);
    OPENSSL_cleanse(l, kBlock);
    return true;
  }

  // S2V(K1, components[0..n), last) into v (RFC 5297 §2.4, n >= 1 here).
  bool S2v(const uint8_t* const* parts, const size_t* lens, size_t n, const uint8_t* last,
           size_t last_len, uint8_t* v) {
    uint8_t d[kBlock];
    static const uint8_t kZero[kBlock] = {};
    bool ok = Cmac(kZero, kBlock, d);
    for (size_t i = 0; ok && i < n; i++) {
      uint8_t mac[kBlock];
      ok = Cmac(parts[i], lens[i], mac);
      Dbl(d);
      XorInto(d, mac, kBlock);
    }
    if (ok) {
      if (last_len >= kBlock) {
        // T = last xorend D: CMAC over last with D XORed into its final 16 octets.
        ok = Cmac(last, last_len, v, d);
      } else {
        // T = dbl(D) xor pad(last)
        Dbl(d);
        uint8_t t[kBlock] = {};
        if (last_len > 0) std::memcpy(t, last, last_len);
        t[last_len] = 0x80;
        XorInto(t, d, kBlock);
        ok = Cmac(t, kBlock, v);
        OPENSSL_cleanse(t, kBlock);
      }
    }
    OPENSSL_cleanse(d, kBlock);
    return ok;
  }

  // out[0, len) = in[0, len) xor CTR(K2, Q), Q = v with bits 31 and 63 cleared.
  bool Ctr(const uint8_t* v, const uint8_t* in, size_t len, uint8_t* out) {
    if (len == 0) return true;
    if (len > INT_MAX) return false;
    uint8_t q[kBlock];
    std::memcpy(q, v, kBlock);
    q[8] &= 0x7f;
    q[12] &= 0x7f;
    int written = 0;
    const bool ok = EVP_EncryptInit_ex(ctr_, nullptr, nullptr, nullptr, q) == 1 &&
                    EVP_EncryptUpdate(ctr_, out, &written, in, static_cast<int>(len)) == 1 &&
                    static_cast<size_t>(written) == len;
    return ok;
  }

 private:
  // CMAC(K1, msg) into mac; with xorend (16 octets, msg_len >= 16) the CMAC of msg with
  // xorend XORed into its last 16 octets, without touching msg.
  bool Cmac(const uint8_t* msg, size_t msg_len, uint8_t* mac, const uint8_t* xorend = nullptr) {
    const size_t blocks = msg_len == 0 ? 1 : (msg_len + kBlock - 1) / kBlock;
    const size_t padded = blocks * kBlock;
    if (padded > INT_MAX) return false;
    if (scratch_.size() < padded) {
      if (!scratch_.empty()) OPENSSL_cleanse(scratch_.data(), scratch_.size());
      std::vector<uint8_t>(padded).swap(scratch_);
    }
    uint8_t* buf = scratch_.data();
    if (msg_len > 0) std::memcpy(buf, msg, msg_len);
    if (xorend != nullptr) XorInto(buf + msg_len - kBlock, xorend, kBlock);
    uint8_t* tail = buf + padded - kBlock;
    if (msg_len == padded) {
      XorInto(tail, sub1_, kBlock);
    } else {
      std::memset(buf + msg_len, 0, padded - msg_len);
      buf[msg_len] = 0x80;
      XorInto(tail, sub2_, kBlock);
    }
    const bool ok = EncryptBlocks(buf, padded);
    if (ok) std::memcpy(mac, tail, kBlock);
    OPENSSL_cleanse(buf, padded);
    return ok;
  }

  // CBC-MAC step over buf[0, len) in place, as if the chaining value were zero.
  bool EncryptBlocks(uint8_t* buf, size_t len) {
    XorInto(buf, chain_, kBlock);
    int written = 0;
    if (EVP_EncryptUpdate(mac_, buf, &written, buf, static_cast<int>(len)) != 1 ||
        static_cast<size_t>(written) != len) {
      return false;
    }
    std::memcpy(chain_, buf + len - kBlock, kBlock);
    return true;
  }

  EVP_CIPHER_CTX* mac_;
  EVP_CIPHER_CTX* ctr_;
  uint8_t chain_[kBlock] = {};  // the CBC context's current chaining value
  uint8_t sub1_[kBlock] = {};
  uint8_t sub2_[kBlock] = {};
  std::vector<uint8_t> scratch_;
};

ThreadState& State() {
  thread_local ThreadState state;
  return state;
}

}  // namespace

bool SealComponents(const uint8_t* key, size_t key_len, const uint8_t* const* parts,
                    const size_t* lens, size_t n, const uint8_t* pt, size_t pt_len,
                    uint8_t* out_tag, uint8_t* out_ct) {
  if (n > kMaxComponents) return false;
  ThreadState& s = State();
  if (!s.SetKey(key, key_len)) return false;
  uint8_t v[kBlock];
  const bool ok = s.S2v(parts, lens, n, pt, pt_len, v) && s.Ctr(v, pt, pt_len, out_ct);
  if (ok) std::memcpy(out_tag, v, kBlock);
  return ok;
}

bool OpenComponents(const uint8_t* key, size_t key_len, const uint8_t* const* parts,
                    const size_t* lens, size_t n, const uint8_t* tag, const uint8_t* ct,
                    size_t ct_len, uint8_t* out_pt) {
  bool ok = n <= kMaxComponents;
  ThreadState& s = State();
  ok = ok && s.SetKey(key, key_len);
  uint8_t t[kBlock];
  std::memcpy(t, tag, kBlock);  // the tag may live in the buffer the plaintext overwrites
  uint8_t v[kBlock];
  ok = ok && s.Ctr(t, ct, ct_len, out_pt) && s.S2v(parts, lens, n, out_pt, ct_len, v) &&
       CRYPTO_memcmp(v, t, kBlock) == 0;
  if (!ok && ct_len > 0) OPENSSL_cleanse(out_pt, ct_len);
  return ok;
}

bool Seal(const uint8_t* key, size_t key_len, const uint8_t* ad, size_t ad_len,
          const uint8_t* nonce, size_t nonce_len, const uint8_t* pt, size_t pt_len,
          uint8_t* out_tag, uint8_t* out_ct) {
  const uint8_t* parts[2] = {ad, nonce};
  const size_t lens[2] = {ad_len, nonce_len};
  return SealComponents(key, key_len, parts, lens, 2, pt, pt_len, out_tag, out_ct);
}

bool Open(const uint8_t* key, size_t key_len, const uint8_t* ad, size_t ad_len,
          const uint8_t* nonce, size_t nonce_len, const uint8_t* tag, const uint8_t* ct,
          size_t ct_len, uint8_t* out_pt) {
  const uint8_t* parts[2] = {ad, nonce};
  const size_t lens[2] = {ad_len, nonce_len};
  return OpenComponents(key, key_len, parts, lens, 2, tag, ct, ct_len, out_pt);
}

}  // namespace ntpd::siv
