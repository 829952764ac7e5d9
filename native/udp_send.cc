// UdpSocket, send side. Buffer lifetimes: udp_socket.h.
//
// send/sendTo are synchronous syscalls (no queue, no callback). send(data, length,
// t1Out?) writes the CLOCK_REALTIME reading taken immediately before the send syscall
// into t1Out[0..1] (seconds, nanoseconds). Failures (EAGAIN when the socket buffer is
// full, ECONNREFUSED after an ICMP port unreachable on a connected socket, ...) throw
// errno errors.
//
// Reply mode, for servers: setOnMessage(handler, reply) with a Uint8Array `reply`. The
// handler answers a datagram by writing the answer to reply[0, n) and returning n (0 or
// undefined: no answer). The socket copies it into a send queue slot addressed to the
// datagram's source, so a reply costs no call back into the addon and no address
// parsing. The queue (sendBatchSize slots of maxDatagramSize bytes, default 8; a longer
// reply is sent at once) goes to the kernel with one sendmmsg when it is full and after
// the last handler of each recvmmsg batch, so no reply outlives the wakeup that made
// it; when the batch came short (nothing else waiting), a plain reply is sent at once,
// alone (see Enqueue). Batching saves more than the syscalls (which cost within 2% per datagram either
// way, measured alone): in `npm run bench` the server's CPU per reply drops by 13% with
// 8 slots against one, likely as a burst wakes the loopback peer once. The cost is
// latency: a queued reply waits for the handlers after it (until the queue fills) and
// for the kernel to send the replies ahead of it in the same sendmmsg (measured at full
// load, 32-datagram receive batches: mean 15 us with 8 slots, 57 us with 32, 8 us with
// 4). Hence the finish: setOnMessage(handler, reply, finish) with a Uint8Array `finish`
// of kReplyFinishBytes lets the handler leave T3 and the NTS seal to the queue
// (reply_finish.h, src/daemon/native/reply-finish.ts). The description is taken (and
// cleared, key bytes overwritten) with the reply; FlushSendQueue then reads
// CLOCK_REALTIME for each reply right before its send, stamps T3 (never below the
// reply's T2) and seals; runs of plain replies still go out with one sendmmsg, sealed
// replies at most kSealedPerSend (2) to one. What lies between a reply's T3 and the wire
// is its own seal (and its sealed neighbour's) and the kernel sending the replies ahead
// of it in the same sendmmsg. Failures of queued
// replies (EAGAIN, ...) go to the error handler after the flush, one errno error per
// reply, with syscall "sendmmsg" ("sendto" for a reply longer than a slot, which is
// finished and sent at once; "seal" for one whose seal failed, not sent) and the
// address and port. A handler returning anything but undefined or an integer in
// [0, reply.length], or a finish description that does not fit its reply, is reported
// as an uncaught RangeError (and the reply is not sent).

#include "udp_socket.h"

#include <errno.h>
#include <linux/net_tstamp.h>
#include <time.h>

#include <cmath>
#include <cstring>
#include <string>

#include "args.h"
#include "errors.h"
#include "napi_extras.h"

namespace ntpd {

Napi::Value UdpSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "send");
  BytesArg bytes = ReadBytesArg(info, 0, "send");
  double* t1 = nullptr;
  if (IsGiven(info, 2)) {
    t1 = static_cast<double*>(TypedArrayArg(info, 2, napi_float64_array, 2,
                                            "send: t1Out must be a Float64Array of length >= 2")
                                  .data);
  }
  StartPolling(env);
  struct timespec ts;
  ssize_t sent;
  do {
    clock_gettime(CLOCK_REALTIME, &ts);
    sent = ::send(fd_, bytes.data, bytes.length, 0);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) ThrowErrno(env, errno, "send");
  if (t1 != nullptr) {
    t1[0] = static_cast<double>(ts.tv_sec);
    t1[1] = static_cast<double>(ts.tv_nsec);
  }
  return env.Undefined();
}

Napi::Value UdpSocket::SendTo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "sendTo");
  BytesArg bytes = ReadBytesArg(info, 0, "sendTo");
  SocketAddressArg to = AddressArg(info, 2, family_, "sendTo");
  StartPolling(env);
  ssize_t sent;
  do {
    sent = ::sendto(fd_, bytes.data, bytes.length, 0, reinterpret_cast<sockaddr*>(&to.addr),
                    to.len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) ThrowErrno(env, errno, "sendto", to.host, to.port);
  return env.Undefined();
}

void UdpSocket::QueueReply(Napi::Env env, Napi::Value result, size_t i) {
  // The finish description first: whatever becomes of the reply, no key stays in it.
  // Both buffers are looked up for every reply (udp_socket.h, BUFFER LIFETIMES).
  uint8_t* finish = nullptr;
  if (!finish_.IsEmpty()) {
    TypedArrayView view = ViewTypedArray(finish_.Value());
    if (view.length >= kReplyFinishBytes) finish = static_cast<uint8_t*>(view.data);
  }
  napi_valuetype type = result.Type();  // undefined when the handler threw
  double n = type == napi_number ? result.As<Napi::Number>().DoubleValue() : -1;
  if (type == napi_undefined || n == 0 || closed_ || reply_.IsEmpty()) {
    ClearSharedReplyFinish(finish);
    return;
  }
  TypedArrayView reply = ViewTypedArray(reply_.Value());
  if (!(n > 0 && n <= static_cast<double>(reply.length)) || std::floor(n) != n) {
    ClearSharedReplyFinish(finish);
    ThrowRangeError(env, "ERR_OUT_OF_RANGE",
                    "UdpSocket message handler: the reply length it returned must be an "
                    "integer in [0, reply.length], or undefined");
  }
  if (!Enqueue(static_cast<uint8_t*>(reply.data), static_cast<size_t>(n), names_[i],
               msgs_[i].msg_hdr.msg_namelen, finish)) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE",
                    "UdpSocket message handler: the reply's finish description does not "
                    "fit the reply (see src/daemon/native/reply-finish.ts)");
  }
}

bool UdpSocket::Enqueue(uint8_t* data, size_t length, const sockaddr_storage& to,
                        socklen_t len, uint8_t* finish) {
  if (length > max_datagram_) {
    // Finished in the caller's buffer (the handler is done with it) and sent at once.
    ReplyFinish f{};
    if (finish != nullptr && !TakeReplyFinish(finish, length, &f)) return false;
    if (f.kind != 0) {
      struct timespec now;
      clock_gettime(CLOCK_REALTIME, &now);
      if (!ApplyReplyFinish(data, &f, now)) {
        send_failures_.push_back(SendFailure{EIO, "seal", to});
        return true;
      }
    }
    ssize_t sent;
    do {
      sent = ::sendto(fd_, data, length, 0, reinterpret_cast<const sockaddr*>(&to), len);
    } while (sent < 0 && errno == EINTR);
    if (sent < 0) send_failures_.push_back(SendFailure{errno, "sendto", to});
    return true;
  }
  size_t k = send_count_;
  ReplyFinish& f = send_finishes_[k];
  f.kind = 0;
  if (finish != nullptr && !TakeReplyFinish(finish, length, &f)) return false;
  std::memcpy(send_iovs_[k].iov_base, data, length);
  send_iovs_[k].iov_len = length;
  msghdr& h = send_msgs_[k].msg_hdr;
  if (reply_tx_timestamps_ && (f.kind & kFinishTxStamp) != 0) {
    // Stamp this datagram only (Documentation/networking/timestamping.rst, 1.3.4).
    h.msg_control = &send_control_[k * kSendControlWords];
    h.msg_controllen = CMSG_SPACE(sizeof(int));
    cmsghdr* c = CMSG_FIRSTHDR(&h);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SO_TIMESTAMPING;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    int flags = SOF_TIMESTAMPING_TX_SOFTWARE;
    std::memcpy(CMSG_DATA(c), &flags, sizeof flags);
    tx_stamps_pending_ = true;
  } else {
    h.msg_control = nullptr;
    h.msg_controllen = 0;
  }
  std::memcpy(&send_names_[k], &to, len);
  send_msgs_[k].msg_hdr.msg_namelen = len;
  send_count_ = k + 1;
  // A plain reply of a short receive batch leaves at once: on loopback the kernel
  // delivers each datagram of a sendmmsg before sending the next, so the k-th reply of
  // a shared call leaves microseconds after its T3 (issue #8's T3-to-wire goal). Replies
  // to seal, and the replies of a full batch (a saturated server), still share calls.
  bool alone = plain_replies_alone_ && (f.kind & kFinishSeal) == 0;
  if (alone || send_count_ == send_capacity_) FlushSendQueue();
  return true;
}

// Most sealed (NTS) replies sent with one sendmmsg (1: each alone). Each reply in a
// sendmmsg waits, after its T3, for the seals of the ones after it and for the kernel to
// deliver the ones ahead of it (microseconds each on loopback): see FlushSendQueue.
constexpr size_t kSealedPerSend = 2;

// Finishes the queued replies and sends them. A reply's T3 is read for it alone, right
// before its seal or send: plain replies are only stamped (nanoseconds each), so a run of
// them is stamped and then sent with one sendmmsg; replies to seal are stamped, sealed
// and sent at most kSealedPerSend to one sendmmsg (after the run before them). Sharing
// the send saves CPU (a syscall per pair: NTS CPU per response 1.03x -> 0.96x chrony's,
// interleaved runs), at the price of a few microseconds of T3-to-wire for the second of
// a pair (`npm run bench`, half load: median 3.5 -> 6.5 us, chrony 3.3-3.6; p99 about
// 20 us); all 8 to one sendmmsg tripled that median, hence the cap.
void UdpSocket::FlushSendQueue() {
  size_t n = send_count_;
  send_count_ = 0;
  if (fd_ < 0) {
    for (size_t k = 0; k < n; ++k) WipeReplyFinish(&send_finishes_[k]);
    return;
  }
  size_t run = 0;  // the first reply of the current run of replies not to seal
  for (size_t k = 0; k < n; ++k) {
    if ((send_finishes_[k].kind & kFinishSeal) == 0) continue;
    StampAndSend(run, k);
    // Up to kSealedPerSend consecutive replies to seal share one sendmmsg: each is
    // stamped and sealed in turn, then they leave together.
    size_t first = k;  // the first sealed reply not yet sent
    size_t end = k;
    while (end < n && end - k < kSealedPerSend && (send_finishes_[end].kind & kFinishSeal) != 0) {
      struct timespec now;
      clock_gettime(CLOCK_REALTIME, &now);
      if (!ApplyReplyFinish(static_cast<uint8_t*>(send_iovs_[end].iov_base), &send_finishes_[end],
                            now)) {
        SendQueued(first, end);
        send_failures_.push_back(SendFailure{EIO, "seal", send_names_[end]});
        first = end + 1;
      }
      ++end;
    }
    SendQueued(first, end);
    run = end;
    k = end - 1;
  }
  StampAndSend(run, n);
}

void UdpSocket::StampAndSend(size_t begin, size_t end) {
  for (size_t k = begin; k < end; ++k) {
    ReplyFinish& f = send_finishes_[k];
    if (f.kind == 0) continue;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    ApplyReplyFinish(static_cast<uint8_t*>(send_iovs_[k].iov_base), &f, now);  // no seal
  }
  SendQueued(begin, end);
}

// sendmmsg stops at the first datagram that fails and returns the count sent before it
// (or -1 and errno when it is the first): that one is recorded and skipped, the rest
// retried.
void UdpSocket::SendQueued(size_t begin, size_t end) {
  size_t i = begin;
  while (i < end) {
    int r = sendmmsg(fd_, &send_msgs_[i], static_cast<unsigned>(end - i), 0);
    send_calls_ += 1;
    if (r > 0) {
      i += static_cast<size_t>(r);
      continue;
    }
    int err = r < 0 ? errno : EIO;
    if (err == EINTR) continue;
    send_failures_.push_back(SendFailure{err, "sendmmsg", send_names_[i]});
    ++i;
  }
}

void UdpSocket::ReportSendErrors(Napi::Env env) {
  if (send_failures_.empty()) return;
  std::vector<SendFailure> failures;
  failures.swap(send_failures_);
  for (const SendFailure& f : failures) {
    if (closed_ || on_error_.IsEmpty()) return;
    char text[kAddressTextMax];
    uint16_t port = 0;
    FormatSockaddr(f.to, text, &port);
    ReportError(env, f.err, f.syscall, text, port);
  }
}

}  // namespace ntpd
