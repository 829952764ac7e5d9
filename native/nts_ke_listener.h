// NtsKeListener: an NTS-KE server's TLS in the addon, on GnuTLS (built only when
// pkg-config finds gnutls; NTPD_HAVE_GNUTLS). node:tls on node's OpenSSL 3.0 costs about
// twice chrony's CPU per key exchange, most of it in OpenSSL's handshake and node's
// JavaScript stream machinery; GnuTLS driven from libuv costs about what chrony does.
//
//   new NtsKeListener(fd, { maxConnections, timeoutMs, maxRequest, peers },
//                     onRequest, onOutcome)
//     Accepts on the listening socket `fd` (made by tcpListen; the listener owns it from
//     now on and closes it) and serves each connection: TLS 1.3 handshake (ALPN ntske/1),
//     the request read up to the end of its End of Message record (or EOF, or
//     maxRequest + 4 octets), then ONE JavaScript call:
//       onRequest(request: Buffer, ended: boolean, peer?: string) -> Uint8Array | undefined
//     during which exportKeys() works on that connection's session; its return value is
//     written, then close_notify, then the socket closes once the client has closed (or
//     at the deadline). undefined: closed without an answer.
//     Connections that end otherwise are reported once, outside any onRequest call:
//       onOutcome(outcome: "refused" | "timeouts" | "failed" | "noAlpn", detail, peer?)
//     `peers`: pass the client's address (only for logs that need it).
//   setCredentials(chainPem, keyPem)   the certificate chain and key for new connections;
//                                      connections under way keep theirs. Throws Error.
//   exportKeys(length, c2sContext, s2cContext) -> Buffer(2 * length): C2S then S2C from
//                                      the TLS exporter (RFC 8915 §5.1); only inside
//                                      onRequest. The caller zeroes it after use.
//   close()                            stops accepting; connections under way finish.
//   accepted, open, port               connections accepted so far, open now; the port
#pragma once

#include <napi.h>

namespace ntpd {

// Exports NtsKeListener when the addon was built with GnuTLS (nothing otherwise).
void InitNtsKeListener(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
