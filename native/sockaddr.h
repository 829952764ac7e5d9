// IP address text <-> sockaddr, for IPv4 and IPv6 sockets.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ntpd {

// Longest text FormatSockaddr writes: an IPv6 literal, '%', an interface name, NUL.
constexpr size_t kAddressTextMax = 64;

// Parses `host` ("192.0.2.1", "2001:db8::1", "fe80::1%eth0", "fe80::1%2") and `port`
// into a sockaddr for a socket of `family` (AF_INET or AF_INET6). On an AF_INET6 socket
// an IPv4 literal becomes the v4-mapped ::ffff:a.b.c.d. Returns false and sets `why`
// on malformed input.
bool ParseSockaddr(int family, const std::string& host, uint16_t port, sockaddr_storage* out,
                   socklen_t* out_len, std::string* why);

// Writes the address as text (as inet_ntop writes it; a v4-mapped peer on a dual-stack
// socket stays "::ffff:a.b.c.d"; a scope id becomes "%ifname") into `out` (at least
// kAddressTextMax bytes) and returns its length; the port goes to `*port`. IPv4 and
// v4-mapped addresses are formatted by hand (glibc's inet_ntop goes through sprintf,
// about 2% of the server's CPU per response).
size_t FormatSockaddr(const sockaddr_storage& addr, char* out, uint16_t* port);

}  // namespace ntpd
