// UnixDgramSocket: a bound AF_UNIX SOCK_DGRAM socket that reads on the event loop, for
// the `sock` reference clock (gpsd writes chrony SOCK samples to it). Node's dgram has no
// Unix datagram sockets.
#pragma once

#include <napi.h>

namespace ntpd {

// Also exports unixDgramSend; returns the UnixDgramSocket class.
Napi::Function InitUnixDgram(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
