// Errors thrown to JavaScript: Node-style errno errors (code, errno, syscall).
#pragma once

#include <napi.h>

#include <string>

namespace ntpd {

// An Error shaped like Node's own system errors:
//   message "<syscall> <CODE> <detail>", code "EADDRINUSE", errno -98 (negative, as
//   libuv and Node report it), syscall "bind", plus "address"/"port" when given.
Napi::Error MakeErrnoError(Napi::Env env, int err, const char* syscall,
                           const std::string& address = std::string(), int port = -1);

// Throws MakeErrnoError(...) as a C++ exception (NAPI_CPP_EXCEPTIONS); node-addon-api
// turns it into a JS exception at the call boundary.
[[noreturn]] void ThrowErrno(Napi::Env env, int err, const char* syscall,
                             const std::string& address = std::string(), int port = -1);

// A TypeError with a Node-style code (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE...).
[[noreturn]] void ThrowTypeError(Napi::Env env, const char* code, const std::string& message);

// A RangeError with a Node-style code (ERR_OUT_OF_RANGE).
[[noreturn]] void ThrowRangeError(Napi::Env env, const char* code, const std::string& message);

// An Error with a code and no errno (e.g. ERR_SOCKET_CLOSED).
[[noreturn]] void ThrowCodeError(Napi::Env env, const char* code, const std::string& message);

// "EADDRINUSE" for 98, via libuv's table; "E<number>" if unknown.
std::string ErrnoName(int err);

}  // namespace ntpd
