#include "args.h"

#include <cmath>
#include <cstdint>

#include "errors.h"
#include "napi_extras.h"
#include "sockaddr.h"

namespace ntpd {

bool IsGiven(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && !info[i].IsUndefined() && !info[i].IsNull();
}

double IntegerArg(const Napi::Value& value, double min, double max, const std::string& name,
                  const char* code) {
  double d = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : NAN;
  if (!(d >= min && d <= max) || std::floor(d) != d) {
    ThrowTypeError(value.Env(), code,
                   name + " must be an integer in [" +
                       std::to_string(static_cast<int64_t>(min)) + ", " +
                       std::to_string(static_cast<int64_t>(max)) + "]");
  }
  return d;
}

Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!IsGiven(info, i)) return Napi::Object();
  if (!info[i].IsObject()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string(what) + ": options must be an object");
  }
  return info[i].As<Napi::Object>();
}

double IntegerOption(const Napi::Object& options, const char* key, double fallback, double min,
                     double max, const char* what) {
  if (options.IsEmpty()) return fallback;
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return fallback;
  return IntegerArg(v, min, max, std::string(what) + ": " + key);
}

bool BooleanOption(const Napi::Object& options, const char* key, const char* what) {
  if (options.IsEmpty()) return false;
  Napi::Value v = options.Get(key);
  if (v.IsUndefined()) return false;
  if (!v.IsBoolean()) {
    ThrowTypeError(options.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string(what) + ": " + key + " must be a boolean");
  }
  return v.As<Napi::Boolean>().Value();
}

int FamilyArg(const Napi::Value& value, const char* what) {
  double family = value.IsNumber() ? value.As<Napi::Number>().DoubleValue() : 0;
  if (family != 4 && family != 6) {
    ThrowTypeError(value.Env(), "ERR_INVALID_ARG_VALUE",
                   std::string(what) + ": family must be 4 or 6");
  }
  return family == 4 ? AF_INET : AF_INET6;
}

SocketAddressArg AddressArg(const Napi::CallbackInfo& info, size_t i, int family,
                            const char* what) {
  Napi::Env env = info.Env();
  std::string prefix(what);
  if (!info[i].IsString()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", prefix + ": address must be a string");
  }
  SocketAddressArg a;
  a.host = info[i].As<Napi::String>().Utf8Value();
  a.port = static_cast<uint16_t>(
      IntegerArg(info[i + 1], 0, 65535, prefix + ": port", "ERR_SOCKET_BAD_PORT"));
  std::string why;
  if (!ParseSockaddr(family, a.host, a.port, &a.addr, &a.len, &why)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", prefix + ": " + why);
  }
  return a;
}

BytesArg ReadBytesArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  std::string prefix(what);
  TypedArrayView bytes = ViewTypedArray(info[i]);
  if (bytes.type != napi_uint8_array && bytes.type != napi_uint8_clamped_array) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   prefix + ": data must be a Buffer or Uint8Array");
  }
  size_t length = bytes.length;
  if (!info[i + 1].IsUndefined()) {
    length = static_cast<size_t>(
        IntegerArg(info[i + 1], 0, static_cast<double>(length), prefix + ": length"));
  }
  return BytesArg{static_cast<const uint8_t*>(bytes.data), length};
}

TypedArrayView TypedArrayArg(const Napi::CallbackInfo& info, size_t i,
                             napi_typedarray_type type, size_t min_length,
                             const std::string& message) {
  TypedArrayView view = ViewTypedArray(info[i]);
  if (view.type != type || view.length < min_length || !info[i].IsTypedArray()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", message);
  }
  return view;
}

Napi::Function HandlerArg(const Napi::CallbackInfo& info, const char* what) {
  if (!IsGiven(info, 0)) return Napi::Function();
  if (!info[0].IsFunction()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE",
                   std::string(what) + ": handler must be a function or null");
  }
  return info[0].As<Napi::Function>();
}

}  // namespace ntpd
