// The JS face of aes_siv.cc, written against the raw Node-API C interface to keep each
// call thin (every argument conversion costs; see clock.cc):
//
//   sivSeal(key, ad, adOff, adLen, nonce, nonceOff, nonceLen, pt, ptOff, ptLen, out, outOff)
//       out[outOff, +16) = tag V, out[outOff + 16, + ptLen) = ciphertext (NTS's V ‖ C).
//       The plaintext may be encrypted in place (out === pt, ptOff === outOff + 16); no
//       other overlap of pt with the output. Returns true; false only if OpenSSL fails.
//   sivOpen(key, ad, adOff, adLen, nonce, nonceOff, nonceLen, ct, ctOff, ctLen, out, outOff)
//       ct[ctOff, + ctLen) is V ‖ C (ctLen >= 16); the plaintext (ctLen - 16 octets) goes
//       to out[outOff, ...), in place allowed (out === ct, outOff === ctOff + 16).
//       Returns false when it does not authenticate (the output range is then zeroed)
//       or ctLen < 16.
//   sivSealComponents(key, components[], pt) -> Uint8Array V ‖ C
//   sivOpenComponents(key, components[], ct) -> Uint8Array | null
//       RFC 5297 with 0 to 126 associated-data components; they allocate,
//       for tests and one-off use.
//
// Bad arguments (not a Uint8Array, a range outside its array, a key that is not 32, 48
// or 64 octets) throw TypeError/RangeError: they are programming errors, never input.
// No allocation in sivSeal/sivOpen.

#include "aes_siv_binding.h"

#include <cstring>

#include "aes_siv.h"
#include "aes_siv_components.h"

namespace ntpd {
namespace {

constexpr size_t kTag = siv::kTagLength;

napi_value Throw(napi_env env, bool range, const char* message) {
  if (range) {
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", message);
  } else {
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", message);
  }
  return nullptr;
}

bool GetBytes(napi_env env, napi_value value, uint8_t** data, size_t* len) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, len, &raw, nullptr, nullptr) != napi_ok ||
      type != napi_uint8_array) {
    return false;
  }
  *data = static_cast<uint8_t*>(raw);
  return true;
}

bool GetIndex(napi_env env, napi_value value, size_t* out) {
  uint32_t v = 0;
  if (napi_get_value_uint32(env, value, &v) != napi_ok) return false;
  *out = v;
  return true;
}

// A (array, offset, length) argument triple, checked against the array's bounds.
struct Range {
  uint8_t* data = nullptr;
  size_t len = 0;
};

// 0: ok; 1: type error; 2: out of range.
int GetRange(napi_env env, const napi_value* argv, Range* r) {
  uint8_t* base = nullptr;
  size_t size = 0;
  size_t off = 0;
  size_t len = 0;
  if (!GetBytes(env, argv[0], &base, &size) || !GetIndex(env, argv[1], &off) ||
      !GetIndex(env, argv[2], &len)) {
    return 1;
  }
  if (off > size || len > size - off) return 2;
  r->data = base + off;
  r->len = len;
  return 0;
}

bool IsKeyLength(size_t n) { return n == 32 || n == 48 || n == 64; }

// Unpacks the 12 arguments shared by sivSeal and sivOpen. False with an exception pending.
bool Unpack(napi_env env, napi_callback_info info, const char* name, Range* key, Range* ad,
            Range* nonce, Range* data, uint8_t** out, size_t* out_room) {
  size_t argc = 12;
  napi_value argv[12];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  if (argc < 12) {
    Throw(env, false, name);
    return false;
  }
  size_t key_size = 0;
  if (!GetBytes(env, argv[0], &key->data, &key_size)) {
    Throw(env, false, "AES-SIV key must be a Uint8Array");
    return false;
  }
  key->len = key_size;
  if (!IsKeyLength(key_size)) {
    Throw(env, true, "AES-SIV-CMAC key must be 32, 48 or 64 octets");
    return false;
  }
  int rc = GetRange(env, argv + 1, ad);
  if (rc == 0) rc = GetRange(env, argv + 4, nonce);
  if (rc == 0) rc = GetRange(env, argv + 7, data);
  uint8_t* out_base = nullptr;
  size_t out_size = 0;
  size_t out_off = 0;
  if (rc == 0 && (!GetBytes(env, argv[10], &out_base, &out_size) ||
                  !GetIndex(env, argv[11], &out_off))) {
    rc = 1;
  }
  if (rc == 0 && out_off > out_size) rc = 2;
  if (rc != 0) {
    Throw(env, rc == 2, rc == 2 ? "AES-SIV: a range is outside its array"
                                : "AES-SIV: expected Uint8Array and offset/length integers");
    return false;
  }
  *out = out_base + out_off;
  *out_room = out_size - out_off;
  return true;
}

napi_value Boolean(napi_env env, bool value) {
  napi_value result = nullptr;
  napi_get_boolean(env, value, &result);
  return result;
}

// [a, a + alen) and [b, b + blen) share an octet.
bool Overlaps(const uint8_t* a, size_t alen, const uint8_t* b, size_t blen) {
  return alen > 0 && blen > 0 && a < b + blen && b < a + alen;
}

napi_value SivSeal(napi_env env, napi_callback_info info) {
  Range key, ad, nonce, pt;
  uint8_t* out = nullptr;
  size_t room = 0;
  if (!Unpack(env, info, "sivSeal takes 12 arguments", &key, &ad, &nonce, &pt, &out, &room)) {
    return nullptr;
  }
  if (room < kTag + pt.len) return Throw(env, true, "sivSeal: output too small");
  const bool in_place = pt.data == out + kTag;
  if (!in_place && Overlaps(pt.data, pt.len, out, kTag + pt.len)) {
    return Throw(env, true, "sivSeal: plaintext overlaps the output other than in place");
  }
  return Boolean(env, siv::Seal(key.data, key.len, ad.data, ad.len, nonce.data, nonce.len,
                                pt.data, pt.len, out, out + kTag));
}

napi_value SivOpen(napi_env env, napi_callback_info info) {
  Range key, ad, nonce, ct;
  uint8_t* out = nullptr;
  size_t room = 0;
  if (!Unpack(env, info, "sivOpen takes 12 arguments", &key, &ad, &nonce, &ct, &out, &room)) {
    return nullptr;
  }
  if (ct.len < kTag) return Boolean(env, false);
  const size_t pt_len = ct.len - kTag;
  if (room < pt_len) return Throw(env, true, "sivOpen: output too small");
  const bool in_place = out == ct.data + kTag;
  if (!in_place && Overlaps(ct.data, ct.len, out, pt_len)) {
    return Throw(env, true, "sivOpen: ciphertext overlaps the output other than in place");
  }
  return Boolean(env, siv::Open(key.data, key.len, ad.data, ad.len, nonce.data, nonce.len,
                                ct.data, ct.data + kTag, pt_len, out));
}

// key, components[] and a third Uint8Array, for the *Components functions.
bool UnpackComponents(napi_env env, napi_callback_info info, Range* key,
                      const uint8_t** parts, size_t* lens, size_t* n, Range* data) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  bool is_array = false;
  uint32_t count = 0;
  if (argc < 3 || !GetBytes(env, argv[0], &key->data, &key->len) ||
      napi_is_array(env, argv[1], &is_array) != napi_ok || !is_array ||
      napi_get_array_length(env, argv[1], &count) != napi_ok ||
      !GetBytes(env, argv[2], &data->data, &data->len)) {
    Throw(env, false, "expected (key: Uint8Array, components: Uint8Array[], data: Uint8Array)");
    return false;
  }
  if (!IsKeyLength(key->len)) {
    Throw(env, true, "AES-SIV-CMAC key must be 32, 48 or 64 octets");
    return false;
  }
  if (count > siv::kMaxComponents) {
    Throw(env, true, "AES-SIV takes at most 126 associated-data components");
    return false;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    uint8_t* p = nullptr;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        !GetBytes(env, element, &p, &lens[i])) {
      Throw(env, false, "AES-SIV components must be Uint8Arrays");
      return false;
    }
    parts[i] = p;
  }
  *n = count;
  return true;
}

napi_value NewBytes(napi_env env, size_t len, uint8_t** data) {
  napi_value buffer = nullptr;
  napi_value array = nullptr;
  void* raw = nullptr;
  if (napi_create_arraybuffer(env, len, &raw, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_uint8_array, len, buffer, 0, &array) != napi_ok) {
    return nullptr;
  }
  *data = static_cast<uint8_t*>(raw);
  return array;
}

napi_value SivSealComponents(napi_env env, napi_callback_info info) {
  Range key, pt;
  const uint8_t* parts[siv::kMaxComponents];
  size_t lens[siv::kMaxComponents];
  size_t n = 0;
  if (!UnpackComponents(env, info, &key, parts, lens, &n, &pt)) return nullptr;
  uint8_t* out = nullptr;
  napi_value result = NewBytes(env, kTag + pt.len, &out);
  if (result == nullptr) return nullptr;
  if (!siv::SealComponents(key.data, key.len, parts, lens, n, pt.data, pt.len, out,
                           out + kTag)) {
    napi_throw_error(env, "ERR_CRYPTO_OPERATION_FAILED", "AES-SIV seal failed");
    return nullptr;
  }
  return result;
}

napi_value SivOpenComponents(napi_env env, napi_callback_info info) {
  Range key, ct;
  const uint8_t* parts[siv::kMaxComponents];
  size_t lens[siv::kMaxComponents];
  size_t n = 0;
  if (!UnpackComponents(env, info, &key, parts, lens, &n, &ct)) return nullptr;
  napi_value null_value = nullptr;
  napi_get_null(env, &null_value);
  if (ct.len < kTag) return null_value;
  uint8_t* out = nullptr;
  napi_value result = NewBytes(env, ct.len - kTag, &out);
  if (result == nullptr) return nullptr;
  if (!siv::OpenComponents(key.data, key.len, parts, lens, n, ct.data, ct.data + kTag,
                           ct.len - kTag, out)) {
    return null_value;
  }
  return result;
}

}  // namespace

void InitAesSiv(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    napi_callback cb;
  };
  static const Entry kEntries[] = {{"sivSeal", SivSeal},
                                   {"sivOpen", SivOpen},
                                   {"sivSealComponents", SivSealComponents},
                                   {"sivOpenComponents", SivOpenComponents}};
  for (const Entry& e : kEntries) {
    napi_value fn = nullptr;
    if (napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.cb, nullptr, &fn) != napi_ok) {
      throw Napi::Error::New(env, "cannot create AES-SIV functions");
    }
    exports.Set(e.name, Napi::Value(env, fn));
  }
}

}  // namespace ntpd
