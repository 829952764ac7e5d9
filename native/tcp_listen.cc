// tcpListen(family, host, port, backlog, reusePort = true): socket + SO_REUSEADDR + SO_REUSEPORT + bind +
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

#include "args.h"
#include "errors.h"

namespace ntpd {
namespace {

Napi::Value TcpListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int af = FamilyArg(info[0], "tcpListen");
  SocketAddressArg a = AddressArg(info, 1, af, "tcpListen");
  int backlog = static_cast<int>(IntegerArg(info[3], 1, 65535, "tcpListen: backlog"));
  // reusePort false: one listener alone on the port (the native NTS-KE listener of the
  // main thread), as node:net's listen() would bind it.
  bool reuse_port = !info[4].IsBoolean() || info[4].As<Napi::Boolean>().Value();
  int fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket", a.host, a.port);
  int on = 1;
  const char* step = "setsockopt";
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) == 0 &&
      (!reuse_port || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == 0) &&
      (step = "bind", ::bind(fd, reinterpret_cast<sockaddr*>(&a.addr), a.len) == 0) &&
      (step = "listen", ::listen(fd, backlog) == 0)) {
    return Napi::Number::New(env, fd);
  }
  int err = errno;
  close(fd);
  ThrowErrno(env, err, step, a.host, a.port);
}

}  // namespace

void InitTcpListen(Napi::Env env, Napi::Object exports) {
  exports.Set("tcpListen", Napi::Function::New<TcpListen>(env, "tcpListen"));
}

}  // namespace ntpd
