// The NTS-KE fast path's C parser and response builder (native/nts_ke_response.cc) under
// AddressSanitizer and UBSan, outside Node: every input in its own heap allocation of
// exactly its length, so that a read one octet past a request is reported. Inputs: the
// files named on the command line (the nts-ke-fast corpus of the TypeScript fuzzer),
// each also cut at every length, then `--random N` generated requests: record sequences
// of the types the parser handles, with lengths that are right, short, long or odd,
// mutated by byte flips. Run by fuzz/native/run-asan.sh; exits 1 on a broken invariant
// (the sanitizers abort on their own).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "../../native/aes_siv_prepared.h"
#include "../../native/nts_ke_response.h"

using ntpd::ke::BuildKeyExchangeResponse;
using ntpd::ke::ChooseKeyExchange;
using ntpd::ke::Choice;
using ntpd::ke::CookieKey;
using ntpd::ke::ResponseConfig;

namespace {

bool Export(void*, const uint8_t c[5], size_t length, uint8_t* out) {
  for (size_t i = 0; i < length; ++i) out[i] = static_cast<uint8_t>(c[0] + c[4] + i);
  return true;
}

bool Nonces(void*, uint8_t* out, size_t length) {
  std::memset(out, 0x5a, length);
  return true;
}

unsigned long inputs = 0;
unsigned long answered = 0;

void Fail(const char* what) {
  std::fprintf(stderr, "nts_ke_response_asan: %s (input %lu)\n", what, inputs);
  std::exit(1);
}

void RunOne(const std::vector<uint8_t>& bytes, const ResponseConfig& config,
            const CookieKey& key) {
  ++inputs;
  // Exactly the input's length on the heap (an empty input: a 0-octet allocation).
  uint8_t* copy = static_cast<uint8_t*>(std::malloc(bytes.size() == 0 ? 1 : bytes.size()));
  if (!bytes.empty()) std::memcpy(copy, bytes.data(), bytes.size());
  Choice choice;
  const uint8_t* request = bytes.empty() ? copy + 1 : copy;  // one past a 1-octet block
  if (ChooseKeyExchange(request, bytes.size(), config, &choice)) {
    ++answered;
    std::vector<uint8_t> out;
    if (!BuildKeyExchangeResponse(choice, config, key, Export, nullptr, Nonces, nullptr, &out)) {
      Fail("a chosen exchange could not be answered");
    }
    // Responses are whole records ending in End of Message.
    size_t at = 0;
    bool ended = false;
    while (at + 4 <= out.size() && !ended) {
      const size_t length = (out[at + 2] << 8) | out[at + 3];
      ended = ((out[at] & 0x7f) | out[at + 1]) == 0;
      at += 4 + length;
    }
    if (!ended || at != out.size()) Fail("the response is not whole records up to End of Message");
    if (choice.key_length == 0 || choice.key_length > 64) Fail("a key length out of range");
  }
  std::free(copy);
}

void PutRecord(std::vector<uint8_t>* out, unsigned type, const std::vector<uint8_t>& body,
               int length_error) {
  out->push_back(static_cast<uint8_t>(type >> 8));
  out->push_back(static_cast<uint8_t>(type));
  const size_t announced = body.size() + length_error < 0 ? 0 : body.size() + length_error;
  out->push_back(static_cast<uint8_t>(announced >> 8));
  out->push_back(static_cast<uint8_t>(announced));
  out->insert(out->end(), body.begin(), body.end());
}

}  // namespace

int main(int argc, char** argv) {
  ResponseConfig config;
  config.protocols[0] = 0;
  config.protocols[1] = 0x8001;
  config.protocol_count = 2;
  const uint16_t aeads[] = {17, 15, 30};
  const uint8_t lengths[] = {64, 32, 16};
  for (size_t i = 0; i < 3; ++i) {
    config.aeads[i] = aeads[i];
    config.key_lengths[i] = lengths[i];
  }
  config.aead_count = 3;
  config.tail = {0x80, 7, 0, 2, 0, 123};
  uint8_t master[64];
  for (int i = 0; i < 64; ++i) master[i] = static_cast<uint8_t>(i * 7);
  ntpd::siv::PreparedKey prepared(master, sizeof master);
  const CookieKey key{42, &prepared};

  unsigned long random_inputs = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--random" && i + 1 < argc) {
      random_inputs = std::strtoul(argv[++i], nullptr, 10);
      continue;
    }
    std::ifstream file(argv[i], std::ios::binary);
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(file)),
                               std::istreambuf_iterator<char>());
    for (size_t cut = 0; cut <= bytes.size(); ++cut) {
      RunOne(std::vector<uint8_t>(bytes.begin(), bytes.begin() + cut), config, key);
    }
  }
  std::mt19937_64 rng(1);
  const unsigned types[] = {0, 1, 4, 1024, 5, 8, 0x4000, 0x7fff, 2, 11};
  for (unsigned long n = 0; n < random_inputs; ++n) {
    std::vector<uint8_t> request;
    const int records = static_cast<int>(rng() % 6);
    const uint16_t values[] = {0, 0x8001, 7, 17, 15, 30, 1, 0xffff};
    for (int r = 0; r < records; ++r) {
      unsigned type = types[rng() % 10] | ((rng() & 1) ? 0x8000 : 0);
      if (r < 2 && rng() % 2 == 0) type = r == 0 ? 0x8001 : 0x8004;  // the usual start
      std::vector<uint8_t> body;
      if (rng() % 4 != 0) {
        for (int v = static_cast<int>(rng() % 4); v >= 0; --v) {
          const uint16_t value = values[rng() % 8];
          body.push_back(static_cast<uint8_t>(value >> 8));
          body.push_back(static_cast<uint8_t>(value));
        }
      } else {
        body.resize(rng() % 9);
        for (auto& b : body) b = static_cast<uint8_t>(rng());
      }
      const int error = rng() % 8 == 0 ? static_cast<int>(rng() % 5) - 2 : 0;
      PutRecord(&request, type, body, error);
    }
    if (rng() % 4 != 0) PutRecord(&request, 0x8000, {}, 0);
    for (int flips = static_cast<int>(rng() % 4) - 1; flips > 0 && !request.empty(); --flips) {
      request[rng() % request.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
    }
    if (rng() % 8 == 0 && !request.empty()) request.resize(rng() % request.size());
    RunOne(request, config, key);
  }
  std::printf("nts_ke_response_asan: %lu inputs, %lu answered on the fast path\n", inputs,
              answered);
  return 0;
}
