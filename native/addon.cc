// ntpd_native: the small N-API addon of ntpd-ts (Linux).
//
//   abiVersion                       bumped whenever this interface changes, so the
//                                    TypeScript loader can refuse a stale build
//   CLOCK_REALTIME / CLOCK_MONOTONIC / CLOCK_TAI
//   clockGettime(clockId)            fills clockBuffer: [0] = s, [1] = ns
//   clockBuffer                      Float64Array(2), one per environment
//   adjtimeRead(clockId?)            clock_adjtime(CLOCK_REALTIME or a device, {modes: 0}); read-only
//   clockDeviceOpen / clockDeviceClose, hardwareTimestampingEnable  the [clock] section
//                                    (clock_device.cc; looked up by name, not abiVersion)
//   adjtimeWrite(request)            ADJ_FREQUENCY / ADJ_SETOFFSET / ADJ_STATUS / ADJ_*ERROR
//                                    in one clock_adjtime; dryRun: the timex, no call
//   sdNotify(message, socketPath?)   one datagram to $NOTIFY_SOCKET; false when unset
//   UdpSocket                        kernel-timestamped UDP (see udp_socket.h)
//   sivSeal / sivOpen (+ *Components) AES-SIV-CMAC on OpenSSL (see aes_siv_binding.cc)
//   ntsOpenRequest / ntsSealCookie   an NTS request's cookie and authenticator in one call
//   UnixDgramSocket, unixDgramSend   a bound Unix datagram socket read on the loop (unix_dgram.cc)
//   ppsOpen / ppsFetch / ppsClose    RFC 2783 kernel PPS (pps.cc)
//   (these two are looked up by name, not covered by abiVersion: see src/daemon/native/reference-clocks.ts)
//   tcpListen(family, host, port, backlog, reusePort?)  a listening TCP fd (tcp_listen.cc)
//   NtsKeListener                    NTS-KE's TLS on GnuTLS (nts_ke_listener.h); only in a
//                                    build with GnuTLS
//   ntsKeFastResponse                the listener's key exchange fast path on given keys and
//                                    nonces, for tests and the fuzzer (nts_ke_response_binding.cc)
//
// The TypeScript side (src/daemon/native/) declares these types and wraps them.

#include <napi.h>

#include "aes_siv_binding.h"
#include "clock.h"
#include "pps.h"
#include "nts_ke_listener.h"
#include "nts_ke_response_binding.h"
#include "sd_notify.h"
#include "tcp_listen.h"
#include "udp_socket.h"
#include "unix_dgram.h"

namespace {

// 2: UdpSocket reply mode (setOnMessage(handler, reply)), sendBatchSize
// 3: adjtimeWrite
// 4: UdpSocket txTimestamps option, setOnTxTimestamp, txTimestamps, pollErrorWakeups
// 5: sivSeal, sivOpen, sivSealComponents, sivOpenComponents
// 6: UdpSocket bind(host, port, { reusePort }), tcpListen
// 7: sivPrepareKey, sivWipeKey, sivSealPrepared, sivOpenPrepared, sivImplementation
// 8: UdpSocket setOnMessage(handler, reply, finish): T3 stamped and NTS sealed at the flush
// 9: UdpSocket truncatedDatagrams
// 10: sivSeal/sivOpen take a prepared key too (sivSealPrepared/sivOpenPrepared go);
//     ntsOpenRequest, ntsSealCookie (the NTS server's cookie and authenticator work)
// 11: NtsKeListener (GnuTLS builds), tcpListen's reusePort
// 12: NtsKeListener setFastPath, setCookieKey, fastKeyExchanges; ntsKeFastResponse
// 13: UdpSocket sendCalls; plain replies of a short receive batch sent alone
constexpr int kAbiVersion = 13;

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("abiVersion", Napi::Number::New(env, kAbiVersion));
  ntpd::InitClock(env, exports);
  ntpd::InitClockDevice(env, exports);
  ntpd::InitSdNotify(env, exports);
  ntpd::InitAesSiv(env, exports);
  exports.Set("UdpSocket", ntpd::UdpSocket::Init(env));
  ntpd::InitTcpListen(env, exports);
  exports.Set("UnixDgramSocket", ntpd::InitUnixDgram(env, exports));
  ntpd::InitPps(env, exports);
  ntpd::InitNtsKeListener(env, exports);
  ntpd::InitNtsKeResponse(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ntpd_native, Init)
