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
//     `key` is the key bytes (a Uint8Array of 32, 48 or 64 octets, set up on every call)
//     or a prepared key (below).
//   sivSealComponents(key, components[], pt) -> Uint8Array V ‖ C
//   sivOpenComponents(key, components[], ct) -> Uint8Array | null
//       RFC 5297 with 0 to 126 associated-data components; they allocate,
//       for tests and one-off use.
//   sivPrepareKey(key) -> handle; sivWipeKey(handle)
//       A long-lived key set up once (aes_siv_prepared.h: the cookie master keys); the
//       handle (an external) stands for the key bytes in sivSeal/sivOpen and the nts*
//       functions. Its memory is wiped by sivWipeKey or, at the latest, when the handle
//       is collected.
//   sivImplementation([name]) -> "aesni" | "openssl"
//       The code AES-SIV with 32- and 64-octet keys runs on (aes_siv_components.h);
//       with a name, switches to it first when this CPU has it. For tests and benchmarks.
//
// The NTS server's per-request AEAD work in as few calls as it can (issue #8: each call
// with a dozen arguments cost ~170 ns in conversions, more than the AES work), on a
// scratch Uint8Array `io` of at least kNtsIoBytes that the caller owns
// (src/daemon/native/nts-crypto.ts is the other side of this layout): 16 native-endian
// u32 parameter words, then the cookie plaintext at kNtsCookieOffset, then the request's
// plaintext at kNtsPlaintextOffset.
//
//   ntsOpenRequest(master, request, io) -> n >= 0 | -1 | -2
//       Opens the cookie request[w0, ...) (RFC 8915 cookie as this server mints it: key
//       id, u16 length, 16-octet nonce at +6, V ‖ C of w1 octets at +22, empty associated
//       data) with the prepared master key into the cookie plaintext; -1 when it does not
//       authenticate or is not 2 + 2 × w2 octets (u16 AEAD id ‖ S2C key ‖ C2S key, keys of
//       w2 = 32 or 64 octets). Then opens the authenticator with the C2S key (AES-SIV with
//       a 2 × 16- or 2 × 32-octet key): associated data request[0, w3), nonce
//       request[w4, +w5), V ‖ C request[w6, +w7), into the request plaintext; -2 when it
//       does not authenticate (or the nonce is empty, or w7 < 16). Else returns the
//       plaintext length. The AEAD id in the cookie plaintext is the caller's to check.
//   ntsSealCookie(primary, out, io) -> true
//       Seals the cookie plaintext io[kNtsCookieOffset, +w9) as a cookie body at
//       out[w8, ...): the nonce already at out[w8 + 6, +16), V ‖ C written at w8 + 22
//       (empty associated data). The key id and length octets are the caller's.
//
// Bad arguments (not a Uint8Array, a range outside its array, a key that is not 32, 48
// or 64 octets) throw TypeError/RangeError: they are programming errors, never input.
// A zero-length range is not looked at (its array and offset may be anything).
// No allocation in sivSeal/sivOpen and the nts* functions.

#include "aes_siv_binding.h"

#include <openssl/crypto.h>

#include <cstring>

#include "aes_siv.h"
#include "aes_siv_components.h"
#include "aes_siv_prepared.h"

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

// The Uint8Arrays of one call already looked up: NTS passes the same array several
// times (the request holds the associated data, nonce and ciphertext), and a strict
// equality check costs a fraction of a typed-array lookup.
struct ArrayCache {
  napi_value values[4];
  uint8_t* bases[4];
  size_t sizes[4];
  int count = 0;

  bool Get(napi_env env, napi_value value, uint8_t** base, size_t* size) {
    for (int i = 0; i < count; i++) {
      bool same = false;
      if (napi_strict_equals(env, value, values[i], &same) == napi_ok && same) {
        *base = bases[i];
        *size = sizes[i];
        return true;
      }
    }
    if (!GetBytes(env, value, base, size)) return false;
    if (count < 4) {
      values[count] = value;
      bases[count] = *base;
      sizes[count] = *size;
      count++;
    }
    return true;
  }
};

// 0: ok; 1: type error; 2: out of range. A zero-length range is not looked at.
int GetRange(napi_env env, const napi_value* argv, ArrayCache* cache, Range* r) {
  size_t off = 0;
  size_t len = 0;
  if (!GetIndex(env, argv[1], &off) || !GetIndex(env, argv[2], &len)) return 1;
  r->len = len;
  if (len == 0) {
    r->data = nullptr;
    return 0;
  }
  uint8_t* base = nullptr;
  size_t size = 0;
  if (!cache->Get(env, argv[0], &base, &size)) return 1;
  if (off > size || len > size - off) return 2;
  r->data = base + off;
  return 0;
}

bool IsKeyLength(size_t n) { return n == 32 || n == 48 || n == 64; }

// A prepared key as JS holds it (an external); the tag tells it from other externals.
struct KeyBox {
  static constexpr uint32_t kTag = 0x4b564953;  // "SIVK"
  uint32_t tag = kTag;
  siv::PreparedKey key;
  KeyBox(const uint8_t* bytes, size_t len) : key(bytes, len) {}
};

KeyBox* GetKeyBox(napi_env env, napi_value value) {
  void* raw = nullptr;
  if (napi_get_value_external(env, value, &raw) != napi_ok || raw == nullptr) return nullptr;
  auto* box = static_cast<KeyBox*>(raw);
  return box->tag == KeyBox::kTag ? box : nullptr;
}

// The key argument of a seal or open: key bytes (a Uint8Array) or a prepared key.
struct KeyArg {
  Range bytes;
  const siv::PreparedKey* prepared = nullptr;
};

// Key bytes (a Uint8Array) or a prepared key (an external from sivPrepareKey). False with
// an exception pending.
bool GetKeyArg(napi_env env, napi_value value, KeyArg* key) {
  napi_valuetype type = napi_undefined;
  if (napi_typeof(env, value, &type) != napi_ok) return false;
  if (type == napi_external) {
    KeyBox* box = GetKeyBox(env, value);
    if (box == nullptr) {
      Throw(env, false, "AES-SIV: expected a key from sivPrepareKey");
      return false;
    }
    if (!box->key.Valid()) {
      Throw(env, false, "AES-SIV: the prepared key was wiped");
      return false;
    }
    key->prepared = &box->key;
    return true;
  }
  size_t key_size = 0;
  if (!GetBytes(env, value, &key->bytes.data, &key_size)) {
    Throw(env, false, "AES-SIV key must be a Uint8Array or a key from sivPrepareKey");
    return false;
  }
  key->bytes.len = key_size;
  if (!IsKeyLength(key_size)) {
    Throw(env, true, "AES-SIV-CMAC key must be 32, 48 or 64 octets");
    return false;
  }
  return true;
}

// A prepared key only (the nts* functions). False with an exception pending.
const siv::PreparedKey* GetPreparedKey(napi_env env, napi_value value) {
  KeyArg key;
  if (!GetKeyArg(env, value, &key)) return nullptr;
  if (key.prepared == nullptr) Throw(env, false, "AES-SIV: expected a key from sivPrepareKey");
  return key.prepared;
}

// Unpacks the 12 arguments shared by sivSeal and sivOpen. False with an exception pending.
bool Unpack(napi_env env, napi_callback_info info, const char* name, KeyArg* key, Range* ad,
            Range* nonce, Range* data, uint8_t** out, size_t* out_room) {
  size_t argc = 12;
  napi_value argv[12];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return false;
  if (argc < 12) {
    Throw(env, false, name);
    return false;
  }
  if (!GetKeyArg(env, argv[0], key)) return false;
  ArrayCache cache;
  int rc = GetRange(env, argv + 1, &cache, ad);
  if (rc == 0) rc = GetRange(env, argv + 4, &cache, nonce);
  if (rc == 0) rc = GetRange(env, argv + 7, &cache, data);
  uint8_t* out_base = nullptr;
  size_t out_size = 0;
  size_t out_off = 0;
  if (rc == 0 && (!cache.Get(env, argv[10], &out_base, &out_size) ||
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
  KeyArg key;
  Range ad, nonce, pt;
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
  const uint8_t* parts[2] = {ad.data, nonce.data};
  const size_t lens[2] = {ad.len, nonce.len};
  const bool ok =
      key.prepared != nullptr
          ? key.prepared->Seal(parts, lens, 2, pt.data, pt.len, out, out + kTag)
          : siv::SealComponents(key.bytes.data, key.bytes.len, parts, lens, 2, pt.data, pt.len,
                                out, out + kTag);
  return Boolean(env, ok);
}

napi_value SivOpen(napi_env env, napi_callback_info info) {
  KeyArg key;
  Range ad, nonce, ct;
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
  const uint8_t* parts[2] = {ad.data, nonce.data};
  const size_t lens[2] = {ad.len, nonce.len};
  const bool ok = key.prepared != nullptr
                      ? key.prepared->Open(parts, lens, 2, ct.data, ct.data + kTag, pt_len, out)
                      : siv::OpenComponents(key.bytes.data, key.bytes.len, parts, lens, 2,
                                            ct.data, ct.data + kTag, pt_len, out);
  return Boolean(env, ok);
}


// The io layout of the nts* functions (src/daemon/native/nts-crypto.ts mirrors it).
constexpr size_t kNtsWords = 16;
constexpr size_t kNtsCookieOffset = kNtsWords * 4;
constexpr size_t kNtsMaxCookiePlaintext = 2 + 2 * 64;
constexpr size_t kNtsPlaintextOffset = kNtsCookieOffset + 132;
constexpr size_t kNtsMaxPlaintext = 2048;
constexpr size_t kNtsIoBytes = kNtsPlaintextOffset + kNtsMaxPlaintext;
// The cookie as this server mints it: key id (4), length (2), nonce (16), V ‖ C.
constexpr size_t kCookieNonceOffset = 6;
constexpr size_t kCookieNonceLength = 16;
constexpr size_t kCookieBodyOffset = 22;

// [off, off + len) lies within [0, size).
bool Within(size_t off, size_t len, size_t size) { return off <= size && len <= size - off; }

// The io argument and its words; false with an exception pending.
bool GetIo(napi_env env, napi_value value, uint8_t** io, const uint32_t** words) {
  size_t size = 0;
  if (!GetBytes(env, value, io, &size)) {
    Throw(env, false, "nts: io must be a Uint8Array");
    return false;
  }
  if (size < kNtsIoBytes || reinterpret_cast<uintptr_t>(*io) % alignof(uint32_t) != 0) {
    Throw(env, true, "nts: io too small or misaligned");
    return false;
  }
  *words = reinterpret_cast<const uint32_t*>(*io);
  return true;
}

napi_value Int32(napi_env env, int32_t value) {
  napi_value result = nullptr;
  napi_create_int32(env, value, &result);
  return result;
}

napi_value NtsOpenRequest(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc < 3) return Throw(env, false, "ntsOpenRequest takes (master, request, io)");
  const siv::PreparedKey* master = GetPreparedKey(env, argv[0]);
  if (master == nullptr) return nullptr;
  uint8_t* request = nullptr;
  size_t size = 0;
  if (!GetBytes(env, argv[1], &request, &size)) {
    return Throw(env, false, "ntsOpenRequest: request must be a Uint8Array");
  }
  uint8_t* io = nullptr;
  const uint32_t* w = nullptr;
  if (!GetIo(env, argv[2], &io, &w)) return nullptr;
  const size_t cookie = w[0], sealed = w[1], k = w[2];
  const size_t ad_len = w[3], nonce_off = w[4], nonce_len = w[5], ct_off = w[6], ct_len = w[7];
  if (!Within(cookie, kCookieBodyOffset + sealed, size) || sealed < kTag ||
      sealed - kTag > kNtsMaxCookiePlaintext || (k != 32 && k != 64) || ad_len > size ||
      !Within(nonce_off, nonce_len, size) || !Within(ct_off, ct_len, size) ||
      (ct_len >= kTag && ct_len - kTag > kNtsMaxPlaintext)) {
    return Throw(env, true, "ntsOpenRequest: a range is outside its array");
  }
  uint8_t* cookie_pt = io + kNtsCookieOffset;
  const size_t cookie_pt_len = sealed - kTag;
  const uint8_t* body = request + cookie + kCookieBodyOffset;
  const uint8_t* cookie_parts[2] = {nullptr, request + cookie + kCookieNonceOffset};
  const size_t cookie_lens[2] = {0, kCookieNonceLength};  // empty associated data, nonce
  if (!master->Open(cookie_parts, cookie_lens, 2, body, body + kTag, cookie_pt_len, cookie_pt)) {
    return Int32(env, -1);  // the output is zeroed
  }
  if (cookie_pt_len != 2 + 2 * k) {
    OPENSSL_cleanse(cookie_pt, cookie_pt_len);  // authentic, but not the layout: keys unused
    return Int32(env, -1);
  }
  if (nonce_len == 0 || ct_len < kTag) return Int32(env, -2);
  const uint8_t* parts[2] = {request, request + nonce_off};
  const size_t lens[2] = {ad_len, nonce_len};
  const uint8_t* ct = request + ct_off;
  const size_t pt_len = ct_len - kTag;
  if (!siv::OpenComponents(cookie_pt + 2 + k, k, parts, lens, 2, ct, ct + kTag, pt_len,
                           io + kNtsPlaintextOffset)) {
    return Int32(env, -2);
  }
  return Int32(env, static_cast<int32_t>(pt_len));
}

napi_value NtsSealCookie(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  if (argc < 3) return Throw(env, false, "ntsSealCookie takes (primary, out, io)");
  const siv::PreparedKey* primary = GetPreparedKey(env, argv[0]);
  if (primary == nullptr) return nullptr;
  uint8_t* out = nullptr;
  size_t size = 0;
  if (!GetBytes(env, argv[1], &out, &size)) {
    return Throw(env, false, "ntsSealCookie: out must be a Uint8Array");
  }
  uint8_t* io = nullptr;
  const uint32_t* w = nullptr;
  if (!GetIo(env, argv[2], &io, &w)) return nullptr;
  const size_t cookie = w[8], pt_len = w[9];
  if (pt_len > kNtsMaxCookiePlaintext ||
      !Within(cookie, kCookieBodyOffset + kTag + pt_len, size)) {
    return Throw(env, true, "ntsSealCookie: a range is outside its array");
  }
  const uint8_t* parts[2] = {nullptr, out + cookie + kCookieNonceOffset};
  const size_t lens[2] = {0, kCookieNonceLength};
  uint8_t* body = out + cookie + kCookieBodyOffset;
  if (Overlaps(io + kNtsCookieOffset, pt_len, body, kTag + pt_len)) {
    return Throw(env, true, "ntsSealCookie: the cookie overlaps its plaintext");
  }
  return Boolean(env, primary->Seal(parts, lens, 2, io + kNtsCookieOffset, pt_len, body,
                                    body + kTag));
}

void FinalizeKeyBox(napi_env, void* data, void*) { delete static_cast<KeyBox*>(data); }

napi_value SivPrepareKey(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  uint8_t* bytes = nullptr;
  size_t len = 0;
  if (argc < 1 || !GetBytes(env, argv[0], &bytes, &len)) {
    return Throw(env, false, "AES-SIV key must be a Uint8Array");
  }
  if (!IsKeyLength(len)) return Throw(env, true, "AES-SIV-CMAC key must be 32, 48 or 64 octets");
  auto* box = new KeyBox(bytes, len);
  napi_value result = nullptr;
  if (napi_create_external(env, box, FinalizeKeyBox, nullptr, &result) != napi_ok) {
    delete box;
    return nullptr;
  }
  return result;
}

napi_value SivWipeKey(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  KeyBox* box = argc < 1 ? nullptr : GetKeyBox(env, argv[0]);
  if (box == nullptr) return Throw(env, false, "AES-SIV: expected a key from sivPrepareKey");
  box->key.Wipe();
  return nullptr;
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

napi_value SivImplementation(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  napi_valuetype type = napi_undefined;
  if (argc >= 1 && napi_typeof(env, argv[0], &type) != napi_ok) return nullptr;
  if (type != napi_undefined) {
    char name[16] = {};
    size_t len = 0;
    if (type != napi_string ||
        napi_get_value_string_utf8(env, argv[0], name, sizeof name, &len) != napi_ok) {
      return Throw(env, false, "sivImplementation takes \"aesni\" or \"openssl\"");
    }
    if (std::strcmp(name, "aesni") == 0) {
      siv::SetImplementation(siv::Implementation::kAesNi);
    } else if (std::strcmp(name, "openssl") == 0) {
      siv::SetImplementation(siv::Implementation::kOpenSsl);
    } else {
      return Throw(env, true, "sivImplementation takes \"aesni\" or \"openssl\"");
    }
  }
  const char* current =
      siv::CurrentImplementation() == siv::Implementation::kAesNi ? "aesni" : "openssl";
  napi_value result = nullptr;
  napi_create_string_utf8(env, current, NAPI_AUTO_LENGTH, &result);
  return result;
}

}  // namespace

const siv::PreparedKey* PreparedKeyOf(napi_env env, napi_value value) {
  napi_valuetype type = napi_undefined;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external) return nullptr;
  KeyBox* box = GetKeyBox(env, value);
  return box == nullptr ? nullptr : &box->key;
}

void InitAesSiv(Napi::Env env, Napi::Object exports) {
  struct Entry {
    const char* name;
    napi_callback cb;
  };
  static const Entry kEntries[] = {{"sivSeal", SivSeal},
                                   {"sivOpen", SivOpen},
                                   {"sivSealComponents", SivSealComponents},
                                   {"sivOpenComponents", SivOpenComponents},
                                   {"sivImplementation", SivImplementation},
                                   {"sivPrepareKey", SivPrepareKey},
                                   {"sivWipeKey", SivWipeKey},
                                   {"ntsOpenRequest", NtsOpenRequest},
                                   {"ntsSealCookie", NtsSealCookie}};
  for (const Entry& e : kEntries) {
    napi_value fn = nullptr;
    if (napi_create_function(env, e.name, NAPI_AUTO_LENGTH, e.cb, nullptr, &fn) != napi_ok) {
      throw Napi::Error::New(env, "cannot create AES-SIV functions");
    }
    exports.Set(e.name, Napi::Value(env, fn));
  }
}

}  // namespace ntpd
