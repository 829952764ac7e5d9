// A listening TCP socket with SO_REUSEPORT, for node:net (which cannot set it).
#pragma once

#include <napi.h>

namespace ntpd {

// Exports tcpListen(family, host, port, backlog) -> fd.
void InitTcpListen(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
