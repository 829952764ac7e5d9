// UdpSocket, receive side: the poll callback. Buffer lifetimes: udp_socket.h.
//
// The fd is polled (UV_READABLE) on the libuv loop of the environment that bound or
// connected it. When it is readable, recvmmsg drains up to `batchSize` datagrams at a
// time (at most kMaxBatchesPerWakeup batches per wakeup, so a flood cannot starve the
// loop; the poll is level-triggered and fires again). For each datagram the message
// handler is called as
//     handler(buffer, length, address, port, rxSeconds, rxNanoseconds)
// with the SO_TIMESTAMPNS kernel receive time (CLOCK_REALTIME). If the kernel gave no
// timestamp (it always does once SO_TIMESTAMPNS is on), the time read right after
// recvmmsg returned is used instead. In reply mode its return value is a reply
// (udp_send.cc), and the replies of a batch leave before the next recvmmsg.
//
// All handler calls of one wakeup run inside one callback scope: process.nextTick and
// promise jobs queued by handlers run after the wakeup's last handler returns. A handler
// that throws is reported as an uncaught exception (like an 'error'-less EventEmitter);
// remaining datagrams of the wakeup are still delivered if the process survives it.
//
// Receive errors (e.g. ECONNREFUSED on a connected socket) go to the error handler set
// with setOnError, or are dropped if there is none. (libuv reports such a pending socket
// error, and a non-empty error queue, as POLLERR -> status UV_EBADF and stops the poll
// handle; RecoverFromPollError clears the error, empties the error queue and restarts
// it. `pollErrorWakeups` counts these wakeups.)
//
// Reply TX timestamps, for servers (option replyTxTimestamps: true; interleaved mode):
// SO_TIMESTAMPING reporting flags only, and a per-message request on the replies whose
// finish asks (udp_send.cc). Without OPT_TSONLY each timestamp comes back with the
// datagram as the device got it, whose NTP receive timestamp names the reply; the handler
// gets (seconds, nanoseconds, 0, t2Seconds, t2Fraction). The error queue is read right
// after the batch's sendmmsg (the kernel has normally queued them by then), so those
// timestamps cost no POLLERR wakeup; a late one still gets it.
//
// TX timestamps, for clients (option txTimestamps: true): SO_TIMESTAMPING with
// SOF_TIMESTAMPING_TX_SOFTWARE | SOFTWARE | OPT_TSONLY | OPT_ID. For every datagram sent,
// the kernel queues its software transmit timestamp (taken in the driver's xmit path,
// CLOCK_REALTIME) on the socket's error queue, which wakes the poll with POLLERR; the
// handler set with setOnTxTimestamp is then called as handler(seconds, nanoseconds, id),
// id being the 0-based index of the send on this socket (OPT_ID). It is called from the
// poll callback, never inside send(); on loopback the timestamp is queued before send()
// returns, so it is delivered before any reply in the same wakeup. `txTimestamps` says
// whether the kernel accepted the option. Each timestamp costs an extra wakeup (stop and
// restart of the poll, a recvmsg): servers (reply mode) use replyTxTimestamps instead. With the
// option on, received datagrams also carry SCM_TIMESTAMPING (ts[0] = the same software
// receive time); SCM_TIMESTAMPNS is still preferred, SCM_TIMESTAMPING used if it is
// missing.

#include "udp_socket.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <time.h>

#include <cstring>
#include <string>

#include "errors.h"
#include "napi_extras.h"

namespace ntpd {
namespace {

constexpr int kMaxBatchesPerWakeup = 16;
constexpr int kMaxErrorQueueReads = 64;  // per wakeup; the poll fires again for the rest

// The payload of SCM_TIMESTAMPING: ts[0] software, ts[2] hardware (ts[1] unused).
struct Timestamping {
  struct timespec ts[3];
};

bool IsZero(const struct timespec& t) { return t.tv_sec == 0 && t.tv_nsec == 0; }

// Errors a UDP socket reports because of an ICMP message or a network change. Reading
// the error consumes it, so draining can go on.
bool IsTransientReceiveError(int err) {
  switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
    case EMSGSIZE:
    case EPROTO:
    case ENOBUFS:
      return true;
    default:
      return false;
  }
}

// The kernel receive time of a received message: SCM_TIMESTAMPNS, else the software
// stamp of SCM_TIMESTAMPING (txTimestamps sockets). False when it has neither.
// On hardwareTimestamps sockets only the hardware stamp (ts[2]) counts.
bool ReceiveTime(msghdr& h, struct timespec* out, bool hardware) {
  const int index = hardware ? 2 : 0;
  Timestamping tsing;
  bool have_tsing = false;
  for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
    if (c->cmsg_level != SOL_SOCKET) continue;
    if (c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof *out)) {
      std::memcpy(out, CMSG_DATA(c), sizeof *out);
      return true;
    }
    // Only on txTimestamps sockets (SOF_TIMESTAMPING_SOFTWARE reports RX too).
    if (c->cmsg_type == SCM_TIMESTAMPING && c->cmsg_len >= CMSG_LEN(sizeof tsing)) {
      std::memcpy(&tsing, CMSG_DATA(c), sizeof tsing);
      have_tsing = !IsZero(tsing.ts[index]);
    }
  }
  if (have_tsing) *out = tsing.ts[index];
  return have_tsing;
}

uint16_t ReadU16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t ReadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// A reply's bytes as the error queue gives them back with its TX timestamp: the whole
// frame as the device got it (a link-layer header on Ethernet and loopback, none on
// tun or ppp devices), then IPv4 or IPv6, UDP, the NTP reply. Writes the reply's
// receive timestamp (T2, octets 32..39: seconds, fraction) to key; false when the
// bytes are not an IPv4/IPv6 UDP datagram of at least 40 octets of payload.
bool ReplyReceiveTimestamp(const uint8_t* p, size_t n, uint32_t key[2]) {
  size_t off = 0;
  if (n >= 14) {
    uint16_t type = ReadU16(p + 12);
    if (type == 0x8100 && n >= 18) {  // one 802.1Q tag
      type = ReadU16(p + 16);
      if (type == 0x0800 || type == 0x86DD) off = 18;
    } else if (type == 0x0800 || type == 0x86DD) {
      off = 14;
    }
  }
  if (off >= n) return false;
  size_t udp;
  if (p[off] >> 4 == 4) {
    size_t ihl = static_cast<size_t>(p[off] & 0x0f) * 4;
    if (ihl < 20 || n < off + ihl || p[off + 9] != IPPROTO_UDP) return false;
    udp = off + ihl;
  } else if (p[off] >> 4 == 6) {
    if (n < off + 40 || p[off + 6] != IPPROTO_UDP) return false;  // no extension headers
    udp = off + 40;
  } else {
    return false;
  }
  size_t ntp = udp + 8;
  if (n < ntp + 40) return false;
  key[0] = ReadU32(p + ntp + 32);
  key[1] = ReadU32(p + ntp + 36);
  return true;
}

}  // namespace

void UdpSocket::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<UdpSocket*>(handle->data);
  if (self == nullptr || self->closed_) return;
  Napi::Env env = self->Env();
  try {
    Napi::HandleScope scope(env);
    self->dispatching_ = true;
    try {
      // Closing it runs the nextTick queue and microtasks; a close() made from there
      // still sees dispatching_ and leaves the release to us.
      CallbackScope callbacks(self->Value(), self->async_context_);
      if (status == UV_EBADF) {
        self->RecoverFromPollError(env);
      } else if (status < 0) {
        self->ReportError(env, -status, "uv_poll");
      } else {
        self->DrainBatches(env);
      }
    } catch (const Napi::Error& e) {
      ReportUncaught(e);  // a failing Node-API call: reported like a handler exception
    }
  } catch (const Napi::Error&) {
    // No handle scope could be opened: nothing can be reported.
  }
  self->dispatching_ = false;
  if (self->closed_) self->ReleaseJsResources();
}

void UdpSocket::DrainBatches(Napi::Env env) {
  Napi::Value undefined = env.Undefined();
  for (int round = 0; round < kMaxBatchesPerWakeup; ++round) {
    if (closed_) return;
    for (size_t i = 0; i < batch_size_; ++i) {
      msghdr& h = msgs_[i].msg_hdr;
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_controllen = kControlWords * sizeof(uint64_t);
      h.msg_flags = 0;
      msgs_[i].msg_len = 0;
      names_[i].ss_family = AF_UNSPEC;
    }
    int n = recvmmsg(fd_, msgs_.data(), static_cast<unsigned>(batch_size_), MSG_DONTWAIT, nullptr);
    if (n < 0) {
      int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) return;
      ReportError(env, err, "recvmmsg");
      if (IsTransientReceiveError(err)) continue;
      return;
    }
    plain_replies_alone_ = static_cast<size_t>(n) < batch_size_;
    struct timespec late = {0, 0};
    bool have_late = false;
    Napi::HandleScope scope(env);
    for (int i = 0; i < n && !closed_; ++i) {
      msghdr& h = msgs_[i].msg_hdr;
      if ((h.msg_flags & MSG_TRUNC) != 0) {  // longer than maxDatagramSize: dropped, counted
        truncated_datagrams_ += 1;
        continue;
      }
      if (on_message_.IsEmpty()) continue;
      struct timespec ts;
      if (!ReceiveTime(h, &ts, hardware_timestamps_)) {
        if (!have_late) {
          clock_gettime(fallback_clock_, &late);
          have_late = true;
        }
        ts = late;
      }
      char text[kAddressTextMax];
      uint16_t port = 0;
      size_t text_len = h.msg_namelen > 0 ? FormatSockaddr(names_[i], text, &port) : 0;
      bool replying = !reply_.IsEmpty() && h.msg_namelen > 0;
      Napi::Value result;  // empty when the handler threw: no reply
      try {
        result = on_message_.Value().Call(
            undefined, {slots_[i].buffer.Value(), Napi::Number::New(env, msgs_[i].msg_len),
                        Latin1String(env, text, text_len), Napi::Number::New(env, port),
                        Napi::Number::New(env, static_cast<double>(ts.tv_sec)),
                        Napi::Number::New(env, static_cast<double>(ts.tv_nsec))});
      } catch (const Napi::Error& e) {
        ReportUncaught(e);
      }
      if (!replying) continue;
      try {
        QueueReply(env, result, static_cast<size_t>(i));
      } catch (const Napi::Error& e) {
        ReportUncaught(e);
      }
    }
    FlushSendQueue();
    ReportSendErrors(env);
    if (tx_stamps_pending_) {
      // Replies that asked for TX timestamps: the kernel queues them as it sends (on
      // loopback and most drivers before sendmmsg returns). Reading them now saves the
      // POLLERR wakeup each would otherwise cost; a late one still gets it.
      tx_stamps_pending_ = false;
      DrainErrorQueue(env);
    }
    if (static_cast<size_t>(n) < batch_size_) return;
  }
}

// libuv reports POLLERR on a poll handle as status UV_EBADF and stops the handle. On a
// UDP socket POLLERR means a pending socket error (an ICMP error such as port
// unreachable, on a connected socket) or a non-empty error queue, not a bad fd. Fetch
// and clear the error (SO_ERROR), empty the error queue, restart the poll, report the
// error and drain what is readable.
void UdpSocket::RecoverFromPollError(Napi::Env env) {
  poll_error_wakeups_ += 1;
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(fd_, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    ReportError(env, errno, "getsockopt");  // the fd really is bad; the poll stays stopped
    return;
  }
  // Always: sk_err and error-queue entries (TX timestamps) may both be pending.
  DrainErrorQueue(env);
  if (closed_) return;  // a TX timestamp handler closed the socket
  if (poll_ != nullptr) {
    int r = uv_poll_start(poll_, UV_READABLE, OnPoll);
    if (r < 0) {
      ReportError(env, -r, "uv_poll_start");
      return;
    }
  }
  if (err != 0) ReportError(env, err, "recvmmsg");
  if (!closed_) DrainBatches(env);
}

// Reads the error queue empty. We never ask for IP_RECVERR, so the only entries are TX
// timestamps (txTimestamps sockets): a zero-length message (OPT_TSONLY) with
// SCM_TIMESTAMPING and a sock_extended_err (origin SO_EE_ORIGIN_TIMESTAMPING, ee_info
// SCM_TSTAMP_SND, ee_data = the OPT_ID send index). Anything else is discarded.
void UdpSocket::DrainErrorQueue(Napi::Env env) {
  // Read in batches (recvmmsg): a server stamping many replies gets many entries.
  constexpr int kBatch = 16;
  char data[kBatch][256];
  alignas(cmsghdr) char control[kBatch][512];
  mmsghdr msgs[kBatch];
  iovec iovs[kBatch];
  for (int read = 0; read < kMaxErrorQueueReads && !closed_;) {
    for (int k = 0; k < kBatch; ++k) {
      iovs[k] = {data[k], sizeof data[k]};
      std::memset(&msgs[k], 0, sizeof msgs[k]);
      msgs[k].msg_hdr.msg_iov = &iovs[k];
      msgs[k].msg_hdr.msg_iovlen = 1;
      msgs[k].msg_hdr.msg_control = control[k];
      msgs[k].msg_hdr.msg_controllen = sizeof control[k];
    }
    int n = recvmmsg(fd_, msgs, kBatch, MSG_ERRQUEUE | MSG_DONTWAIT, nullptr);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    read += n;
    for (int k = 0; k < n && !closed_; ++k) DeliverTxTimestamp(env, msgs[k].msg_hdr, msgs[k].msg_len);
    if (n < kBatch) break;
  }
}

void UdpSocket::DeliverTxTimestamp(Napi::Env env, msghdr& m, size_t length) {
  Timestamping tsing;
  bool have_tsing = false;
  bool is_tx_stamp = false;
  uint32_t id = 0;
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
        c->cmsg_len >= CMSG_LEN(sizeof tsing)) {
      std::memcpy(&tsing, CMSG_DATA(c), sizeof tsing);
      if (hardware_timestamps_) tsing.ts[0] = tsing.ts[2];  // the NIC's stamp
      have_tsing = !IsZero(tsing.ts[0]);
    } else if (((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) &&
               c->cmsg_len >= CMSG_LEN(sizeof(sock_extended_err))) {
      sock_extended_err ee;
      std::memcpy(&ee, CMSG_DATA(c), sizeof ee);
      if (ee.ee_errno == ENOMSG && ee.ee_origin == SO_EE_ORIGIN_TIMESTAMPING &&
          ee.ee_info == SCM_TSTAMP_SND) {
        is_tx_stamp = true;
        id = ee.ee_data;
      }
    }
  }
  if (!have_tsing || !is_tx_stamp || on_tx_timestamp_.IsEmpty()) return;
  // Reply TX timestamps carry the datagram: its NTP T2 says which reply it was.
  uint32_t key[2] = {0, 0};
  if (reply_tx_timestamps_ &&
      !ReplyReceiveTimestamp(static_cast<const uint8_t*>(m.msg_iov[0].iov_base), length, key)) {
    return;
  }
  Napi::HandleScope scope(env);
  try {
    Napi::Value sec = Napi::Number::New(env, static_cast<double>(tsing.ts[0].tv_sec));
    Napi::Value nsec = Napi::Number::New(env, static_cast<double>(tsing.ts[0].tv_nsec));
    if (reply_tx_timestamps_) {
      on_tx_timestamp_.Value().Call(
          env.Undefined(), {sec, nsec, Napi::Number::New(env, id), Napi::Number::New(env, key[0]),
                            Napi::Number::New(env, key[1])});
    } else {
      on_tx_timestamp_.Value().Call(env.Undefined(), {sec, nsec, Napi::Number::New(env, id)});
    }
  } catch (const Napi::Error& e) {
    ReportUncaught(e);
  }
}

void UdpSocket::ReportError(Napi::Env env, int err, const char* syscall, const char* address,
                            int port) {
  if (on_error_.IsEmpty() || closed_) return;
  try {
    Napi::Error error = MakeErrnoError(
        env, err, syscall, address != nullptr ? std::string(address) : std::string(), port);
    on_error_.Value().Call(env.Undefined(), {error.Value()});
  } catch (const Napi::Error& e) {
    ReportUncaught(e);
  }
}

}  // namespace ntpd
