// UdpSocket: a nonblocking UDP socket with kernel receive timestamps (SO_TIMESTAMPNS),
// polled on the libuv loop and drained with recvmmsg in batches; optionally (client
// sockets) kernel software transmit timestamps read from the error queue.
#pragma once

#include <napi.h>
#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <vector>

#include "reply_finish.h"
#include "sockaddr.h"

namespace ntpd {

class UdpSocket : public Napi::ObjectWrap<UdpSocket> {
 public:
  static Napi::Function Init(Napi::Env env);

  explicit UdpSocket(const Napi::CallbackInfo& info);
  ~UdpSocket() override;

 private:
  // One receive slot of the recvmmsg batch. `data` is the memory of a JS Buffer that
  // `buffer` keeps alive; the same Buffer is handed to every datagram received in it.
  struct Slot {
    napi_ref buffer = nullptr;
    uint8_t* data = nullptr;
  };

  Napi::Value Bind(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Send(const Napi::CallbackInfo& info);
  Napi::Value SendTo(const Napi::CallbackInfo& info);
  Napi::Value LocalAddress(const Napi::CallbackInfo& info);
  Napi::Value SetOnMessage(const Napi::CallbackInfo& info);
  Napi::Value SetOnError(const Napi::CallbackInfo& info);
  Napi::Value SetOnTxTimestamp(const Napi::CallbackInfo& info);
  Napi::Value SetReceiveBufferSize(const Napi::CallbackInfo& info);
  Napi::Value GetReceiveBufferSize(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value GetKernelTimestamps(const Napi::CallbackInfo& info);
  Napi::Value GetTxTimestamps(const Napi::CallbackInfo& info);
  Napi::Value GetErrorQueueWakeups(const Napi::CallbackInfo& info);
  Napi::Value GetTruncatedDatagrams(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  // A queued send that failed in FlushSendQueue, reported by ReportSendErrors.
  struct SendFailure {
    int err;
    // "sendmmsg", "sendto" for a reply longer than a slot, "seal" for a reply whose
    // finish failed (not sent)
    const char* syscall;
    sockaddr_storage to;
  };

  void CheckOpen(Napi::Env env, const char* syscall) const;
  // Finishes every queued reply (T3, seal: reply_finish.h) and hands them to the kernel
  // (sendmmsg); failures go to send_failures_.
  void FlushSendQueue();
  // Stamps T3 on the queued replies [begin, end) (none of them to seal) and sends them.
  void StampAndSend(size_t begin, size_t end);
  // Sends the queued replies [begin, end) as they are.
  void SendQueued(size_t begin, size_t end);
  // Puts one reply in the send queue (flushing it when full), with the finish described
  // at `finish` (kReplyFinishBytes, taken and cleared; null: none); one longer than a
  // queue slot is finished and sent at once. False (nothing queued or sent) when the
  // description is malformed. Never throws: send failures go to send_failures_.
  bool Enqueue(uint8_t* data, size_t length, const sockaddr_storage& to, socklen_t len,
               uint8_t* finish);
  // Reply mode: queues reply_[0, result) to the source of datagram `i`; see SetOnMessage.
  void QueueReply(napi_env env, napi_value result, int i);
  // Calls the error handler once per entry of send_failures_ (then clears it).
  void ReportSendErrors(napi_env env);
  void StartPolling(Napi::Env env);
  // Stops polling and closes the fd; no JS is touched, so it is safe from the env
  // cleanup hook and the finalizer.
  void CloseFd();
  // Drops the references to JS values (handlers, receive Buffers, self). Deferred to the
  // end of a dispatch when close() is called from inside a message handler.
  void ReleaseJsResources();

  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnEnvCleanup(void* arg);
  void Drain();
  void DrainBatches(napi_env env);
  void RecoverFromPollError(napi_env env);
  // Empties the error queue (MSG_ERRQUEUE); TX timestamps in it go to on_tx_timestamp_.
  void DrainErrorQueue(napi_env env);
  void ReportError(napi_env env, int err, const char* syscall, const char* address = nullptr,
                   int port = -1);

  napi_env env_;
  int fd_ = -1;
  int family_ = AF_INET;
  bool kernel_timestamps_ = false;
  // SO_TIMESTAMPING with SOF_TIMESTAMPING_TX_SOFTWARE is on (option txTimestamps).
  bool tx_timestamps_ = false;
  // POLLERR wakeups (pending socket error or error-queue entries), for tests.
  double poll_error_wakeups_ = 0;
  // Datagrams longer than max_datagram_ (MSG_TRUNC), dropped without a handler call.
  double truncated_datagrams_ = 0;
  bool closed_ = false;
  bool polling_ = false;
  bool dispatching_ = false;
  bool js_released_ = false;
  bool cleanup_hook_ = false;
  bool self_ref_ = false;
  uv_poll_t* poll_ = nullptr;
  napi_async_context async_context_ = nullptr;

  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_error_;
  Napi::FunctionReference on_tx_timestamp_;
  // Reply mode (setOnMessage(handler, reply, finish?)): the buffer the handler writes
  // replies to, and the one it describes their finish in (reply_finish.h).
  Napi::Reference<Napi::Uint8Array> reply_;
  Napi::Reference<Napi::Uint8Array> finish_;

  size_t batch_size_;
  size_t max_datagram_;
  std::vector<Slot> slots_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_storage> names_;
  std::vector<uint64_t> control_;  // uint64_t for cmsghdr alignment

  // Send queue of reply mode: replies copied into addon-owned slots of max_datagram_
  // bytes, flushed with one sendmmsg when all `send_capacity_` slots are taken and after
  // the last handler of each receive batch.
  size_t send_capacity_;
  size_t send_count_ = 0;
  std::vector<uint8_t> send_data_;
  std::vector<mmsghdr> send_msgs_;
  std::vector<iovec> send_iovs_;
  std::vector<sockaddr_storage> send_names_;
  // The finish of each queued reply (its key overwritten once applied or dropped).
  std::vector<ReplyFinish> send_finishes_;
  std::vector<SendFailure> send_failures_;
};

}  // namespace ntpd
