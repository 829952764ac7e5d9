// UdpSocket: construction, options, bind/connect, and lifetime. What the socket does and
// the buffer contract: udp_socket.h.
//
// Lifetime: once bound/connected/sent-from, the socket keeps itself (and the event loop)
// alive until close(). close() is idempotent, safe inside a handler (no further handler
// calls happen), stops polling and closes the fd at once. An environment cleanup hook
// closes sockets still open when a worker thread or the process environment is torn
// down.

#include "udp_socket.h"

#include <errno.h>
#include <linux/net_tstamp.h>
#include <net/if.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "args.h"
#include "errors.h"
#include "napi_extras.h"

namespace ntpd {
namespace {

constexpr size_t kDefaultBatchSize = 32;
constexpr size_t kMaxBatchSize = 1024;  // UIO_MAXIOV, the kernel's vlen limit
constexpr size_t kDefaultMaxDatagram = 2048;
constexpr size_t kMinMaxDatagram = 48;
constexpr size_t kMaxMaxDatagram = 65535;
constexpr size_t kDefaultSendBatchSize = 8;
// SOF_TIMESTAMPING_OPT_RX_FILTER (linux/net_tstamp.h since 6.10; older headers lack it).
constexpr int kTimestampingOptRxFilter = 1 << 17;

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

void DeletePoll(uv_handle_t* handle) { delete reinterpret_cast<uv_poll_t*>(handle); }

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
          InstanceAccessor<&UdpSocket::GetHardwareTimestamps>("hardwareTimestamps"),
          InstanceAccessor<&UdpSocket::GetReplyTxTimestamps>("replyTxTimestamps"),
          InstanceAccessor<&UdpSocket::GetErrorQueueWakeups>("pollErrorWakeups"),
          InstanceAccessor<&UdpSocket::GetTruncatedDatagrams>("truncatedDatagrams"),
          InstanceAccessor<&UdpSocket::GetSendCalls>("sendCalls"),
          InstanceAccessor<&UdpSocket::GetFd>("fd"),
          InstanceAccessor<&UdpSocket::GetClosed>("closed"),
      });
}

UdpSocket::UdpSocket(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UdpSocket>(info) {
  Napi::Env env = info.Env();
  family_ = FamilyArg(info[0], "UdpSocket");
  Napi::Object options = OptionsArg(info, 1, "UdpSocket");
  auto size = [&](const char* key, double fallback, double min, double max) {
    return static_cast<size_t>(IntegerOption(options, key, fallback, min, max, "UdpSocket"));
  };
  batch_size_ = size("batchSize", kDefaultBatchSize, 1, kMaxBatchSize);
  max_datagram_ = size("maxDatagramSize", kDefaultMaxDatagram, kMinMaxDatagram, kMaxMaxDatagram);
  send_capacity_ = size("sendBatchSize", kDefaultSendBatchSize, 1, kMaxBatchSize);
  bool want_tx_timestamps = BooleanOption(options, "txTimestamps", "UdpSocket");
  bool want_reply_tx_timestamps = BooleanOption(options, "replyTxTimestamps", "UdpSocket");
  // The [clock] section's choices (src/daemon/clock/source-sockets.ts): no kernel
  // receive stamps ("software"), hardware stamps, a device to bind to.
  bool no_rx_timestamps = BooleanOption(options, "noRxTimestamps", "UdpSocket");
  bool want_hardware = BooleanOption(options, "hardwareTimestamps", "UdpSocket");
  // The clock read for a datagram without a stamp: with hardware stamps from a NIC whose
  // PHC is the steered clock, that PHC (a clock device's dynamic id), not CLOCK_REALTIME.
  Napi::Value fallback = options.IsEmpty() ? env.Undefined() : options.Get("fallbackClockId");
  if (!fallback.IsUndefined()) {
    int32_t id = fallback.IsNumber() ? fallback.As<Napi::Number>().Int32Value() : 0;
    if (!fallback.IsNumber() || !(id == CLOCK_REALTIME || (id < 0 && (id & 7) == 3))) {
      ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                     "UdpSocket: fallbackClockId must be CLOCK_REALTIME or a clock device's id");
    }
    fallback_clock_ = static_cast<clockid_t>(id);
  }
  std::string device;
  Napi::Value device_value = options.IsEmpty() ? env.Undefined() : options.Get("bindDevice");
  if (!device_value.IsUndefined()) {
    if (!device_value.IsString()) {
      ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "UdpSocket: bindDevice must be a string");
    }
    device = device_value.As<Napi::String>().Utf8Value();
    if (device.empty() || device.size() >= IFNAMSIZ) {
      ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                     "UdpSocket: bindDevice must be an interface name of 1 to 15 bytes");
    }
  }
  // The queues first: if anything there throws, no fd has been opened yet (the
  // destructor does not run for a constructor that throws).
  AllocateQueues(env);
  OpenFd(env, want_tx_timestamps, want_reply_tx_timestamps, !no_rx_timestamps, want_hardware);
  if (!device.empty() &&
      setsockopt(fd_, SOL_SOCKET, SO_BINDTODEVICE, device.data(),
                 static_cast<socklen_t>(device.size())) != 0) {
    int err = errno;
    CloseFd();
    ThrowErrno(env, err, "setsockopt SO_BINDTODEVICE", device);
  }
}

void UdpSocket::AllocateQueues(Napi::Env env) {
  // Send queue: send_capacity_ slots of max_datagram_ bytes each.
  send_data_.assign(send_capacity_ * max_datagram_, 0);
  send_msgs_.resize(send_capacity_);
  send_iovs_.resize(send_capacity_);
  send_names_.resize(send_capacity_);
  send_finishes_.assign(send_capacity_, ReplyFinish{});
  send_control_.assign(send_capacity_ * kSendControlWords, 0);
  for (size_t i = 0; i < send_capacity_; ++i) {
    send_iovs_[i].iov_base = &send_data_[i * max_datagram_];
    send_iovs_[i].iov_len = 0;
    std::memset(&send_msgs_[i], 0, sizeof send_msgs_[i]);
    send_msgs_[i].msg_hdr.msg_iov = &send_iovs_[i];
    send_msgs_[i].msg_hdr.msg_iovlen = 1;
    send_msgs_[i].msg_hdr.msg_name = &send_names_[i];
  }

  // Receive slots: one JS Buffer each (udp_socket.h, BUFFER LIFETIMES).
  slots_.resize(batch_size_);
  msgs_.resize(batch_size_);
  iovs_.resize(batch_size_);
  names_.resize(batch_size_);
  control_.assign(batch_size_ * kControlWords, 0);
  for (size_t i = 0; i < batch_size_; ++i) {
    Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::New(env, max_datagram_);
    std::memset(buffer.Data(), 0, max_datagram_);
    slots_[i].buffer = Napi::Persistent(Napi::Object(buffer));
    slots_[i].data = buffer.Data();
    iovs_[i].iov_base = buffer.Data();
    iovs_[i].iov_len = max_datagram_;
    std::memset(&msgs_[i], 0, sizeof msgs_[i]);
    msgs_[i].msg_hdr.msg_iov = &iovs_[i];
    msgs_[i].msg_hdr.msg_iovlen = 1;
    msgs_[i].msg_hdr.msg_name = &names_[i];
    msgs_[i].msg_hdr.msg_control = &control_[i * kControlWords];
  }
}

void UdpSocket::OpenFd(Napi::Env env, bool want_tx_timestamps, bool want_reply_tx_timestamps,
                       bool want_rx_timestamps, bool want_hardware) {
  // An AF_INET6 socket keeps the kernel's IPV6_V6ONLY default (net.ipv6.bindv6only,
  // normally 0: a wildcard bind is dual-stack and IPv4 peers appear as ::ffff:a.b.c.d).
  fd_ = socket(family_, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) ThrowErrno(env, errno, "socket");
  int on = 1;
  if (want_hardware) {
    // The NIC's stamps (its PHC's time) both ways: ts[2] of SCM_TIMESTAMPING. No
    // SO_TIMESTAMPNS: it would bring software receive stamps, preferred otherwise.
    // The interface must have hardware stamping on (SIOCSHWTSTAMP, clock_device.cc).
    int flags = SOF_TIMESTAMPING_RAW_HARDWARE | SOF_TIMESTAMPING_RX_HARDWARE |
                SOF_TIMESTAMPING_TX_HARDWARE | SOF_TIMESTAMPING_OPT_TSONLY |
                SOF_TIMESTAMPING_OPT_ID;
    hardware_timestamps_ =
        setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
    kernel_timestamps_ = tx_timestamps_ = hardware_timestamps_;
    KeepKernelTimestampingEnabled();
    return;
  }
  kernel_timestamps_ =
      want_rx_timestamps && setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPNS, &on, sizeof on) == 0;
  if (want_tx_timestamps) {
    // No SOF_TIMESTAMPING_RX_SOFTWARE: receive times still come from SO_TIMESTAMPNS.
    int flags = SOF_TIMESTAMPING_TX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE |
                SOF_TIMESTAMPING_OPT_TSONLY | SOF_TIMESTAMPING_OPT_ID;
    tx_timestamps_ = setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
  } else if (want_reply_tx_timestamps) {
    // Reporting only: no TX_SOFTWARE here, so no send is stamped unless its own control
    // message asks (udp_send.cc); no OPT_TSONLY, so each stamp comes back with the
    // reply's bytes, which say which reply it was (its T2) whatever the order.
    // OPT_RX_FILTER (Linux 6.10): SOFTWARE would otherwise also report every received
    // datagram's time a second time (SCM_TIMESTAMPING next to SCM_TIMESTAMPNS), a cost on
    // every request; older kernels refuse the flag and get the plain setting.
    int flags = SOF_TIMESTAMPING_SOFTWARE | kTimestampingOptRxFilter;
    reply_tx_timestamps_ =
        setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
    if (!reply_tx_timestamps_) {
      flags = SOF_TIMESTAMPING_SOFTWARE;
      reply_tx_timestamps_ =
          setsockopt(fd_, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof flags) == 0;
    }
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
  if (closed_) {
    ThrowCodeError(env, "ERR_SOCKET_CLOSED", std::string(syscall) + ": socket is closed");
  }
}

void UdpSocket::StartPolling(Napi::Env env) {
  if (poll_ != nullptr) return;
  auto* poll = new uv_poll_t;
  int r = uv_poll_init_socket(UvLoop(env), poll, fd_);
  if (r < 0) {
    delete poll;
    ThrowErrno(env, -r, "uv_poll_init");
  }
  poll->data = this;
  r = uv_poll_start(poll, UV_READABLE, OnPoll);
  if (r < 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(poll), DeletePoll);
    ThrowErrno(env, -r, "uv_poll_start");
  }
  poll_ = poll;
  async_context_.emplace(env, "ntpd.UdpSocket", Value());
  // Keep the JS object (and so this C++ object) alive while the loop may call us.
  Ref();
  self_ref_ = true;
  cleanup_hook_ = env.AddCleanupHook(OnEnvCleanup, this);
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
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), DeletePoll);
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
    s.buffer.Reset();
    s.data = nullptr;
  }
  async_context_.reset();
  if (!cleanup_hook_.IsEmpty()) cleanup_hook_.Remove(Env());
  if (self_ref_) {
    self_ref_ = false;
    Unref();
  }
}

void UdpSocket::OnEnvCleanup(UdpSocket* self) {
  self->cleanup_hook_ = {};  // the runtime is removing it (and frees its data)
  self->CloseFd();
  self->ReleaseJsResources();
}

Napi::Value UdpSocket::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "bind");
  SocketAddressArg a = AddressArg(info, 0, family_, "bind");
  // bind(host, port, { reusePort }): SO_REUSEPORT lets several sockets (one per serving
  // thread) bind the same address; the kernel spreads datagrams over them by source.
  if (info[2].IsObject()) {
    Napi::Value reuse = info[2].As<Napi::Object>().Get("reusePort");
    int on = 1;
    if (reuse.IsBoolean() && reuse.As<Napi::Boolean>().Value() &&
        setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) != 0) {
      ThrowErrno(env, errno, "setsockopt", a.host, a.port);
    }
  }
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&a.addr), a.len) != 0) {
    ThrowErrno(env, errno, "bind", a.host, a.port);
  }
  StartPolling(env);
  return env.Undefined();
}

Napi::Value UdpSocket::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "connect");
  SocketAddressArg a = AddressArg(info, 0, family_, "connect");
  int r;
  do {
    r = ::connect(fd_, reinterpret_cast<sockaddr*>(&a.addr), a.len);
  } while (r != 0 && errno == EINTR);
  if (r != 0) ThrowErrno(env, errno, "connect", a.host, a.port);
  StartPolling(env);
  return env.Undefined();
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
  bool has_reply = IsGiven(info, 1);
  if (has_reply) {
    TypedArrayArg(info, 1, napi_uint8_array, 0, "setOnMessage: reply must be a Uint8Array");
  }
  bool has_finish = IsGiven(info, 2);
  if (has_finish) {
    std::string expected = "setOnMessage: finish must be a Uint8Array of at least " +
                           std::to_string(kReplyFinishBytes) + " bytes, given with reply";
    if (!has_reply) ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", expected);
    TypedArrayArg(info, 2, napi_uint8_array, kReplyFinishBytes, expected);
  }
  Napi::Function handler = HandlerArg(info, "setOnMessage");
  if (handler.IsEmpty()) {
    on_message_.Reset();
    reply_.Reset();
    finish_.Reset();
  } else if (!closed_) {
    on_message_ = Napi::Persistent(handler);
    reply_ = has_reply ? Napi::Persistent(info[1].As<Napi::Object>()) : Napi::ObjectReference();
    finish_ = has_finish ? Napi::Persistent(info[2].As<Napi::Object>()) : Napi::ObjectReference();
  }
  return env.Undefined();
}

Napi::Value UdpSocket::SetOnError(const Napi::CallbackInfo& info) {
  Napi::Function handler = HandlerArg(info, "setOnError");
  if (handler.IsEmpty()) {
    on_error_.Reset();
  } else if (!closed_) {
    on_error_ = Napi::Persistent(handler);
  }
  return info.Env().Undefined();
}

Napi::Value UdpSocket::SetOnTxTimestamp(const Napi::CallbackInfo& info) {
  Napi::Function handler = HandlerArg(info, "setOnTxTimestamp");
  if (handler.IsEmpty()) {
    on_tx_timestamp_.Reset();
  } else if (!closed_) {
    on_tx_timestamp_ = Napi::Persistent(handler);
  }
  return info.Env().Undefined();
}

Napi::Value UdpSocket::SetReceiveBufferSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  CheckOpen(env, "setReceiveBufferSize");
  int size = static_cast<int>(IntegerArg(info[0], 1, 2147483647.0, "setReceiveBufferSize: size"));
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
  if (getsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &size, &len) != 0) {
    ThrowErrno(env, errno, "getsockopt");
  }
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

Napi::Value UdpSocket::GetHardwareTimestamps(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), hardware_timestamps_);
}

Napi::Value UdpSocket::GetReplyTxTimestamps(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), reply_tx_timestamps_);
}

Napi::Value UdpSocket::GetErrorQueueWakeups(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), poll_error_wakeups_);
}

Napi::Value UdpSocket::GetTruncatedDatagrams(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), truncated_datagrams_);
}

Napi::Value UdpSocket::GetSendCalls(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), send_calls_);
}

Napi::Value UdpSocket::GetFd(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), fd_);
}

Napi::Value UdpSocket::GetClosed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), closed_);
}

}  // namespace ntpd
