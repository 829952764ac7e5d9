#include "sockaddr.h"

#include <arpa/inet.h>
#include <net/if.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ntpd {

bool ParseSockaddr(int family, const std::string& host, uint16_t port, sockaddr_storage* out,
                   socklen_t* out_len, std::string* why) {
  std::memset(out, 0, sizeof *out);
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    if (inet_pton(AF_INET, host.c_str(), &sin->sin_addr) != 1) {
      *why = "not an IPv4 address: \"" + host + "\"";
      return false;
    }
    *out_len = sizeof(sockaddr_in);
    return true;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  *out_len = sizeof(sockaddr_in6);
  std::string literal = host;
  std::string scope;
  size_t percent = host.find('%');
  if (percent != std::string::npos) {
    literal = host.substr(0, percent);
    scope = host.substr(percent + 1);
  }
  if (inet_pton(AF_INET6, literal.c_str(), &sin6->sin6_addr) == 1) {
    if (!scope.empty()) {
      char* end = nullptr;
      unsigned long index = std::strtoul(scope.c_str(), &end, 10);
      if (end == nullptr || *end != '\0') index = if_nametoindex(scope.c_str());
      if (index == 0) {
        *why = "unknown IPv6 scope \"" + scope + "\" in \"" + host + "\"";
        return false;
      }
      sin6->sin6_scope_id = static_cast<uint32_t>(index);
    }
    return true;
  }
  in_addr v4;
  if (scope.empty() && inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    // v4-mapped ::ffff:a.b.c.d, so a dual-stack socket can reach IPv4 peers.
    sin6->sin6_addr.s6_addr[10] = 0xff;
    sin6->sin6_addr.s6_addr[11] = 0xff;
    std::memcpy(&sin6->sin6_addr.s6_addr[12], &v4, 4);
    return true;
  }
  *why = "not an IP address: \"" + host + "\"";
  return false;
}

namespace {

// Dotted quad of the 4 bytes at `b` (as inet_ntop writes it); returns its length.
size_t FormatIpv4(const uint8_t* b, char* out) {
  char* p = out;
  for (int i = 0; i < 4; ++i) {
    unsigned v = b[i];
    if (v >= 100) {
      *p++ = static_cast<char>('0' + v / 100);
      *p++ = static_cast<char>('0' + v / 10 % 10);
    } else if (v >= 10) {
      *p++ = static_cast<char>('0' + v / 10);
    }
    *p++ = static_cast<char>('0' + v % 10);
    if (i < 3) *p++ = '.';
  }
  *p = '\0';
  return static_cast<size_t>(p - out);
}

bool IsV4Mapped(const in6_addr& a) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(a.s6_addr, kPrefix, sizeof kPrefix) == 0;
}

}  // namespace

size_t FormatSockaddr(const sockaddr_storage& addr, char* out, uint16_t* port) {
  out[0] = '\0';
  if (addr.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&addr);
    *port = ntohs(sin->sin_port);
    return FormatIpv4(reinterpret_cast<const uint8_t*>(&sin->sin_addr), out);
  }
  if (addr.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    if (sin6->sin6_scope_id == 0 && IsV4Mapped(sin6->sin6_addr)) {
      *port = ntohs(sin6->sin6_port);
      std::memcpy(out, "::ffff:", 7);
      return 7 + FormatIpv4(&sin6->sin6_addr.s6_addr[12], out + 7);
    }
    inet_ntop(AF_INET6, &sin6->sin6_addr, out, kAddressTextMax);
    *port = ntohs(sin6->sin6_port);
    size_t len = std::strlen(out);
    if (sin6->sin6_scope_id != 0) {
      char name[IF_NAMESIZE];
      if (if_indextoname(sin6->sin6_scope_id, name) != nullptr) {
        std::snprintf(out + len, kAddressTextMax - len, "%%%s", name);
      } else {
        std::snprintf(out + len, kAddressTextMax - len, "%%%u", sin6->sin6_scope_id);
      }
      len = std::strlen(out);
    }
    return len;
  }
  *port = 0;
  return 0;
}

}  // namespace ntpd
