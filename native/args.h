// Argument checking of the addon's JS entry points, in one place. Each reader returns
// the argument or throws a TypeError whose Node-style code the TypeScript side and its
// tests rely on (src/daemon/native/udp.ts lists them): ERR_INVALID_ARG_TYPE for a wrong
// type, ERR_OUT_OF_RANGE / ERR_SOCKET_BAD_PORT / ERR_INVALID_ARG_VALUE for a wrong
// value (a number argument that is no number included). `name` starts the message: "bind: port must be an integer in [0, 65535]".
#pragma once

#include <napi.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "napi_extras.h"

namespace ntpd {

// Whether argument i is present and neither undefined nor null.
bool IsGiven(const Napi::CallbackInfo& info, size_t i);

// `value` as an integer in [min, max]; anything else (not a number too, as node:dgram
// and udp-dgram.ts have it) throws `code`.
double IntegerArg(const Napi::Value& value, double min, double max, const std::string& name,
                  const char* code = "ERR_OUT_OF_RANGE");

// Argument i as an options object; an empty Object when it is not given (IsGiven).
Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i, const char* what);

// Option `key` of an options object: an integer in [min, max], `fallback` when undefined.
double IntegerOption(const Napi::Object& options, const char* key, double fallback, double min,
                     double max, const char* what);

// Option `key` of an options object: a boolean, false when undefined.
bool BooleanOption(const Napi::Object& options, const char* key, const char* what);

// An address family argument, 4 or 6, as AF_INET / AF_INET6 (else ERR_INVALID_ARG_VALUE).
int FamilyArg(const Napi::Value& value, const char* what);

// An IP literal and a port (arguments i and i + 1) as a sockaddr of `family`
// (AF_INET / AF_INET6; see ParseSockaddr). `host` and `port` are kept for error messages.
struct SocketAddressArg {
  std::string host;
  uint16_t port;
  sockaddr_storage addr;
  socklen_t len;
};
SocketAddressArg AddressArg(const Napi::CallbackInfo& info, size_t i, int family,
                            const char* what);

// Bytes to send: argument i (a Buffer or Uint8Array) and optional length, argument
// i + 1 (undefined: all of it; at most all of it).
struct BytesArg {
  const uint8_t* data;
  size_t length;
};
BytesArg ReadBytesArg(const Napi::CallbackInfo& info, size_t i, const char* what);

// Argument i as a typed array of `type` with at least `min_length` elements, else
// ERR_INVALID_ARG_TYPE with `message`.
TypedArrayView TypedArrayArg(const Napi::CallbackInfo& info, size_t i,
                             napi_typedarray_type type, size_t min_length,
                             const std::string& message);

// Argument 0 of a handler setter: a function, or an empty Function for null/undefined.
Napi::Function HandlerArg(const Napi::CallbackInfo& info, const char* what);

}  // namespace ntpd
