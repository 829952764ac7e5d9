#include "errors.h"

#include <uv.h>

#include <cstring>

namespace ntpd {

std::string ErrnoName(int err) {
  // libuv error codes are -errno on Unix; uv_err_name knows every errno Node knows.
  const char* name = uv_err_name(-err);
  if (name != nullptr && std::strncmp(name, "Unknown", 7) != 0) return name;
  return "E" + std::to_string(err);
}

Napi::Error MakeErrnoError(Napi::Env env, int err, const char* syscall, const std::string& address,
                           int port) {
  std::string code = ErrnoName(err);
  std::string message = std::string(syscall) + " " + code;
  if (!address.empty()) {
    message += " " + address;
    if (port >= 0) message += ":" + std::to_string(port);
  }
  message += " (";
  message += std::strerror(err);
  message += ")";
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  e.Set("errno", Napi::Number::New(env, -err));
  e.Set("syscall", Napi::String::New(env, syscall));
  if (!address.empty()) e.Set("address", Napi::String::New(env, address));
  if (port >= 0) e.Set("port", Napi::Number::New(env, port));
  return e;
}

void ThrowErrno(Napi::Env env, int err, const char* syscall, const std::string& address,
                int port) {
  throw MakeErrnoError(env, err, syscall, address, port);
}

void ThrowTypeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::TypeError e = Napi::TypeError::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

void ThrowRangeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::RangeError e = Napi::RangeError::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

void ThrowCodeError(Napi::Env env, const char* code, const std::string& message) {
  Napi::Error e = Napi::Error::New(env, message);
  e.Set("code", Napi::String::New(env, code));
  throw e;
}

}  // namespace ntpd
