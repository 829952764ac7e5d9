// UdpSocket (JS: new UdpSocket(family: 4 | 6, options?: { batchSize, maxDatagramSize,
// sendBatchSize, txTimestamps })).
//
// Receive path: the fd is registered on the libuv loop of the creating environment with
// uv_poll_start(UV_READABLE). When it is readable, recvmmsg drains up to `batchSize`
// datagrams at a time (at most kMaxBatchesPerWakeup batches per wakeup, so a flood cannot
// starve the loop; the poll is level-triggered and fires again). For each datagram the
// message handler is called as
//     handler(buffer, length, address, port, rxSeconds, rxNanoseconds)
// with the SO_TIMESTAMPNS kernel receive time (CLOCK_REALTIME). If the kernel gave no
// timestamp (it always does once SO_TIMESTAMPNS is on), the time read right after
// recvmmsg returned is used instead.
//
// Buffer-reuse contract: `buffer` is the Buffer of the batch slot the datagram landed
// in (capacity maxDatagramSize; bytes [0, length) are the datagram). The same Buffer is
// passed again, overwritten, on a later wakeup. It is only valid during the synchronous
// handler call: copy what you keep (Buffer.from(buffer.subarray(0, length))). Keeping a
// reference is memory-safe (the Buffer owns its memory and stays alive while referenced,
// even after close()), just not content-stable. Datagrams longer than maxDatagramSize are
// truncated by the kernel and dropped here (never delivered).
//
// All handler calls of one wakeup run inside one callback scope: process.nextTick and
// promise jobs queued by handlers run after the wakeup's last handler returns. A handler
// that throws is reported as an uncaught exception (like an 'error'-less EventEmitter);
// remaining datagrams of the wakeup are still delivered if the process survives it.
//
// Send path: send/sendTo are synchronous syscalls (no queue, no callback); the caller may
// reuse its buffer as soon as they return. send(data, length, t1Out?) writes the
// CLOCK_REALTIME reading taken immediately before the send syscall into t1Out[0..1]
// (seconds, nanoseconds). Failures (EAGAIN when the socket buffer is full, ECONNREFUSED
// after an ICMP port unreachable on a connected socket, ...) throw errno errors.
//
// Reply mode, for servers: setOnMessage(handler, reply) with a Uint8Array `reply`. The
// handler answers a datagram by writing the answer to reply[0, n) and returning n (0 or
// undefined: no answer). The addon copies it into a send queue slot addressed to the
// datagram's source, so a reply costs no call back into the addon and no address
// parsing. The queue (sendBatchSize slots of maxDatagramSize bytes, default 8; a longer
// reply is sent at once) goes to the kernel with one sendmmsg when it is full and after
// the last handler of each recvmmsg batch, so no reply outlives the wakeup that made
// it. Batching saves more than the syscalls (which cost within 2% per datagram either
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
// of it in the same sendmmsg. Failures of
// queued replies (EAGAIN, ...) go to the error handler after the flush, one errno error
// per reply, with syscall "sendmmsg" ("sendto" for a reply longer than a slot, which is
// finished and sent at once; "seal" for one whose seal failed, not sent) and the
// address and port. A handler returning anything but undefined or an integer in
// [0, reply.length], or a finish description that does not fit its reply, is reported
// as an uncaught RangeError (and the reply is not sent).
//
// Receive errors (e.g. ECONNREFUSED on a connected socket) go to the error handler set
// with setOnError, or are dropped if there is none. (libuv reports such a pending socket
// error, and a non-empty error queue, as POLLERR -> status UV_EBADF and stops the poll
// handle; RecoverFromPollError clears the error, empties the error queue and restarts
// it. `pollErrorWakeups` counts these wakeups.)
//
// TX timestamps, for clients only (option txTimestamps: true): SO_TIMESTAMPING with
// SOF_TIMESTAMPING_TX_SOFTWARE | SOFTWARE | OPT_TSONLY | OPT_ID. For every datagram sent,
// the kernel queues its software transmit timestamp (taken in the driver's xmit path,
// CLOCK_REALTIME) on the socket's error queue, which wakes the poll with POLLERR; the
// handler set with setOnTxTimestamp is then called as handler(seconds, nanoseconds, id),
// id being the 0-based index of the send on this socket (OPT_ID). It is called from the
// poll callback, never inside send(); on loopback the timestamp is queued before send()
// returns, so it is delivered before any reply in the same wakeup. `txTimestamps` says
// whether the kernel accepted the option. Each timestamp costs an extra wakeup (stop and
// restart of the poll, a recvmsg): servers (reply mode) must not ask for it. With the
// option on, received datagrams also carry SCM_TIMESTAMPING (ts[0] = the same software
// receive time); SCM_TIMESTAMPNS is still preferred, SCM_TIMESTAMPING used if it is
// missing.
//
// Lifetime: once bound/connected/sent-from, the socket keeps itself (and the event loop)
// alive until close(). close() is idempotent, safe inside a handler (no further handler
// calls happen), stops polling and closes the fd at once. An environment cleanup hook
// closes sockets still open when a worker thread or the process environment is torn down.

#include "udp_socket.h"

#include <errno.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"
#include "sockaddr.h"

namespace ntpd {
namespace {

constexpr size_t kDefaultBatchSize = 32;
constexpr size_t kMaxBatchSize = 1024;  // UIO_MAXIOV, the kernel's vlen limit
constexpr size_t kDefaultMaxDatagram = 2048;
constexpr size_t kMinMaxDatagram = 48;
constexpr size_t kMaxMaxDatagram = 65535;
constexpr int kMaxBatchesPerWakeup = 16;
constexpr size_t kDefaultSendBatchSize = 8;
constexpr size_t kControlWords = 16;  // 128 bytes of ancillary data per slot
constexpr size_t kControlBytes = kControlWords * sizeof(uint64_t);
constexpr int kMaxErrorQueueReads = 64;  // per wakeup; the poll fires again for the rest
// Most sealed (NTS) replies sent with one sendmmsg (1: each alone). Each reply in a
// sendmmsg waits, after its T3, for the seals of the ones after it and for the kernel to
// deliver the ones ahead of it (microseconds each on loopback): see FlushSendQueue.
constexpr size_t kSealedPerSend = 2;

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

size_t ReadSizeOption(Napi::Env env, Napi::Object options, const char* name, size_t fallback,
                      size_t min, size_t max) {
  Napi::Value v = options.Get(name);
  if (v.IsUndefined()) return fallback;
  if (!v.IsNumber()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", std::string("UdpSocket: ") + name + " must be a number");
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!(d >= static_cast<double>(min) && d <= static_cast<double>(max)) || std::floor(d) != d) {
    ThrowTypeError(env, "ERR_OUT_OF_RANGE",
                   std::string("UdpSocket: ") + name + " must be an integer in [" +
                       std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<size_t>(d);
}

void ReadHostPort(const Napi::CallbackInfo& info, size_t index, const char* what,
                  std::string* host, uint16_t* port) {
  Napi::Env env = info.Env();
  if (info.Length() <= index || !info[index].IsString()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", std::string(what) + ": address must be a string");
  }
  *host = info[index].As<Napi::String>().Utf8Value();
  if (info.Length() <= index + 1 || !info[index + 1].IsNumber()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", std::string(what) + ": port must be a number");
  }
  double p = info[index + 1].As<Napi::Number>().DoubleValue();
  if (!(p >= 0 && p <= 65535) || std::floor(p) != p) {
    ThrowTypeError(env, "ERR_SOCKET_BAD_PORT",
                   std::string(what) + ": port must be an integer in [0, 65535]");
  }
  *port = static_cast<uint16_t>(p);
}

// data = info[index] (Buffer / Uint8Array), length = info[index + 1] or its byteLength.
void ReadBytes(const Napi::CallbackInfo& info, size_t index, const char* what,
               const uint8_t** data, size_t* length) {
  Napi::Env env = info.Env();
  napi_typedarray_type type;
  size_t available = 0;
  void* p = nullptr;
  if (info.Length() <= index ||
      napi_get_typedarray_info(env, info[index], &type, &available, &p, nullptr, nullptr) !=
          napi_ok ||
      (type != napi_uint8_array && type != napi_uint8_clamped_array)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   std::string(what) + ": data must be a Buffer or Uint8Array");
  }
  size_t n = available;
  if (info.Length() > index + 1 && !info[index + 1].IsUndefined()) {
    double d = info[index + 1].IsNumber() ? info[index + 1].As<Napi::Number>().DoubleValue() : -1;
    if (!(d >= 0 && d <= static_cast<double>(available)) || std::floor(d) != d) {
      ThrowTypeError(env, "ERR_OUT_OF_RANGE",
                     std::string(what) + ": length must be an integer in [0, data.length]");
    }
    n = static_cast<size_t>(d);
  }
  *data = static_cast<const uint8_t*>(p);
  *length = n;
}

// Linux turns receive timestamping on globally (a static key) while any socket wants it,
// and the first enable is deferred to a workqueue: a datagram that arrives before that
// work has run carries no stamp, and the kernel then stamps it when it is read (late).
// The same happens again each time the last timestamping socket of the system closes.
// One SO_TIMESTAMPNS socket kept open for the life of the process keeps the key on, so
// only datagrams arriving within moments of loading the addon can be affected.
void KeepKernelTimestampingEnabled() {
  static const int keeper = [] {
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int on = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on);
    return fd;
  }();
  (void)keeper;
}

}  // namespace

Napi::Function UdpSocket::Init(Napi::Env env) {
  // At module load, well before the daemon's first datagram (see above).
  KeepKernelTimestampingEnabled();
  return DefineClass(
      env, "UdpSocket",
      {
          InstanceMethod<&UdpSocket::Bind>("bind"),
          InstanceMethod<&UdpSocket::Connect>("connect"),
          InstanceMethod<&UdpSocket::Send>("send"),
          InstanceMethod<&UdpSocket::SendTo>("sendTo"),
          InstanceMethod<&UdpSocket::LocalAddress>("localAddress"),
          InstanceMethod<&UdpSocket::SetOnMessage>("setOnMessage"),
          InstanceMethod<&UdpSocket::SetOnError>("setOnError"),
          InstanceMethod<&UdpSocket::SetOnTxTimestamp>("setOnTxTimestamp"),
          InstanceMethod<&UdpSocket::SetReceiveBufferSize>("setReceiveBufferSize"),
          InstanceMethod<&UdpSocket::GetReceiveBufferSize>("getReceiveBufferSize"),
          InstanceMethod<&UdpSocket::Close>("close"),
          InstanceAccessor<&UdpSocket::GetKernelTimestamps>("kernelTimestamps"),
          InstanceAccessor<&UdpSocket::GetTxTimestamps>("txTimestamps"),
          InstanceAccessor<&UdpSocket::GetErrorQueueWakeups>("pollErrorWakeups"),
          InstanceAccessor<&UdpSocket::GetTruncatedDatagrams>("truncatedDatagrams"),
          InstanceAccessor<&UdpSocket::GetFd>("fd"),
          InstanceAccessor<&UdpSocket::GetClosed>("closed"),
      });
}

UdpSocket::UdpSocket(const Napi::CallbackInfo& info)
    : Napi::ObjectWrap<UdpSocket>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  double family = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (family != 4 && family != 6) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "UdpSocket: family must be 4 or 6");
  }
  family_ = family == 4 ? AF_INET : AF_INET6;
  batch_size_ = kDefaultBatchSize;
  max_datagram_ = kDefaultMaxDatagram;
  send_capacity_ = kDefaultSendBatchSize;
  bool want_tx_timestamps = false;
  if (info.Length() > 1 && !info[1].IsUndefined()) {
    if (!info[1].IsObject()) {
      ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "UdpSocket: options must be an object");
    }
    Napi::Object options = info[1].As<Napi::Object>();
    batch_size_ = ReadSizeOption(env, options, "batchSize", kDefaultBatchSize, 1, kMaxBatchSize);
    max_datagram_ = ReadSizeOption(env, options, "maxDatagramSize", kDefaultMaxDatagram,
                                   kMinMaxDatagram, kMaxMaxDatagram);
    send_capacity_ = ReadSizeOption(env, options, "sendBatchSize", kDefaultSendBatchSize, 1,
                                    kMaxBatchSize);
    Napi::Value tx = options.Get("txTimestamps");
    if (!tx.IsUndefined() && !tx.IsBoolean()) {
      ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "UdpSocket: txTimestamps must be a boolean");
    }
    want_tx_timestamps = tx.IsBoolean() && tx.As<Napi::Boolean>().Value();
  }

  // Send queue: send_capacity_ slots of max_datagram_ bytes each.
  send_data_.assign(send_capacity_ * max_datagram_, 0);
  send_msgs_.resize(send_capacity_);
  send_iovs_.resize(send_capacity_);
  send_names_.resize(send_capacity_);
  send_finishes_.assign(send_capacity_, ReplyFinish{});
  for (size_t i = 0; i < send_capacity_; ++i) {
    send_iovs_[i].iov_base = &send_data_[i * max_datagram_];
    send_iovs_[i].iov_len = 0;
    std::memset(&send_msgs_[i], 0, sizeof send_msgs_[i]);
    send_msgs_[i].msg_hdr.msg_iov = &send_iovs_[i];
    send_msgs_[i].msg_hdr.msg_iovlen = 1;
    send_msgs_[i].msg_hdr.msg_name = &send_names_[i];
  }

  // Receive slots first: if anything here throws, no fd has been opened yet (the
  // destructor does not run for a constructor that throws).
  slots_.resize(batch_size_);
  msgs_.resize(batch_size_);
  iovs_.resize(batch_size_);
  names_.resize(batch_size_);
  control_.assign(batch_size_ * kControlWords, 0);
  for (size_t i = 0; i < batch_size_; ++i) {
    napi_value buffer;
    void* data = nullptr;
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_buffer(env, max_datagram_, &data, &buffer));
    std::memset(data, 0, max_datagram_);
    NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, buffer, 1, &slots_[i].buffer));
    slots_[i].data = static_cast<uint8_t*>(data);
    iovs_[i].iov_base = data;
    iovs_[i].iov_len = max_datagram_;
    std::memset(&msgs_[i], 0, sizeof msgs_[i]);
    msgs_[i].msg_hdr.msg_iov = &iovs_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    msgs_[i].msg_hdr.msg_name = &names_[i];
    msgs_[i].msg_hdr.msg_control = &control_[i * kControlWords];
  }

  // An AF_INET6 socket keeps the kernel's IPV6_V6ONLY default (net.ipv6.bindv6only,
  // normally 0: a wildcard bind is dual-stack and IPv4 peers appear as ::ffff:a.b.c.d).
  fd_ = socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) {
    int err = errno;
    for (Slot& s : slots_) napi_delete_reference(env, s.buffer), s.buffer = nullptr;
    ThrowErrno(env, err, "socket");
  }
  int on = 1;
  kernel_timestamps_ = setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
  if (want_tx_timestamps) {
    // No SOF_TIMESTAMPING_RX_SOFTWARE: receive times still come from SO_TIMESTAMPNS.
    int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
                SOF_TIMESTAMPING_OPT_TSONLY | SOF_TIMESTAMPING_OPT_ID;
    tx_timestamps_ = setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
  }
  KeepKernelTimestampingEnabled();
}

UdpSocket::~UdpSocket() {
  CloseFd();
  if (!js_released_) {
    // Finalizer: the wrapper reference is going away with the object itself.
    self_ref_ = false;
    ReleaseJsResources();
  }
}

void UdpSocket::CheckOpen(Napi::Env env, const char* syscall) const {
  if (closed_) ThrowCodeError(env, "ERR_SOCKET_CLOSED", std::string(syscall) + ": socket is closed");
}

void UdpSocket::StartPolling(Napi::Env env) {
  if (polling_) return;
  uv_loop_t* loop = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_get_uv_event_loop(env, &loop));
  auto* poll = new uv_poll_t;
  int r = uv_poll_init_socket(loop, poll, fd_);
  if (r < 0) {
    delete poll;
    ThrowErrno(env, -r, "uv_poll_init");
  }
  poll->data = this;
  r = uv_poll_start(poll, UV_READABLE, OnPoll);
  if (r < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    ThrowErrno(env, -r, "uv_poll_start");
  }
  poll_ = poll;
  polling_ = true;
  NAPI_THROW_IF_FAILED_VOID(
      env, napi_async_init(env, Value(), Napi::String::New(env, "ntpd.UdpSocket"), &async_context_));
  // Keep the JS object (and so this C++ object) alive while the loop may call us.
  Ref();
  self_ref_ = true;
  if (napi_add_env_cleanup_hook(env, OnEnvCleanup, this) == napi_ok) cleanup_hook_ = true;
}

void UdpSocket::CloseFd() {
  if (closed_) return;
  // Replies queued by handlers of the batch that is closing the socket still go out;
  // their failures are not reported (no handler is called after close()).
  FlushSendQueue();
  send_failures_.clear();
  closed_ = true;
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void UdpSocket::ReleaseJsResources() {
  if (js_released_) return;
  js_released_ = true;
  on_message_.Reset();
  on_error_.Reset();
  on_tx_timestamp_.Reset();
  reply_.Reset();
  finish_.Reset();
  for (Slot& s : slots_) {
    if (s.buffer != nullptr) napi_delete_reference(env_, s.buffer);
    s.buffer = nullptr;
    s.data = nullptr;
  }
  if (async_context_ != nullptr) {
    napi_async_destroy(env_, async_context_);
    async_context_ = nullptr;
  }
  if (cleanup_hook_) {
    cleanup_hook_ = false;
    napi_remove_env_cleanup_hook(env_, OnEnvCleanup, this);
  }
  if (self_ref_) {
    self_ref_ = false;
    Unref();
  }
}

void UdpSocket::OnEnvCleanup(void* arg) {
  auto* self = static_cast<UdpSocket*>(arg);
  self->cleanup_hook_ = false;  // the runtime is removing it
  self->CloseFd();
  self->ReleaseJsResources();
}

void UdpSocket::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<UdpSocket*>(handle->data);
  if (self == nullptr || self->closed_) return;
  napi_env env = self->env_;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_callback_scope callback_scope = nullptr;
  napi_value resource = nullptr;
  try {
    resource = self->Value();
  } catch (const Napi::Error&) {
    resource = nullptr;
  }
  if (resource == nullptr ||
      napi_open_callback_scope(env, resource, self->async_context_, &callback_scope) != napi_ok) {
    callback_scope = nullptr;
  }
  self->dispatching_ = true;
  try {
    if (status == UV_EBADF) {
      self->RecoverFromPollError(env);
    } else if (status < 0) {
      self->ReportError(env, -status, "uv_poll");
    } else {
      self->DrainBatches(env);
    }
  } catch (const Napi::Error& e) {
    // A failing Node-API call inside the drain; report it like a handler exception.
    napi_value err = e.Value();
    bool pending = false;
    napi_is_exception_pending(env, &pending);
    if (pending) napi_get_and_clear_last_exception(env, &err);
    if (err != nullptr) napi_fatal_exception(env, err);
  }
  // Closing the callback scope runs the nextTick queue and microtasks; a close() made
  // from there still sees dispatching_ and leaves the release to us.
  if (callback_scope != nullptr) napi_close_callback_scope(env, callback_scope);
  self->dispatching_ = false;
  napi_close_handle_scope(env, scope);
  if (self->closed_) self->ReleaseJsResources();
}

// Reports a pending JS exception (thrown by a handler) as an uncaught exception.
static void ReportPendingException(napi_env env) {
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) != napi_ok || !pending) return;
  napi_value err;
  if (napi_get_and_clear_last_exception(env, &err) == napi_ok) napi_fatal_exception(env, err);
}

void UdpSocket::DrainBatches(napi_env env) {
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  for (int round = 0; round < kMaxBatchesPerWakeup; ++round) {
    if (closed_) return;
    for (size_t i = 0; i < batch_size_; ++i) {
      msghdr& h = msgs_[i].msg_hdr;
      h.msg_namelen = sizeof(sockaddr_storage);
      h.msg_controllen = kControlBytes;
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
    struct timespec late = {0, 0};
    bool have_late = false;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    for (int i = 0; i < n && !closed_; ++i) {
      msghdr& h = msgs_[i].msg_hdr;
      if ((h.msg_flags & MSG_TRUNC) != 0) {  // longer than maxDatagramSize: dropped, counted
        truncated_datagrams_ += 1;
        continue;
      }
      if (on_message_.IsEmpty()) continue;
      struct timespec ts;
      bool have_ts = false;
      Timestamping tsing;
      bool have_tsing = false;
      for (cmsghdr* c = CMSG_FIRSTHDR(&h); c != nullptr; c = CMSG_NXTHDR(&h, c)) {
        if (c->cmsg_level != SOL_SOCKET) continue;
        if (c->cmsg_type == SCM_TIMESTAMPNS && c->cmsg_len >= CMSG_LEN(sizeof ts)) {
          std::memcpy(&ts, CMSG_DATA(c), sizeof ts);
          have_ts = true;
          break;
        }
        // Only on txTimestamps sockets (SOF_TIMESTAMPING_SOFTWARE reports RX too).
        if (c->cmsg_type == SCM_TIMESTAMPING && c->cmsg_len >= CMSG_LEN(sizeof tsing)) {
          std::memcpy(&tsing, CMSG_DATA(c), sizeof tsing);
          have_tsing = !IsZero(tsing.ts[0]);
        }
      }
      if (!have_ts && have_tsing) {
        ts = tsing.ts[0];
        have_ts = true;
      }
      if (!have_ts) {
        if (!have_late) {
          clock_gettime(CLOCK_REALTIME, &late);
          have_late = true;
        }
        ts = late;
      }
      char text[kAddressTextMax];
      uint16_t port = 0;
      size_t text_len = h.msg_namelen > 0 ? FormatSockaddr(names_[i], text, &port) : 0;
      napi_value argv[6];
      napi_value fn;
      if (napi_get_reference_value(env, slots_[i].buffer, &argv[0]) != napi_ok ||
          napi_create_uint32(env, msgs_[i].msg_len, &argv[1]) != napi_ok ||
          napi_create_string_latin1(env, text, text_len, &argv[2]) != napi_ok ||
          napi_create_uint32(env, port, &argv[3]) != napi_ok ||
          napi_create_double(env, static_cast<double>(ts.tv_sec), &argv[4]) != napi_ok ||
          napi_create_uint32(env, static_cast<uint32_t>(ts.tv_nsec), &argv[5]) != napi_ok ||
          napi_get_reference_value(env, on_message_, &fn) != napi_ok) {
        ReportPendingException(env);
        continue;
      }
      napi_value result;
      bool replying = !reply_.IsEmpty() && h.msg_namelen > 0;
      if (napi_call_function(env, undefined, fn, 6, argv, &result) != napi_ok) {
        ReportPendingException(env);
        result = undefined;  // no reply (QueueReply still clears the finish description)
      }
      if (replying) QueueReply(env, result, i);
    }
    FlushSendQueue();
    ReportSendErrors(env);
    napi_close_handle_scope(env, scope);
    if (static_cast<size_t>(n) < batch_size_) return;
  }
}

// libuv reports POLLERR on a poll handle as status UV_EBADF and stops the handle. On a
// UDP socket POLLERR means a pending socket error (an ICMP error such as port
// unreachable, on a connected socket) or a non-empty error queue, not a bad fd. Fetch
// and clear the error (SO_ERROR), empty the error queue, restart the poll, report the
// error and drain what is readable.
void UdpSocket::RecoverFromPollError(napi_env env) {
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
void UdpSocket::DrainErrorQueue(napi_env env) {
  char data[256];
  alignas(cmsghdr) char control[512];
  for (int i = 0; i < kMaxErrorQueueReads && !closed_; ++i) {
    iovec iov = {data, sizeof data};
    msghdr m;
    std::memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = control;
    m.msg_controllen = sizeof control;
    if (recvmsg(fd_, &m, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    Timestamping tsing;
    bool have_tsing = false;
    bool is_tx_stamp = false;
    uint32_t id = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING &&
          c->cmsg_len >= CMSG_LEN(sizeof tsing)) {
        std::memcpy(&tsing, CMSG_DATA(c), sizeof tsing);
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
    if (!have_tsing || !is_tx_stamp || on_tx_timestamp_.IsEmpty()) continue;
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) return;
    napi_value argv[3];
    napi_value fn;
    napi_value undefined;
    napi_value result;
    if (napi_get_undefined(env, &undefined) != napi_ok ||
        napi_create_double(env, static_cast<double>(tsing.ts[0].tv_sec), &argv[0]) != napi_ok ||
        napi_create_uint32(env, static_cast<uint32_t>(tsing.ts[0].tv_nsec), &argv[1]) != napi_ok ||
        napi_create_uint32(env, id, &argv[2]) != napi_ok ||
        napi_get_reference_value(env, on_tx_timestamp_, &fn) != napi_ok ||
        napi_call_function(env, undefined, fn, 3, argv, &result) != napi_ok) {
      ReportPendingException(env);
    }
    napi_close_handle_scope(env, scope);
  }
}

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

void UdpSocket::ReportSendErrors(napi_env env) {
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

void UdpSocket::ReportError(napi_env env, int err, const char* syscall, const char* address,
                            int port) {
  if (on_error_.IsEmpty() || closed_) return;
  Napi::Error error = MakeErrnoError(Napi::Env(env), err, syscall,
                                     address != nullptr ? std::string(address) : std::string(),
                                     port);
  napi_value fn;
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  if (napi_get_reference_value(env, on_error_, &fn) != napi_ok) return;
  napi_value argv[1] = {error.Value()};
  napi_value result;
  if (napi_call_function(env, undefined, fn, 1, argv, &result) != napi_ok) {
    ReportPendingException(env);
  }
}

Napi::Value UdpSocket::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "bind");
  std::string host;
  uint16_t port;
  ReadHostPort(info, 0, "bind", &host, &port);
  sockaddr_storage addr;
  socklen_t len;
  std::string why;
  if (!ParseSockaddr(family_, host, port, &addr, &len, &why)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "bind: " + why);
  }
  // bind(host, port, { reusePort }): SO_REUSEPORT lets several sockets (one per serving
  // thread) bind the same address; the kernel spreads datagrams over them by source.
  if (info.Length() > 2 && info[2].IsObject()) {
    Napi::Value reuse = info[2].As<Napi::Object>().Get("reusePort");
    int on = 1;
    if (reuse.IsBoolean() && reuse.As<Napi::Boolean>().Value() &&
        setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
      ThrowErrno(env, errno, "setsockopt", host, port);
    }
  }
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    ThrowErrno(env, errno, "bind", host, port);
  }
  StartPolling(env);
  return env.Undefined();
}

Napi::Value UdpSocket::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "connect");
  std::string host;
  uint16_t port;
  ReadHostPort(info, 0, "connect", &host, &port);
  sockaddr_storage addr;
  socklen_t len;
  std::string why;
  if (!ParseSockaddr(family_, host, port, &addr, &len, &why)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "connect: " + why);
  }
  int r;
  do {
    r = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), len);
  } while (r != 0 && errno == EINTR);
  if (r != 0) ThrowErrno(env, errno, "connect", host, port);
  StartPolling(env);
  return env.Undefined();
}

Napi::Value UdpSocket::Send(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "send");
  const uint8_t* data;
  size_t length;
  ReadBytes(info, 0, "send", &data, &length);
  double* t1 = nullptr;
  if (info.Length() > 2 && !info[2].IsUndefined()) {
    napi_typedarray_type type;
    size_t n = 0;
    void* p = nullptr;
    if (napi_get_typedarray_info(env, info[2], &type, &n, &p, nullptr, nullptr) != napi_ok ||
        type != napi_float64_array || n < 2) {
      ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "send: t1Out must be a Float64Array of length >= 2");
    }
    t1 = static_cast<double*>(p);
  }
  StartPolling(env);
  struct timespec ts;
  ssize_t sent;
  do {
    clock_gettime(CLOCK_REALTIME, &ts);
    sent = ::send(fd_, data, length, 0);
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
  const uint8_t* data;
  size_t length;
  ReadBytes(info, 0, "sendTo", &data, &length);
  std::string host;
  uint16_t port;
  ReadHostPort(info, 2, "sendTo", &host, &port);
  sockaddr_storage addr;
  socklen_t len;
  std::string why;
  if (!ParseSockaddr(family_, host, port, &addr, &len, &why)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE", "sendTo: " + why);
  }
  StartPolling(env);
  ssize_t sent;
  do {
    sent = ::sendto(fd_, data, length, 0, reinterpret_cast<sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) ThrowErrno(env, errno, "sendto", host, port);
  return env.Undefined();
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
  std::memcpy(&send_names_[k], &to, len);
  send_msgs_[k].msg_hdr.msg_namelen = len;
  send_count_ = k + 1;
  if (send_count_ == send_capacity_) FlushSendQueue();
  return true;
}

void UdpSocket::QueueReply(napi_env env, napi_value result, int i) {
  // The finish description first: whatever becomes of the reply, no key stays in it.
  // Buffers are looked up again for every reply (about 20 ns each): the handler may
  // have replaced them (setOnMessage) or detached their ArrayBuffer, freeing the memory.
  uint8_t* finish = nullptr;
  napi_typedarray_type array_type;
  if (!finish_.IsEmpty()) {
    napi_value value;
    size_t finish_length = 0;
    void* finish_data = nullptr;
    if (napi_get_reference_value(env, finish_, &value) == napi_ok &&
        napi_get_typedarray_info(env, value, &array_type, &finish_length, &finish_data, nullptr,
                                 nullptr) == napi_ok &&
        finish_length >= kReplyFinishBytes) {
      finish = static_cast<uint8_t*>(finish_data);
    }
  }
  napi_valuetype type;
  double n = -1;
  if (napi_typeof(env, result, &type) != napi_ok) type = napi_undefined;
  if (type == napi_number) napi_get_value_double(env, result, &n);
  napi_value reply;
  size_t capacity = 0;
  void* data = nullptr;
  if (type == napi_undefined || n == 0 || closed_ || reply_.IsEmpty() ||
      napi_get_reference_value(env, reply_, &reply) != napi_ok ||
      napi_get_typedarray_info(env, reply, &array_type, &capacity, &data, nullptr, nullptr) !=
          napi_ok) {
    ClearSharedReplyFinish(finish);
    return;
  }
  if (!(n > 0 && n <= static_cast<double>(capacity)) || std::floor(n) != n) {
    ClearSharedReplyFinish(finish);
    Napi::RangeError e = Napi::RangeError::New(
        Napi::Env(env), "UdpSocket message handler: the reply length it returned must be an "
                        "integer in [0, reply.length], or undefined");
    e.Set("code", Napi::String::New(Napi::Env(env), "ERR_OUT_OF_RANGE"));
    napi_fatal_exception(env, e.Value());
    return;
  }
  if (!Enqueue(static_cast<uint8_t*>(data), static_cast<size_t>(n), names_[i],
               msgs_[i].msg_hdr.msg_namelen, finish)) {
    Napi::RangeError e = Napi::RangeError::New(
        Napi::Env(env), "UdpSocket message handler: the reply's finish description does not "
                        "fit the reply (see src/daemon/native/reply-finish.ts)");
    e.Set("code", Napi::String::New(Napi::Env(env), "ERR_OUT_OF_RANGE"));
    napi_fatal_exception(env, e.Value());
  }
}

Napi::Value UdpSocket::LocalAddress(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "localAddress");
  sockaddr_storage addr;
  socklen_t len = sizeof addr;
  std::memset(&addr, 0, sizeof addr);
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ThrowErrno(env, errno, "getsockname");
  }
  char text[kAddressTextMax];
  uint16_t port = 0;
  size_t text_len = FormatSockaddr(addr, text, &port);
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", Napi::String::New(env, text, text_len));
  o.Set("port", Napi::Number::New(env, port));
  o.Set("family", Napi::Number::New(env, addr.ss_family == AF_INET6 ? 6 : 4));
  return o;
}

Napi::Value UdpSocket::SetOnMessage(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  bool has_reply = info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNull();
  if (has_reply && (!info[1].IsTypedArray() ||
                    info[1].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "setOnMessage: reply must be a Uint8Array");
  }
  bool has_finish = info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull();
  if (has_finish && (!has_reply || !info[2].IsTypedArray() ||
                     info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array ||
                     info[2].As<Napi::Uint8Array>().ElementLength() < kReplyFinishBytes)) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "setOnMessage: finish must be a Uint8Array of at least " +
                       std::to_string(kReplyFinishBytes) + " bytes, given with reply");
  }
  if (info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined()) {
    on_message_.Reset();
    reply_.Reset();
    finish_.Reset();
  } else if (info[0].IsFunction()) {
    if (!closed_) {
      on_message_ = Napi::Persistent(info[0].As<Napi::Function>());
      if (has_reply) {
        reply_ = Napi::Persistent(info[1].As<Napi::Uint8Array>());
      } else {
        reply_.Reset();
      }
      if (has_finish) {
        finish_ = Napi::Persistent(info[2].As<Napi::Uint8Array>());
      } else {
        finish_.Reset();
      }
    }
  } else {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "setOnMessage: handler must be a function or null");
  }
  return env.Undefined();
}

Napi::Value UdpSocket::SetOnError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined()) {
    on_error_.Reset();
  } else if (info[0].IsFunction()) {
    if (!closed_) on_error_ = Napi::Persistent(info[0].As<Napi::Function>());
  } else {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "setOnError: handler must be a function or null");
  }
  return env.Undefined();
}

Napi::Value UdpSocket::SetOnTxTimestamp(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || info[0].IsNull() || info[0].IsUndefined()) {
    on_tx_timestamp_.Reset();
  } else if (info[0].IsFunction()) {
    if (!closed_) on_tx_timestamp_ = Napi::Persistent(info[0].As<Napi::Function>());
  } else {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   "setOnTxTimestamp: handler must be a function or null");
  }
  return env.Undefined();
}

Napi::Value UdpSocket::SetReceiveBufferSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "setReceiveBufferSize");
  double d = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(d > 0 && d <= 2147483647.0) || std::floor(d) != d) {
    ThrowTypeError(env, "ERR_OUT_OF_RANGE", "setReceiveBufferSize: size must be a positive integer");
  }
  int size = static_cast<int>(d);
  if (setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) {
    ThrowErrno(env, errno, "setsockopt");
  }
  return env.Undefined();
}

Napi::Value UdpSocket::GetReceiveBufferSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "getReceiveBufferSize");
  int size = 0;
  socklen_t len = sizeof size;
  if (getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, &len) != 0) ThrowErrno(env, errno, "getsockopt");
  return Napi::Number::New(env, size);
}

Napi::Value UdpSocket::Close(const Napi::CallbackInfo& info) {
  CloseFd();
  if (!dispatching_) ReleaseJsResources();
  return info.Env().Undefined();
}

Napi::Value UdpSocket::GetKernelTimestamps(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), kernel_timestamps_);
}

Napi::Value UdpSocket::GetTxTimestamps(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), tx_timestamps_);
}

Napi::Value UdpSocket::GetErrorQueueWakeups(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), poll_error_wakeups_);
}

Napi::Value UdpSocket::GetTruncatedDatagrams(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), truncated_datagrams_);
}

Napi::Value UdpSocket::GetFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fd_);
}

Napi::Value UdpSocket::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), closed_);
}

}  // namespace ntpd
