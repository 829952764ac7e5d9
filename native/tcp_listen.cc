// tcpListen(family, host, port, backlog): socket + SO_REUSEADDR + SO_REUSEPORT + bind +
// listen, returns the listening fd (non-blocking, close-on-exec). Each NTS-KE serving
// thread makes its own and hands it to node:tls with server.listen({ fd }): the kernel
// then spreads new connections over the threads' listeners. Node's net module sets
// SO_REUSEADDR itself but has no SO_REUSEPORT (Node 20; 22.12+ has `reusePort`).
//
// Errors are Node-style errno errors (code "EADDRINUSE", syscall "bind", address, port).
// The caller owns the fd: node:net closes it with the server.

#include "tcp_listen.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <string>

#include "errors.h"
#include "sockaddr.h"

namespace ntpd {
namespace {

Napi::Value TcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsString() || !info[2].IsNumber() ||
      !info[3].IsNumber()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "tcpListen(family, host, port, backlog): wrong argument types");
  }
  double family = info[0].As<Napi::Number>().DoubleValue();
  if (family != 4 && family != 6) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "tcpListen: family must be 4 or 6");
  }
  std::string host = info[1].As<Napi::String>().Utf8Value();
  double p = info[2].As<Napi::Number>().DoubleValue();
  if (!(p >= 0 && p <= 65535) || std::floor(p) != p) {
    ThrowTypeError(env, "ERR_SOCKET_BAD_PORT", "tcpListen: port must be an integer in [0, 65535]");
  }
  double backlog = info[3].As<Napi::Number>().DoubleValue();
  if (!(backlog >= 1 && backlog <= 65535) || std::floor(backlog) != backlog) {
    ThrowTypeError(env, "ERR_OUT_OF_RANGE", "tcpListen: backlog must be an integer in [1, 65535]");
  }
  int af = family == 4 ? AF_INET : AF_INET6;
  uint16_t port = static_cast<uint16_t>(p);
  sockaddr_storage addr;
  socklen_t len;
  std::string why;
  if (!ParseSockaddr(af, host, port, &addr, &len, &why)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "tcpListen: " + why);
  }
  int fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket", host, port);
  int on = 1;
  const char* step = "setsockopt";
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == 0 &&
      (step = "bind", ::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0) &&
      (step = "listen", ::listen(fd, static_cast<int>(backlog)) == 0)) {
    return Napi::Number::New(env, fd);
  }
  int err = errno;
  close(fd);
  ThrowErrno(env, err, step, host, port);
}

}  // namespace

void InitTcpListen(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpListen", Napi::Function::New<TcpListen>(env, "tcpListen"));
}

}  // namespace ntpd
