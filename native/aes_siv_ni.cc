// AES-SIV-CMAC (RFC 5297) on AES-NI: the AES rounds, the key expansion
// (AESKEYGENASSIST, FIPS 197 §5.2) and S2V/CMAC/CTR written on the intrinsics, as
// Intel's AES-NI white paper describes the technique. Why: through OpenSSL's EVP each
// of an NTS request's eight key schedules costs ~140 ns and each call some more;
// here a key schedule is ~20 ns and a block a few ns, and nothing is allocated.
//
// The functions that use the AES instructions are compiled for them alone
// (target("aes,sse4.1")), so the addon still builds and loads on any x86-64; aes_siv.cc
// calls them only when Supported(). Other architectures compile the stubs below and
// stay on OpenSSL.
//
// Constant time: no tables, no branch or index depends on a key or a message octet
// (the only data-dependent choice is the final tag comparison's result). The key
// schedules and subkeys live on the stack of one call and are wiped before it returns
// (copies the compiler keeps in registers or spills cannot be reached from C++).

#include "aes_siv_ni.h"

#include <openssl/crypto.h>

#include <cstring>

#include "aes_siv_components.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NTPD_HAVE_AESNI 1
#include <immintrin.h>
#else
#define NTPD_HAVE_AESNI 0
#endif

namespace ntpd::siv::ni {

#if NTPD_HAVE_AESNI

namespace {

#define NTPD_AESNI __attribute__((target("aes,sse4.1")))

constexpr size_t kBlock = 16;

// The round keys of AES with `Rounds` rounds (10: AES-128, 14: AES-256).
template <int Rounds>
struct Schedule {
  __m128i rk[Rounds + 1];
};

// One SIV key: K1 (CMAC, with its subkeys) and K2 (CTR).
template <int Rounds>
struct SivKey {
  Schedule<Rounds> mac;
  Schedule<Rounds> ctr;
  __m128i sub1;  // CMAC K1' = dbl(AES(K1, 0)), for a final complete block
  __m128i sub2;  // CMAC K2' = dbl(K1'), for a final padded block
};

NTPD_AESNI inline __m128i Load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

NTPD_AESNI inline void Store(uint8_t* p, __m128i v) {
  _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
}

// The next four key words: w[i] = w[i - Nk] ^ ... for the four words of `prev`, with
// `word` (the transformed word, broadcast) XORed into the first: each lane ends up as
// word ^ prev[0] ^ ... ^ prev[lane].
NTPD_AESNI inline __m128i Spread(__m128i prev, __m128i word) {
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 4));
  prev = _mm_xor_si128(prev, _mm_slli_si128(prev, 8));
  return _mm_xor_si128(prev, word);
}

// AES-128: round key i + 1 from round key i; dword 3 of AESKEYGENASSIST is
// RotWord(SubWord(w3)) ^ Rcon.
template <int Rcon>
NTPD_AESNI inline __m128i Next128(__m128i prev) {
  return Spread(prev, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(prev, Rcon), 0xff));
}

NTPD_AESNI void Expand(const uint8_t* key, Schedule<10>* s) {
  __m128i k = Load(key);
  s->rk[0] = k;
  s->rk[1] = k = Next128<0x01>(k);
  s->rk[2] = k = Next128<0x02>(k);
  s->rk[3] = k = Next128<0x04>(k);
  s->rk[4] = k = Next128<0x08>(k);
  s->rk[5] = k = Next128<0x10>(k);
  s->rk[6] = k = Next128<0x20>(k);
  s->rk[7] = k = Next128<0x40>(k);
  s->rk[8] = k = Next128<0x80>(k);
  s->rk[9] = k = Next128<0x1b>(k);
  s->rk[10] = Next128<0x36>(k);
}

// AES-256: even round keys from the two before (RotWord, SubWord, Rcon of the odd one),
// odd ones with SubWord only (dword 2 of AESKEYGENASSIST, Rcon 0).
template <int Rcon>
NTPD_AESNI inline void Next256(Schedule<14>* s, int i) {
  s->rk[i] = Spread(s->rk[i - 2],
                    _mm_shuffle_epi32(_mm_aeskeygenassist_si128(s->rk[i - 1], Rcon), 0xff));
  if (i + 1 <= 14) {
    s->rk[i + 1] = Spread(s->rk[i - 1],
                          _mm_shuffle_epi32(_mm_aeskeygenassist_si128(s->rk[i], 0), 0xaa));
  }
}

NTPD_AESNI void Expand(const uint8_t* key, Schedule<14>* s) {
  s->rk[0] = Load(key);
  s->rk[1] = Load(key + kBlock);
  Next256<0x01>(s, 2);
  Next256<0x02>(s, 4);
  Next256<0x04>(s, 6);
  Next256<0x08>(s, 8);
  Next256<0x10>(s, 10);
  Next256<0x20>(s, 12);
  Next256<0x40>(s, 14);
}

template <int Rounds>
NTPD_AESNI inline __m128i Encrypt(const Schedule<Rounds>& s, __m128i b) {
  b = _mm_xor_si128(b, s.rk[0]);
#pragma GCC unroll 16
  for (int i = 1; i < Rounds; i++) b = _mm_aesenc_si128(b, s.rk[i]);
  return _mm_aesenclast_si128(b, s.rk[Rounds]);
}

// Four independent blocks at once: the AES unit pipelines them. Written out with
// locals so that the blocks stay in registers between rounds at any optimization level.
template <int Rounds>
NTPD_AESNI inline void Encrypt4(const Schedule<Rounds>& s, __m128i* b) {
  __m128i b0 = _mm_xor_si128(b[0], s.rk[0]);
  __m128i b1 = _mm_xor_si128(b[1], s.rk[0]);
  __m128i b2 = _mm_xor_si128(b[2], s.rk[0]);
  __m128i b3 = _mm_xor_si128(b[3], s.rk[0]);
#pragma GCC unroll 16
  for (int i = 1; i < Rounds; i++) {
    const __m128i rk = s.rk[i];
    b0 = _mm_aesenc_si128(b0, rk);
    b1 = _mm_aesenc_si128(b1, rk);
    b2 = _mm_aesenc_si128(b2, rk);
    b3 = _mm_aesenc_si128(b3, rk);
  }
  b[0] = _mm_aesenclast_si128(b0, s.rk[Rounds]);
  b[1] = _mm_aesenclast_si128(b1, s.rk[Rounds]);
  b[2] = _mm_aesenclast_si128(b2, s.rk[Rounds]);
  b[3] = _mm_aesenclast_si128(b3, s.rk[Rounds]);
}

// dbl() of RFC 5297 §2.3 on a block held as stored (octet 0 most significant).
NTPD_AESNI inline __m128i Dbl(__m128i v) {
  const uint64_t hi = __builtin_bswap64(static_cast<uint64_t>(_mm_cvtsi128_si64(v)));
  const uint64_t lo = __builtin_bswap64(static_cast<uint64_t>(_mm_extract_epi64(v, 1)));
  const uint64_t reduce = 0x87 & (0 - (hi >> 63));
  const uint64_t hi2 = (hi << 1) | (lo >> 63);
  const uint64_t lo2 = (lo << 1) ^ reduce;
  return _mm_set_epi64x(static_cast<long long>(__builtin_bswap64(lo2)),
                        static_cast<long long>(__builtin_bswap64(hi2)));
}

// CBC-MAC over `blocks` whole blocks of p, continuing from chaining value x.
template <int Rounds>
NTPD_AESNI inline __m128i Absorb(const Schedule<Rounds>& s, __m128i x, const uint8_t* p,
                                 size_t blocks) {
  for (size_t i = 0; i < blocks; i++) x = Encrypt(s, _mm_xor_si128(x, Load(p + i * kBlock)));
  return x;
}

// The rest of a CMAC (RFC 4493) from chaining value x: p[0, len) is the end of the
// message (len 0 only for a whole empty message). Returns the MAC.
template <int Rounds>
NTPD_AESNI __m128i CmacEnd(const SivKey<Rounds>& k, __m128i x, const uint8_t* p, size_t len) {
  const size_t full = len == 0 ? 0 : (len - 1) / kBlock;
  x = Absorb(k.mac, x, p, full);
  const size_t rest = len - full * kBlock;  // 1..16, or 0 for an empty message
  __m128i last;
  if (rest == kBlock) {
    last = _mm_xor_si128(Load(p + full * kBlock), k.sub1);
  } else {
    alignas(16) uint8_t pad[kBlock] = {};
    if (rest > 0) std::memcpy(pad, p + full * kBlock, rest);
    pad[rest] = 0x80;
    last = _mm_xor_si128(Load(pad), k.sub2);
    OPENSSL_cleanse(pad, kBlock);
  }
  return Encrypt(k.mac, _mm_xor_si128(x, last));
}

// S2V(K1, parts[0, n), last) (RFC 5297 §2.4).
template <int Rounds>
NTPD_AESNI __m128i S2v(const SivKey<Rounds>& k, const uint8_t* const* parts,
                       const size_t* lens, size_t n, const uint8_t* last, size_t last_len) {
  const __m128i zero = _mm_setzero_si128();
  __m128i d = Encrypt(k.mac, k.sub1);  // CMAC of the zero block: one complete block
  for (size_t i = 0; i < n; i++) d = _mm_xor_si128(Dbl(d), CmacEnd(k, zero, parts[i], lens[i]));
  __m128i v;
  if (last_len >= kBlock) {
    // T = last xorend D. The whole blocks before the tail are MACed in place; the tail
    // (16 to 31 octets, block aligned from the start) gets D in a copy.
    const size_t head = (last_len - kBlock) / kBlock * kBlock;
    const size_t tail_len = last_len - head;
    alignas(16) uint8_t tail[2 * kBlock];
    std::memcpy(tail, last + head, tail_len);
    uint8_t* end = tail + tail_len - kBlock;
    Store(end, _mm_xor_si128(Load(end), d));
    v = CmacEnd(k, Absorb(k.mac, zero, last, head / kBlock), tail, tail_len);
    OPENSSL_cleanse(tail, sizeof tail);
  } else {
    // T = dbl(D) xor pad(last): one complete block.
    alignas(16) uint8_t t[kBlock] = {};
    if (last_len > 0) std::memcpy(t, last, last_len);
    t[last_len] = 0x80;
    v = Encrypt(k.mac, _mm_xor_si128(_mm_xor_si128(Load(t), Dbl(d)), k.sub1));
    OPENSSL_cleanse(t, kBlock);
  }
  return v;
}

// Counter block i of CTR: the constant high half as stored, low + i big-endian.
NTPD_AESNI inline __m128i Counter(long long high, uint64_t low, uint64_t i) {
  return _mm_set_epi64x(static_cast<long long>(__builtin_bswap64(low + i)), high);
}

// out[0, len) = in[0, len) xor CTR(K2, Q), Q = v with bits 31 and 63 cleared (the top
// bits of octets 8 and 12). The counter is Q as a 128-bit big-endian number; with bit
// 63 clear its low half never carries for any length this takes, so only that half
// counts. in may equal out.
template <int Rounds>
NTPD_AESNI void Ctr(const Schedule<Rounds>& s, __m128i v, const uint8_t* in, size_t len,
                    uint8_t* out) {
  alignas(16) uint8_t q[kBlock];
  Store(q, v);
  q[8] &= 0x7f;
  q[12] &= 0x7f;
  const long long high = _mm_cvtsi128_si64(Load(q));  // octets 0-7 as stored
  uint64_t low;
  std::memcpy(&low, q + 8, 8);
  low = __builtin_bswap64(low);
  size_t done = 0;
  uint64_t i = 0;
  for (; len - done >= 4 * kBlock; done += 4 * kBlock, i += 4) {
    __m128i ks[4] = {Counter(high, low, i), Counter(high, low, i + 1), Counter(high, low, i + 2), Counter(high, low, i + 3)};
    Encrypt4(s, ks);
    for (int j = 0; j < 4; j++) {
      const uint8_t* src = in + done + j * kBlock;
      Store(out + done + j * kBlock, _mm_xor_si128(Load(src), ks[j]));
    }
  }
  for (; len - done >= kBlock; done += kBlock, i++) {
    Store(out + done, _mm_xor_si128(Load(in + done), Encrypt(s, Counter(high, low, i))));
  }
  if (done < len) {
    alignas(16) uint8_t stream[kBlock];
    Store(stream, Encrypt(s, Counter(high, low, i)));
    for (size_t j = 0; done + j < len; j++) out[done + j] = in[done + j] ^ stream[j];
    OPENSSL_cleanse(stream, kBlock);
  }
  OPENSSL_cleanse(q, kBlock);
}

// Expands K1 (and K2 when the message is not empty) and derives the CMAC subkeys.
template <int Rounds>
NTPD_AESNI void SetUp(SivKey<Rounds>* k, const uint8_t* key, size_t half, bool need_ctr) {
  Expand(key, &k->mac);
  if (need_ctr) Expand(key + half, &k->ctr);
  const __m128i l = Encrypt(k->mac, _mm_setzero_si128());
  k->sub1 = Dbl(l);
  k->sub2 = Dbl(k->sub1);
}

// Seal/Open with a key already set up (both schedules expanded).
template <int Rounds>
NTPD_AESNI void SealWith(const SivKey<Rounds>& k, const uint8_t* const* parts, const size_t* lens,
                         size_t n, const uint8_t* pt, size_t pt_len, uint8_t* out_tag,
                         uint8_t* out_ct) {
  const __m128i v = S2v(k, parts, lens, n, pt, pt_len);
  if (pt_len > 0) Ctr(k.ctr, v, pt, pt_len, out_ct);
  Store(out_tag, v);
}

template <int Rounds>
NTPD_AESNI bool OpenWith(const SivKey<Rounds>& k, const uint8_t* const* parts, const size_t* lens,
                         size_t n, const uint8_t* tag, const uint8_t* ct, size_t ct_len,
                         uint8_t* out_pt) {
  const __m128i t = Load(tag);  // before the plaintext may overwrite it
  if (ct_len > 0) Ctr(k.ctr, t, ct, ct_len, out_pt);
  const __m128i v = S2v(k, parts, lens, n, out_pt, ct_len);
  // All 16 octet comparisons at once, one branch on the result only.
  const bool ok = _mm_movemask_epi8(_mm_cmpeq_epi8(v, t)) == 0xffff;
  if (!ok && ct_len > 0) OPENSSL_cleanse(out_pt, ct_len);
  return ok;
}

template <int Rounds>
NTPD_AESNI bool Seal(const uint8_t* key, size_t half, const uint8_t* const* parts,
                     const size_t* lens, size_t n, const uint8_t* pt, size_t pt_len,
                     uint8_t* out_tag, uint8_t* out_ct) {
  SivKey<Rounds> k;
  SetUp(&k, key, half, pt_len > 0);
  SealWith(k, parts, lens, n, pt, pt_len, out_tag, out_ct);
  OPENSSL_cleanse(&k, sizeof k);
  return true;
}

template <int Rounds>
NTPD_AESNI bool Open(const uint8_t* key, size_t half, const uint8_t* const* parts,
                     const size_t* lens, size_t n, const uint8_t* tag, const uint8_t* ct,
                     size_t ct_len, uint8_t* out_pt) {
  SivKey<Rounds> k;
  SetUp(&k, key, half, ct_len > 0);
  const bool ok = OpenWith(k, parts, lens, n, tag, ct, ct_len, out_pt);
  OPENSSL_cleanse(&k, sizeof k);
  return ok;
}

}  // namespace

bool Supported() {
  static const bool supported = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse4.1");
  }();
  return supported;
}

bool SealComponents(const uint8_t* key, size_t key_len, const uint8_t* const* parts,
                    const size_t* lens, size_t n, const uint8_t* pt, size_t pt_len,
                    uint8_t* out_tag, uint8_t* out_ct) {
  if (!Supported() || n > kMaxComponents) return false;
  if (key_len == 32) return Seal<10>(key, 16, parts, lens, n, pt, pt_len, out_tag, out_ct);
  if (key_len == 64) return Seal<14>(key, 32, parts, lens, n, pt, pt_len, out_tag, out_ct);
  return false;
}

bool OpenComponents(const uint8_t* key, size_t key_len, const uint8_t* const* parts,
                    const size_t* lens, size_t n, const uint8_t* tag, const uint8_t* ct,
                    size_t ct_len, uint8_t* out_pt) {
  bool ok = Supported() && n <= kMaxComponents;
  if (ok && key_len == 32) return Open<10>(key, 16, parts, lens, n, tag, ct, ct_len, out_pt);
  if (ok && key_len == 64) return Open<14>(key, 32, parts, lens, n, tag, ct, ct_len, out_pt);
  if (ct_len > 0) OPENSSL_cleanse(out_pt, ct_len);
  return false;
}

struct KeySchedules {
  bool aes256;
  SivKey<10> k128;  // the one in use by aes256
  SivKey<14> k256;
};

KeySchedules* NewKeySchedules(const uint8_t* key, size_t key_len) {
  if (!Supported() || (key_len != 32 && key_len != 64)) return nullptr;
  auto* s = new KeySchedules();
  s->aes256 = key_len == 64;
  if (s->aes256) {
    SetUp(&s->k256, key, 32, true);
  } else {
    SetUp(&s->k128, key, 16, true);
  }
  return s;
}

void DeleteKeySchedules(KeySchedules* s) {
  if (s == nullptr) return;
  OPENSSL_cleanse(s, sizeof *s);
  delete s;
}

bool SealComponents(const KeySchedules& s, const uint8_t* const* parts, const size_t* lens,
                    size_t n, const uint8_t* pt, size_t pt_len, uint8_t* out_tag,
                    uint8_t* out_ct) {
  if (n > kMaxComponents) return false;
  if (s.aes256) {
    SealWith(s.k256, parts, lens, n, pt, pt_len, out_tag, out_ct);
  } else {
    SealWith(s.k128, parts, lens, n, pt, pt_len, out_tag, out_ct);
  }
  return true;
}

bool OpenComponents(const KeySchedules& s, const uint8_t* const* parts, const size_t* lens,
                    size_t n, const uint8_t* tag, const uint8_t* ct, size_t ct_len,
                    uint8_t* out_pt) {
  if (n > kMaxComponents) {
    if (ct_len > 0) OPENSSL_cleanse(out_pt, ct_len);
    return false;
  }
  return s.aes256 ? OpenWith(s.k256, parts, lens, n, tag, ct, ct_len, out_pt)
                  : OpenWith(s.k128, parts, lens, n, tag, ct, ct_len, out_pt);
}

#else  // no AES-NI code for this architecture or compiler

struct KeySchedules {};

KeySchedules* NewKeySchedules(const uint8_t*, size_t) { return nullptr; }

void DeleteKeySchedules(KeySchedules*) {}

bool SealComponents(const KeySchedules&, const uint8_t* const*, const size_t*, size_t,
                    const uint8_t*, size_t, uint8_t*, uint8_t*) {
  return false;
}

bool OpenComponents(const KeySchedules&, const uint8_t* const*, const size_t*, size_t,
                    const uint8_t*, const uint8_t*, size_t ct_len, uint8_t* out_pt) {
  if (ct_len > 0) OPENSSL_cleanse(out_pt, ct_len);
  return false;
}

bool Supported() { return false; }

bool SealComponents(const uint8_t*, size_t, const uint8_t* const*, const size_t*, size_t,
                    const uint8_t*, size_t, uint8_t*, uint8_t*) {
  return false;
}

bool OpenComponents(const uint8_t*, size_t, const uint8_t* const*, const size_t*, size_t,
                    const uint8_t*, const uint8_t*, size_t ct_len, uint8_t* out_pt) {
  if (ct_len > 0) OPENSSL_cleanse(out_pt, ct_len);
  return false;
}

#endif

}  // namespace ntpd::siv::ni
