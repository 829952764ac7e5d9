// ntsKeFastResponse(request, config, keyId, key, nonces) -> Uint8Array | null
//
// The fast path of nts_ke_response.h on given inputs, for the differential test against
// the TypeScript server (test/nts/ke-fast-response.test.ts) and the nts-ke-fast fuzz
// target: the response the listener would send for `request`, or null where it leaves
// the request to TypeScript. Nothing here is random: the cookie nonces are taken in
// order from `nonces` (null when they run out), and the exported keys are a fixed
// function of the exporter context (TestExport; fast-response.ts has its twin), so that
// both sides can be given the same keys. The listener itself exports from the TLS
// session and draws nonces from OpenSSL; it never calls this.
#include "nts_ke_response_binding.h"

#include <cstring>
#include <string>

#include "aes_siv_binding.h"
#include "napi_extras.h"

namespace ntpd {
namespace {

std::vector<uint32_t> IntegerList(const Napi::Object& config, const char* key, size_t max) {
  Napi::Value value = config.Get(key);
  if (!value.IsArray()) {
    throw Napi::TypeError::New(config.Env(), std::string("NTS-KE fast path: ") + key +
                                                 " must be an array");
  }
  Napi::Array array = value.As<Napi::Array>();
  if (array.Length() > max) {
    throw Napi::TypeError::New(config.Env(), std::string("NTS-KE fast path: too many ") + key);
  }
  std::vector<uint32_t> out;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    Napi::Value v = array.Get(i);
    if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 0 ||
        v.As<Napi::Number>().DoubleValue() > 0xffff) {
      throw Napi::TypeError::New(config.Env(), std::string("NTS-KE fast path: ") + key +
                                                   " must hold u16 values");
    }
    out.push_back(v.As<Napi::Number>().Uint32Value());
  }
  return out;
}

struct TestNonces {
  const uint8_t* data;
  size_t length;
  size_t used;
};

bool TestNonceSource(void* context, uint8_t* out, size_t length) {
  auto* n = static_cast<TestNonces*>(context);
  if (n->length - n->used < length) return false;
  std::memcpy(out, n->data + n->used, length);
  n->used += length;
  return true;
}

// Key octet i for the exporter context c: (c0 + 3 c1 + 5 c2 + 7 c3 + 11 c4 + 13 i) mod 256.
bool TestExport(void*, const uint8_t c[5], size_t length, uint8_t* out) {
  for (size_t i = 0; i < length; ++i) {
    out[i] = static_cast<uint8_t>(c[0] + 3 * c[1] + 5 * c[2] + 7 * c[3] + 11 * c[4] + 13 * i);
  }
  return true;
}

Napi::Value NtsKeFastResponse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  TypedArrayView request = ViewTypedArray(info[0]);
  TypedArrayView nonces = ViewTypedArray(info[4]);
  if (request.type != napi_uint8_array || nonces.type != napi_uint8_array) {
    throw Napi::TypeError::New(env, "ntsKeFastResponse: request and nonces must be Uint8Arrays");
  }
  static const uint8_t kNothing[1] = {0};  // an empty array may have no data pointer
  if (request.data == nullptr) request.data = const_cast<uint8_t*>(kNothing);
  if (nonces.data == nullptr) nonces.data = const_cast<uint8_t*>(kNothing);
  ke::ResponseConfig config = ResponseConfigArg(info[1]);
  const double id = info[2].IsNumber() ? info[2].As<Napi::Number>().DoubleValue() : -1;
  const siv::PreparedKey* key = PreparedKeyOf(env, info[3]);
  if (id < 0 || id > 0xffffffff || key == nullptr || !key->Valid()) {
    throw Napi::TypeError::New(env, "ntsKeFastResponse: keyId must be a u32, key a prepared key");
  }
  ke::Choice choice;
  if (!ke::ChooseKeyExchange(static_cast<const uint8_t*>(request.data), request.length, config,
                             &choice)) {
    return env.Null();
  }
  TestNonces source{static_cast<const uint8_t*>(nonces.data), nonces.length, 0};
  std::vector<uint8_t> response;
  const ke::CookieKey cookie_key{static_cast<uint32_t>(id), key};
  if (!ke::BuildKeyExchangeResponse(choice, config, cookie_key, TestExport, nullptr,
                                    TestNonceSource, &source, &response)) {
    return env.Null();
  }
  return Napi::Buffer<uint8_t>::Copy(env, response.data(), response.size());
}

}  // namespace

ke::ResponseConfig ResponseConfigArg(const Napi::Value& value) {
  Napi::Env env = value.Env();
  if (!value.IsObject()) throw Napi::TypeError::New(env, "NTS-KE fast path: config must be an object");
  Napi::Object config = value.As<Napi::Object>();
  ke::ResponseConfig out;
  std::vector<uint32_t> protocols = IntegerList(config, "protocols", ke::ResponseConfig::kMaxProtocols);
  std::vector<uint32_t> aeads = IntegerList(config, "aeads", ke::ResponseConfig::kMaxAeads);
  std::vector<uint32_t> lengths = IntegerList(config, "keyLengths", ke::ResponseConfig::kMaxAeads);
  if (lengths.size() != aeads.size()) {
    throw Napi::TypeError::New(env, "NTS-KE fast path: one key length per AEAD");
  }
  for (uint32_t p : protocols) out.protocols[out.protocol_count++] = static_cast<uint16_t>(p);
  for (size_t i = 0; i < aeads.size(); ++i) {
    if (lengths[i] == 0 || lengths[i] > 64) {
      throw Napi::TypeError::New(env, "NTS-KE fast path: key lengths are 1 to 64 octets");
    }
    out.aeads[out.aead_count] = static_cast<uint16_t>(aeads[i]);
    out.key_lengths[out.aead_count++] = static_cast<uint8_t>(lengths[i]);
  }
  TypedArrayView tail = ViewTypedArray(config.Get("tail"));
  if (tail.type != napi_uint8_array || (tail.data == nullptr && tail.length != 0)) {
    throw Napi::TypeError::New(env, "NTS-KE fast path: tail must be a Uint8Array");
  }
  const uint8_t* t = static_cast<const uint8_t*>(tail.data);
  out.tail.assign(t, t + tail.length);
  Napi::Value cookies = config.Get("cookies");
  Napi::Value max = config.Get("maxMessage");
  if (!cookies.IsNumber() || !max.IsNumber()) {
    throw Napi::TypeError::New(env, "NTS-KE fast path: cookies and maxMessage must be numbers");
  }
  out.cookies = cookies.As<Napi::Number>().Uint32Value();
  out.max_message = max.As<Napi::Number>().Uint32Value();
  if (out.cookies < 1 || out.cookies > 8 || out.max_message < 4 || out.max_message > 65536) {
    throw Napi::TypeError::New(env, "NTS-KE fast path: 1 to 8 cookies, maxMessage 4 to 65536");
  }
  return out;
}

void InitNtsKeResponse(Napi::Env env, Napi::Object exports) {
  exports.Set("ntsKeFastResponse", Napi::Function::New(env, NtsKeFastResponse, "ntsKeFastResponse"));
}

}  // namespace ntpd
