// UnixDgramSocket (see unix_dgram.h):
//
//   new UnixDgramSocket(path)   socket + bind; the file must not exist (the TypeScript
//                               side removes a stale one and sets its permissions)
//   start(onDatagram)           reads on the event loop: onDatagram(bytes, length) per
//                               datagram, `bytes` at most kMaxDatagram long, `length`
//                               the datagram's real length (MSG_TRUNC), so an oversized
//                               one is seen as such and never read past the buffer
//   close()                     stops reading and closes the socket (idempotent)
//   unixDgramSend(path, bytes)  one datagram to the socket at `path` (what gpsd does;
//                               for tests and tools)

#include "unix_dgram.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <cstddef>
#include <cstring>
#include <optional>
#include <string>

#include "errors.h"
#include "napi_extras.h"

namespace ntpd {
namespace {

// A chrony SOCK sample is 40 bytes; a little more shows what a wrong writer sends.
constexpr size_t kMaxDatagram = 256;
// Datagrams read per wakeup before yielding to the loop (a flood cannot starve it).
constexpr int kMaxPerWakeup = 64;

void DeletePoll(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

class UnixDgramSocket : public Napi::ObjectWrap<UnixDgramSocket> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "UnixDgramSocket",
                       {InstanceMethod("start", &UnixDgramSocket::Start),
                        InstanceMethod("close", &UnixDgramSocket::Close)});
  }

  explicit UnixDgramSocket(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<UnixDgramSocket>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "UnixDgramSocket: path must be a string");
    }
    std::string path = info[0].As<Napi::String>().Utf8Value();
    sockaddr_un addr;
    std::memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof addr.sun_path) {
      ThrowErrno(env, ENAMETOOLONG, "bind", path);
    }
    std::memcpy(addr.sun_path, path.data(), path.size());
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) ThrowErrno(env, errno, "socket", path);
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
      int err = errno;
      ::close(fd);
      ThrowErrno(env, err, "bind", path);
    }
    fd_ = fd;
  }

  ~UnixDgramSocket() override { CloseFd(); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (fd_ < 0) ThrowCodeError(env, "ERR_SOCKET_CLOSED", "start: socket is closed");
    if (info.Length() < 1 || !info[0].IsFunction()) {
      ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "start: onDatagram must be a function");
    }
    if (poll_ != nullptr) ThrowCodeError(env, "ERR_INVALID_STATE", "start: already started");
    on_datagram_ = Napi::Persistent(info[0].As<Napi::Function>());
    auto* poll = new uv_poll_t;
    int r = uv_poll_init_socket(UvLoop(env), poll, fd_);
    if (r < 0) {
      delete poll;
      ThrowErrno(env, -r, "uv_poll_init");
    }
    poll->data = this;
    r = uv_poll_start(poll, UV_READABLE, OnPoll);
    if (r < 0) {
      uv_close(reinterpret_cast<uv_handle_t*>(poll), DeletePoll);
      ThrowErrno(env, -r, "uv_poll_start");
    }
    poll_ = poll;
    async_context_.emplace(env, "ntpd.UnixDgramSocket", Value());
    Ref();  // alive while the loop may call us; close() lets go
    return env.Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    bool was_polling = poll_ != nullptr;
    CloseFd();
    if (was_polling) {
      on_datagram_.Reset();
      Unref();
    }
    return info.Env().Undefined();
  }

  void CloseFd() {
    if (poll_ != nullptr) {
      uv_poll_stop(poll_);
      poll_->data = nullptr;
      uv_close(reinterpret_cast<uv_handle_t*>(poll_), DeletePoll);
      poll_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<UnixDgramSocket*>(handle->data);
    if (self == nullptr || self->fd_ < 0 || status < 0) return;
    Napi::Env env = self->Env();
    try {
      Napi::HandleScope scope(env);
      CallbackScope callbacks(self->Value(), self->async_context_);
      unsigned char buffer[kMaxDatagram];
      for (int i = 0; i < kMaxPerWakeup && self->fd_ >= 0; ++i) {
        ssize_t n = recv(self->fd_, buffer, sizeof buffer, MSG_DONTWAIT | MSG_TRUNC);
        if (n < 0) {
          if (errno == EINTR) continue;
          return;  // EAGAIN: drained (other errors: nothing to report per datagram)
        }
        size_t kept = static_cast<size_t>(n) < sizeof buffer ? static_cast<size_t>(n) : sizeof buffer;
        Napi::Buffer<unsigned char> bytes = Napi::Buffer<unsigned char>::Copy(env, buffer, kept);
        self->on_datagram_.Call(self->Value(), {bytes, Napi::Number::New(env, static_cast<double>(n))});
      }
    } catch (const Napi::Error& e) {
      ReportUncaught(e);
    }
  }

  int fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  Napi::FunctionReference on_datagram_;
  std::optional<Napi::AsyncContext> async_context_;
};

Napi::Value UnixDgramSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsTypedArray()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "unixDgramSend(path: string, bytes: Uint8Array)");
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  TypedArrayView bytes = ViewTypedArray(info[1]);
  sockaddr_un addr;
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path) {
    ThrowErrno(env, ENAMETOOLONG, "sendto", path);
  }
  std::memcpy(addr.sun_path, path.data(), path.size());
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket", path);
  ssize_t n = sendto(fd, bytes.data, bytes.length, 0, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  int err = errno;
  ::close(fd);
  if (n < 0) ThrowErrno(env, err, "sendto", path);
  return env.Undefined();
}

}  // namespace

Napi::Function InitUnixDgram(Napi::Env env, Napi::Object exports) {
  exports.Set("unixDgramSend", Napi::Function::New(env, UnixDgramSend, "unixDgramSend"));
  return UnixDgramSocket::Init(env);
}

}  // namespace ntpd
