// UdpSocket: a nonblocking UDP socket with kernel receive timestamps (SO_TIMESTAMPNS),
// polled on the libuv loop and drained with recvmmsg in batches; in reply mode (servers)
// replies are queued and leave with sendmmsg, finished (T3, NTS seal) at the send;
// optionally (client sockets) kernel software transmit timestamps from the error queue.
//
// JS: new UdpSocket(family: 4 | 6, options?: { batchSize, maxDatagramSize, sendBatchSize,
// txTimestamps }); src/daemon/native/types.ts (NativeUdpSocket) declares every method.
// The code is split by purpose:
//   udp_socket.cc   construction, options, bind/connect, lifetime (polling, close,
//                   environment teardown), accessors
//   udp_receive.cc  the poll callback: recvmmsg batches, receive timestamps, handler
//                   calls, POLLERR recovery, TX timestamps from the error queue
//   udp_send.cc     send/sendTo, and reply mode's queue: QueueReply, FlushSendQueue
//
// BUFFER LIFETIMES (the one statement of this contract; types.ts points here)
//
// Receive buffers belong to the socket. It allocates `batchSize` slot Buffers of
// `maxDatagramSize` bytes at construction and holds them until close() (or collection).
// recvmmsg writes datagram i of a batch into slot i, and the message handler gets
// that slot's Buffer with the datagram in bytes [0, length). Those bytes are valid only
// during the synchronous handler call: the next batch that reaches slot i overwrites
// them. JS copies what it keeps (Buffer.from(data.subarray(0, length))). Keeping the
// Buffer itself is memory-safe (it owns its memory, even after close()) but not
// content-stable. JS must not write to it, and must never detach its ArrayBuffer
// (transfer it): the socket keeps writing to the memory it had. Datagrams longer than
// maxDatagramSize are truncated by the kernel and dropped here, never delivered.
//
// Reply mode, setOnMessage(handler, reply, finish?): `reply` and `finish` belong to JS;
// the socket holds references to them (they stay alive) until they are replaced or the
// socket closes. When a handler returns n, before the next handler is called, the socket
// reads reply[0, n) and copies it into a send-queue slot of its own, and takes the
// finish description (kReplyFinishBytes, reply_finish.h): copies it, then overwrites
// its key and kind in `finish`. So JS may reuse both buffers as soon as the handler
// returns, and FlushSendQueue never reads JS memory: it stamps T3, seals and sends the
// socket's own copies, all before the wakeup returns to the event loop. The one
// exception is a reply longer than a queue slot (maxDatagramSize): it is finished in
// place in `reply` (T3, seal) and sent at once, still before the next handler call.
// Both buffers are looked up again for every reply, so a handler may replace them
// (setOnMessage) or detach them (a detached one has length 0).
//
// send/sendTo read the caller's bytes only during the call (the syscall copies them),
// so the caller may reuse its buffer as soon as they return; send's t1Out is written
// before it returns.
#pragma once

#include <napi.h>
#include <sys/socket.h>
#include <time.h>
#include <uv.h>

#include <cstdint>
#include <optional>
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
  // Ancillary data room per receive slot (timestamps), in uint64_t for cmsghdr alignment.
  static constexpr size_t kControlWords = 16;
  // Control room per send slot: one SO_TIMESTAMPING message (CMSG_SPACE(sizeof(int))).
  static constexpr size_t kSendControlWords = 4;

  // One receive slot of the recvmmsg batch: `data` is the memory of the JS Buffer
  // `buffer` keeps alive (see BUFFER LIFETIMES).
  struct Slot {
    Napi::ObjectReference buffer;
    uint8_t* data = nullptr;
  };

  // A queued send that failed in FlushSendQueue, reported by ReportSendErrors.
  struct SendFailure {
    int err;
    // "sendmmsg", "sendto" for a reply longer than a slot, "seal" for a reply whose
    // finish failed (not sent)
    const char* syscall;
    sockaddr_storage to;
  };

  // JS methods and accessors (udp_socket.cc, udp_send.cc).
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
  Napi::Value GetReplyTxTimestamps(const Napi::CallbackInfo& info);
  Napi::Value GetHardwareTimestamps(const Napi::CallbackInfo& info);
  Napi::Value GetErrorQueueWakeups(const Napi::CallbackInfo& info);
  Napi::Value GetTruncatedDatagrams(const Napi::CallbackInfo& info);
  Napi::Value GetSendCalls(const Napi::CallbackInfo& info);
  Napi::Value GetFd(const Napi::CallbackInfo& info);
  Napi::Value GetClosed(const Napi::CallbackInfo& info);

  // Lifetime (udp_socket.cc).
  void AllocateQueues(Napi::Env env);
  void OpenFd(Napi::Env env, bool want_tx_timestamps, bool want_reply_tx_timestamps,
              bool want_rx_timestamps, bool want_hardware);
  void CheckOpen(Napi::Env env, const char* syscall) const;
  void StartPolling(Napi::Env env);
  // Stops polling and closes the fd; no JS is touched, so it is safe from the env
  // cleanup hook and the finalizer.
  void CloseFd();
  // Drops the references to JS values (handlers, receive Buffers, self). Deferred to the
  // end of a dispatch when close() is called from inside a message handler.
  void ReleaseJsResources();
  static void OnEnvCleanup(UdpSocket* self);

  // Receive (udp_receive.cc).
  static void OnPoll(uv_poll_t* handle, int status, int events);
  void DrainBatches(Napi::Env env);
  void RecoverFromPollError(Napi::Env env);
  // Empties the error queue (MSG_ERRQUEUE); TX timestamps in it go to on_tx_timestamp_.
  void DrainErrorQueue(Napi::Env env);
  // One error-queue message: its TX timestamp (if it is one) to on_tx_timestamp_.
  void DeliverTxTimestamp(Napi::Env env, msghdr& m, size_t length);
  // Calls the error handler (if any, and open) with an errno error.
  void ReportError(Napi::Env env, int err, const char* syscall, const char* address = nullptr,
                   int port = -1);

  // Reply mode's send queue (udp_send.cc).
  // Reply mode: queues reply[0, result) to the source of datagram `i`; see SetOnMessage.
  void QueueReply(Napi::Env env, Napi::Value result, size_t i);
  // Puts one reply in the send queue (flushing it when full), with the finish described
  // at `finish` (kReplyFinishBytes, taken and cleared; null: none); one longer than a
  // queue slot is finished and sent at once. False (nothing queued or sent) when the
  // description is malformed. Never throws: send failures go to send_failures_.
  bool Enqueue(uint8_t* data, size_t length, const sockaddr_storage& to, socklen_t len,
               uint8_t* finish);
  // Finishes every queued reply (T3, seal: reply_finish.h) and hands them to the kernel
  // (sendmmsg); failures go to send_failures_.
  void FlushSendQueue();
  // Stamps T3 on the queued replies [begin, end) (none of them to seal) and sends them.
  void StampAndSend(size_t begin, size_t end);
  // Sends the queued replies [begin, end) as they are.
  void SendQueued(size_t begin, size_t end);
  // Calls the error handler once per entry of send_failures_ (then clears it).
  void ReportSendErrors(Napi::Env env);

  int fd_ = -1;
  int family_ = AF_INET;
  bool kernel_timestamps_ = false;
  // SO_TIMESTAMPING with SOF_TIMESTAMPING_TX_SOFTWARE is on (option txTimestamps).
  bool tx_timestamps_ = false;
  // Option hardwareTimestamps: receive and TX stamps are the NIC's (ts[2]), not ts[0].
  bool hardware_timestamps_ = false;
  // Read for a received datagram without a stamp (option fallbackClockId).
  clockid_t fallback_clock_ = CLOCK_REALTIME;
  // Reply mode: replies whose finish asks for it (kFinishTxStamp) are sent with a
  // per-message SO_TIMESTAMPING request, and their TX timestamps come back with the
  // reply's bytes (option replyTxTimestamps; interleaved mode).
  bool reply_tx_timestamps_ = false;
  // A flush asked for TX timestamps: read the error queue before the wakeup ends.
  bool tx_stamps_pending_ = false;
  // POLLERR wakeups (pending socket error or error-queue entries), for tests.
  double poll_error_wakeups_ = 0;
  // Datagrams longer than max_datagram_ (MSG_TRUNC), dropped without a handler call.
  double truncated_datagrams_ = 0;
  // The receive batch being handled came short of batch_size_: the socket drained what
  // was there, so nothing is waiting and a plain reply leaves at once, alone (see
  // Enqueue in udp_send.cc).
  bool plain_replies_alone_ = false;
  // sendmmsg calls so far, for tests.
  double send_calls_ = 0;
  bool closed_ = false;
  bool dispatching_ = false;
  bool js_released_ = false;
  bool self_ref_ = false;
  uv_poll_t* poll_ = nullptr;  // non-null while polling
  std::optional<Napi::AsyncContext> async_context_;
  Napi::Env::CleanupHook<void (*)(UdpSocket*), UdpSocket> cleanup_hook_;

  Napi::FunctionReference on_message_;
  Napi::FunctionReference on_error_;
  Napi::FunctionReference on_tx_timestamp_;
  // Reply mode (setOnMessage(handler, reply, finish?)): the buffer the handler writes
  // replies to, and the one it describes their finish in (reply_finish.h).
  Napi::ObjectReference reply_;
  Napi::ObjectReference finish_;

  // Receive: batch_size_ slots of max_datagram_ bytes.
  size_t batch_size_;
  size_t max_datagram_;
  std::vector<Slot> slots_;
  std::vector<mmsghdr> msgs_;
  std::vector<iovec> iovs_;
  std::vector<sockaddr_storage> names_;
  std::vector<uint64_t> control_;  // uint64_t for cmsghdr alignment

  // Send queue of reply mode: replies copied into socket-owned slots of max_datagram_
  // bytes, flushed with one sendmmsg when all `send_capacity_` slots are taken and after
  // the last handler of each receive batch.
  size_t send_capacity_;
  size_t send_count_ = 0;
  std::vector<uint8_t> send_data_;
  std::vector<mmsghdr> send_msgs_;
  std::vector<iovec> send_iovs_;
  std::vector<sockaddr_storage> send_names_;
  // Per slot: room for one SO_TIMESTAMPING control message (uint64_t for alignment).
  std::vector<uint64_t> send_control_;
  // The finish of each queued reply (its key overwritten once applied or dropped).
  std::vector<ReplyFinish> send_finishes_;
  std::vector<SendFailure> send_failures_;
};

}  // namespace ntpd
