// See nts_ke_response.h. Record layouts: RFC 8915 §4 (records.ts has them all); the
// cookie layout: src/proto/nts/cookie/FORMAT.md.
#include "nts_ke_response.h"

#include <openssl/crypto.h>

#include <cstring>

namespace ntpd::ke {
namespace {

constexpr uint16_t kCritical = 0x8000;
constexpr uint16_t kEndOfMessage = 0;
constexpr uint16_t kNextProtocol = 1;
constexpr uint16_t kAeadAlgorithm = 4;
constexpr uint16_t kNewCookie = 5;
constexpr uint16_t kCompliantGcmSivContext = 1024;
constexpr uint16_t kAeadAes128GcmSiv = 30;
constexpr uint16_t kLegacyGcmSivContextAead = 15;

constexpr size_t kMaxKeyLength = 64;
constexpr size_t kNonceLength = 16;
constexpr size_t kTagLength = 16;
constexpr size_t kCookieHeaderLength = 6;  // key id, sealed length

// Record types the TypeScript decoder knows (records.ts RecordType); any other type is
// "unknown", ignored when not critical.
bool IsKnownType(unsigned type) {
  return type <= 10 || (type >= 12 && type <= 14) || type == kCompliantGcmSivContext;
}

unsigned U16(const uint8_t* p) { return (static_cast<unsigned>(p[0]) << 8) | p[1]; }

void PutU16(std::vector<uint8_t>* out, unsigned v) {
  out->push_back(static_cast<uint8_t>(v >> 8));
  out->push_back(static_cast<uint8_t>(v));
}

// The first value of the u16 list `list` (`count` entries) that `accepted` holds.
bool FirstAccepted(const uint8_t* list, size_t count, const uint16_t* accepted, size_t n,
                   uint16_t* value, size_t* index) {
  for (size_t i = 0; i < count; ++i) {
    unsigned v = U16(list + 2 * i);
    for (size_t j = 0; j < n; ++j) {
      if (accepted[j] == v) {
        *value = static_cast<uint16_t>(v);
        *index = j;
        return true;
      }
    }
  }
  return false;
}

}  // namespace

bool ChooseKeyExchange(const uint8_t* request, size_t length, const ResponseConfig& config,
                       Choice* choice) {
  if (length > config.max_message) return false;
  const uint8_t* protocols = nullptr;
  size_t protocols_length = 0;
  const uint8_t* aeads = nullptr;
  size_t aeads_length = 0;
  bool compliant = false;
  bool ended = false;
  size_t at = 0;
  while (!ended) {
    if (length - at < 4) return false;
    const unsigned word = U16(request + at);
    const size_t body_length = U16(request + at + 2);
    const uint8_t* body = request + at + 4;
    if (body_length > length - at - 4) return false;
    at += 4 + body_length;
    const unsigned type = word & 0x7fff;
    switch (type) {
      case kEndOfMessage:
        if (body_length != 0 || at != length) return false;
        ended = true;
        break;
      case kNextProtocol:
        // Odd, empty or repeated: a bad request, which TypeScript answers.
        if (protocols != nullptr || body_length == 0 || body_length % 2 != 0) return false;
        protocols = body;
        protocols_length = body_length;
        break;
      case kAeadAlgorithm:
        if (aeads != nullptr || body_length == 0 || body_length % 2 != 0) return false;
        aeads = body;
        aeads_length = body_length;
        break;
      case kCompliantGcmSivContext:
        compliant = true;  // its body means nothing (chrony sends it empty)
        break;
      default:
        if (IsKnownType(type) || (word & kCritical) != 0) return false;
        break;  // an unknown non-critical record is ignored
    }
  }
  if (protocols == nullptr || aeads == nullptr) return false;
  size_t unused = 0;
  size_t aead_index = 0;
  if (!FirstAccepted(protocols, protocols_length / 2, config.protocols, config.protocol_count,
                     &choice->protocol, &unused) ||
      !FirstAccepted(aeads, aeads_length / 2, config.aeads, config.aead_count, &choice->aead,
                     &aead_index)) {
    return false;  // no overlap: TypeScript's no-overlap answers
  }
  choice->key_length = config.key_lengths[aead_index];
  if (choice->key_length == 0 || choice->key_length > kMaxKeyLength) return false;
  choice->compliant = compliant && choice->aead == kAeadAes128GcmSiv;
  choice->context_aead = choice->aead == kAeadAes128GcmSiv && !choice->compliant
                             ? kLegacyGcmSivContextAead
                             : choice->aead;
  return true;
}

bool BuildKeyExchangeResponse(const Choice& choice, const ResponseConfig& config,
                              const CookieKey& cookie_key, KeyExporter exporter,
                              void* exporter_context, NonceSource nonces, void* nonce_context,
                              std::vector<uint8_t>* out) {
  out->clear();
  const size_t k = choice.key_length;
  if (cookie_key.key == nullptr || k == 0 || k > kMaxKeyLength || config.cookies == 0) {
    return false;
  }
  // The cookie plaintext: AEAD id, S2C key, C2S key (cookie.ts).
  uint8_t plaintext[2 + 2 * kMaxKeyLength];
  const size_t plaintext_length = 2 + 2 * k;
  plaintext[0] = static_cast<uint8_t>(choice.aead >> 8);
  plaintext[1] = static_cast<uint8_t>(choice.aead);
  uint8_t context[5] = {static_cast<uint8_t>(choice.protocol >> 8),
                        static_cast<uint8_t>(choice.protocol),
                        static_cast<uint8_t>(choice.context_aead >> 8),
                        static_cast<uint8_t>(choice.context_aead), 0};
  bool ok = exporter(exporter_context, context, k, plaintext + 2 + k);  // C2S
  context[4] = 1;
  ok = ok && exporter(exporter_context, context, k, plaintext + 2);  // S2C

  const size_t sealed_length = kTagLength + plaintext_length;
  const size_t cookie_length = kCookieHeaderLength + kNonceLength + sealed_length;
  const size_t total = 8 + (choice.compliant ? 4 : 0) + config.cookies * (4 + cookie_length) +
                       config.tail.size() + 4 + 4;
  if (ok) {
    out->reserve(total);
    PutU16(out, kCritical | kNextProtocol);
    PutU16(out, 2);
    PutU16(out, choice.protocol);
    PutU16(out, kCritical | kAeadAlgorithm);
    PutU16(out, 2);
    PutU16(out, choice.aead);
    if (choice.compliant) {
      PutU16(out, kCompliantGcmSivContext);  // not critical, as ntpd-rs sends it
      PutU16(out, 0);
    }
    for (size_t i = 0; ok && i < config.cookies; ++i) {
      PutU16(out, kNewCookie);
      PutU16(out, static_cast<unsigned>(cookie_length));
      const size_t at = out->size();
      out->resize(at + cookie_length);
      uint8_t* cookie = out->data() + at;
      cookie[0] = static_cast<uint8_t>(cookie_key.id >> 24);
      cookie[1] = static_cast<uint8_t>(cookie_key.id >> 16);
      cookie[2] = static_cast<uint8_t>(cookie_key.id >> 8);
      cookie[3] = static_cast<uint8_t>(cookie_key.id);
      cookie[4] = static_cast<uint8_t>(sealed_length >> 8);
      cookie[5] = static_cast<uint8_t>(sealed_length);
      uint8_t* nonce = cookie + kCookieHeaderLength;
      ok = nonces(nonce_context, nonce, kNonceLength);
      // Associated data: none; the nonce as its own component (as ntsSealCookie).
      const uint8_t* parts[2] = {nullptr, nonce};
      const size_t lens[2] = {0, kNonceLength};
      uint8_t* tag = nonce + kNonceLength;
      ok = ok && cookie_key.key->Seal(parts, lens, 2, plaintext, plaintext_length, tag,
                                      tag + kTagLength);
    }
    if (ok) {
      out->insert(out->end(), config.tail.begin(), config.tail.end());
      PutU16(out, kCritical | kEndOfMessage);
      PutU16(out, 0);
    }
  }
  OPENSSL_cleanse(plaintext, sizeof plaintext);
  if (!ok) out->clear();
  return ok;
}

}  // namespace ntpd::ke
