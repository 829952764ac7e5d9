// sdNotify(message, socketPath?) sends `message` ("READY=1", "STATUS=...", "STOPPING=1")
// as one AF_UNIX SOCK_DGRAM datagram to `socketPath`, or to $NOTIFY_SOCKET read from the
// C environment when `socketPath` is omitted. A leading '@' names an abstract socket.
// Returns false when there is no socket to notify (variable unset or empty), true when
// the datagram was sent; throws an errno error when sending fails.

#include "sd_notify.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>

#include "errors.h"

namespace ntpd {
namespace {

Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "sdNotify: message must be a string");
  }
  std::string message = info[0].As<Napi::String>().Utf8Value();
  std::string path;
  if (info.Length() >= 2 && !info[1].IsUndefined() && !info[1].IsNull()) {
    if (!info[1].IsString()) {
      ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "sdNotify: socketPath must be a string");
    }
    path = info[1].As<Napi::String>().Utf8Value();
  } else {
    const char* env_path = std::getenv("NOTIFY_SOCKET");
    if (env_path != nullptr) path = env_path;
  }
  if (path.empty()) return Napi::Boolean::New(env, false);

  sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path[0] != '/' && path[0] != '@') {
    // systemd also knows "vsock:..." addresses; not supported here.
    ThrowErrno(env, EAFNOSUPPORT, "sd_notify", path);
  }
  if (path.size() > sizeof addr.sun_path || (path[0] == '/' && path.size() == sizeof addr.sun_path)) {
    ThrowErrno(env, ENAMETOOLONG, "sd_notify", path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size());
  if (path[0] == '@') {
    addr.sun_path[0] = '\0';  // abstract namespace: no trailing NUL counted
  } else {
    len += 1;  // include the terminating NUL of a filesystem path
  }

  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  ssize_t n;
  do {
    n = sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&addr), len);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) ThrowErrno(env, err, "sd_notify", path);
  return Napi::Boolean::New(env, true);
}

}  // namespace

void InitSdNotify(Napi::Env env, Napi::Object exports) {
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
}

}  // namespace ntpd
