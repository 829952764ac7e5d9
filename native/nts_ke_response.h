// The NTS-KE server's answer to a plain key exchange request, in C (issue #8): the
// request's records read, the protocol and AEAD chosen, the keys exported, the cookies
// sealed and the response laid out, with no call into JavaScript. It is a fast path, not
// a second implementation of the protocol: it takes only the one request shape that
// clients send (Next Protocol, AEAD Algorithm, chrony's record 1024, non-critical
// records of unknown types, End of Message) when the server accepts a protocol and an
// AEAD from it, and leaves everything else (errors, pool requests, NTP Server Deny,
// Keep Alive, a Server or Port wish, no overlap, anything malformed) to the TypeScript
// code (src/proto/nts/ke/server-messages.ts), which decides those. Where both answer,
// the responses are the same octets for the same keys and nonces
// (test/nts/ke-native-response.test.ts and the nts-ke-native fuzz target check it).
//
// No N-API here, so that the parser can be driven by tests and the fuzzer directly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "aes_siv_prepared.h"

namespace ntpd::ke {

// What the server accepts, as the TypeScript side configured it.
struct ResponseConfig {
  static constexpr size_t kMaxProtocols = 4;
  static constexpr size_t kMaxAeads = 8;
  uint16_t protocols[kMaxProtocols] = {};  // Next Protocol ids accepted
  size_t protocol_count = 0;
  uint16_t aeads[kMaxAeads] = {};        // AEADs a cookie can carry
  uint8_t key_lengths[kMaxAeads] = {};   // their session key lengths
  size_t aead_count = 0;
  std::vector<uint8_t> tail;  // the Server and Port records of every response (may be empty)
  size_t cookies = 8;         // New Cookie records per response
  size_t max_message = 4096;  // the request's octet limit
};

// The decision for a request the fast path answers.
struct Choice {
  uint16_t protocol = 0;
  uint16_t aead = 0;
  uint16_t context_aead = 0;  // the AEAD id of the exporter contexts (chrony's quirk for 30)
  size_t key_length = 0;
  bool compliant = false;  // echo record 1024
};

// True when `request` (`length` octets: whole records, the last End of Message, nothing
// after it) is a key exchange request the fast path answers, with `choice` set. False
// for everything the TypeScript code must decide. Reads only inside [request, +length).
bool ChooseKeyExchange(const uint8_t* request, size_t length, const ResponseConfig& config,
                       Choice* choice);

// Writes `length` octets of exported key for the 5-octet exporter context to `out`.
using KeyExporter = bool (*)(void* context, const uint8_t exporter_context[5], size_t length,
                             uint8_t* out);
// Fills `out` with `length` random octets (the cookie nonces).
using NonceSource = bool (*)(void* context, uint8_t* out, size_t length);

// The master key new cookies are sealed under: its id and the addon's prepared key.
struct CookieKey {
  uint32_t id = 0;
  const siv::PreparedKey* key = nullptr;
};

// The response to `choice` in `out` (replaced): Next Protocol, AEAD Algorithm, [1024],
// `config.cookies` New Cookies, `config.tail`, End of Message, as
// buildServerResponse lays it out. False when a key could not be exported, a nonce
// drawn or a cookie sealed (a wiped master key): `out` is then empty and the caller
// answers another way. The session keys are wiped before it returns.
bool BuildKeyExchangeResponse(const Choice& choice, const ResponseConfig& config,
                              const CookieKey& cookie_key, KeyExporter exporter,
                              void* exporter_context, NonceSource nonces, void* nonce_context,
                              std::vector<uint8_t>* out);

}  // namespace ntpd::ke
