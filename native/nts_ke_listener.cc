// NtsKeListener (see nts_ke_listener.h): accepting, the per-connection state machine on
// non-blocking GnuTLS sessions, and the hand-off to JavaScript. The NTS-KE protocol
// itself (records, negotiation, cookies) is TypeScript's, with one exception: once
// setFastPath and setCookieKey have been given, a plain key exchange request is answered
// here (nts_ke_response.h), without a call into JavaScript; everything else, and any
// request the fast path cannot finish, is handed to JavaScript as before.

#include "nts_ke_listener.h"

#ifdef NTPD_HAVE_GNUTLS

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/rand.h>
#include <uv.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "aes_siv_binding.h"
#include "args.h"
#include "errors.h"
#include "napi_extras.h"
#include "nts_ke_response.h"
#include "nts_ke_response_binding.h"

namespace ntpd {
namespace {

constexpr char kAlpn[] = "ntske/1";
constexpr char kExporterLabel[] = "EXPORTER-network-time-security";
// Accepts per wake-up of the listening socket: bounded so that a flood of connections
// cannot hold the event loop (the rest wait for the next turn).
constexpr int kMaxAcceptsPerWakeup = 64;

// A certificate chain and key, shared by the sessions started while it was current:
// GnuTLS needs credentials to outlive every session using them, and a reload must not
// disturb connections under way.
struct Credentials {
  gnutls_certificate_credentials_t cred = nullptr;
  int refs = 1;
  void Release() {
    if (--refs == 0) {
      gnutls_certificate_free_credentials(cred);
      delete this;
    }
  }
};

enum class State { kHandshake, kReceive, kSend, kBye, kDrain, kClosing };

class Listener;

struct Connection {
  Listener* owner = nullptr;
  int fd = -1;
  Connection* prev = nullptr;  // the listener's list of live connections
  Connection* next = nullptr;
  State state = State::kHandshake;
  gnutls_session_t session = nullptr;
  Credentials* credentials = nullptr;
  uv_poll_t poll{};
  uv_timer_t timer{};
  int handles_open = 0;  // poll and timer; freed when both have closed
  int polling = 0;       // the events being polled for (UV_READABLE or UV_WRITABLE), or 0
  bool answered = false;  // onRequest was called: its outcome is counted in JS
  std::vector<uint8_t> request;
  size_t scanned = 0;  // HasEndOfMessage's place in `request`
  std::vector<uint8_t> response;
  size_t sent = 0;
  std::string peer;
};

// True when `data` holds a complete End of Message record (type 0, critical bit or not)
// after whole records: NTS-KE records are type(2) length(2) body (RFC 8915 §4). `at` is
// where the first record not yet seen whole starts, kept between calls so that a request
// trickled in many small TLS records is scanned once, not once per record.
bool HasEndOfMessage(const std::vector<uint8_t>& data, size_t& at) {
  while (at + 4 <= data.size()) {
    unsigned type = ((data[at] << 8) | data[at + 1]) & 0x7fff;
    size_t length = (data[at + 2] << 8) | data[at + 3];
    if (at + 4 + length > data.size()) return false;
    if (type == 0) return true;
    at += 4 + length;
  }
  return false;
}

std::string PeerOf(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = "";
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof text);
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text, sizeof text);
  }
  return text;
}

class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "NtsKeListener",
                       {InstanceMethod<&Listener::SetCredentials>("setCredentials"),
                        InstanceMethod<&Listener::ExportKeys>("exportKeys"),
                        InstanceMethod<&Listener::Close>("close"),
                        InstanceMethod<&Listener::SetFastPath>("setFastPath"),
                        InstanceMethod<&Listener::SetCookieKey>("setCookieKey"),
                        InstanceAccessor<&Listener::FastKeyExchanges>("fastKeyExchanges"),
                        InstanceAccessor<&Listener::Accepted>("accepted"),
                        InstanceAccessor<&Listener::Open>("open"),
                        InstanceAccessor<&Listener::Port>("port")});
  }

  explicit Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
    Napi::Env env = info.Env();
    listen_fd_ = static_cast<int>(IntegerArg(info[0], 0, INT32_MAX, "NtsKeListener: fd"));
    Napi::Object options = info[1].As<Napi::Object>();
    max_connections_ = IntegerArg(options.Get("maxConnections"), 1, 1 << 20,
                                  "NtsKeListener: maxConnections");
    timeout_ms_ = IntegerArg(options.Get("timeoutMs"), 1, 1 << 30, "NtsKeListener: timeoutMs");
    max_request_ = IntegerArg(options.Get("maxRequest"), 4, 1 << 16, "NtsKeListener: maxRequest");
    peers_ = options.Get("peers").ToBoolean().Value();
    if (!info[2].IsFunction() || !info[3].IsFunction()) {
      throw Napi::TypeError::New(env, "NtsKeListener: onRequest and onOutcome must be functions");
    }
    on_request_ = Napi::Persistent(info[2].As<Napi::Function>());
    on_outcome_ = Napi::Persistent(info[3].As<Napi::Function>());
    // TLS 1.3 only (RFC 8915 §3) on the system's default priorities, so that a system
    // crypto policy still applies; chrony does the same. Unlike OpenSSL (node:tls) and
    // rustls (ntpd-rs), GnuTLS refuses to sign with a certificate whose key usage lacks
    // digitalSignature, and the ntpd-rs guide's certificate has keyEncipherment only: the
    // keyword lets it serve what the other two serve (whether to accept is the client's
    // call). GnuTLS versions without the keyword get the plain priorities.
    int r = gnutls_priority_init2(&priority_,
                                  "-VERS-ALL:+VERS-TLS1.3:%DEBUG_ALLOW_KEY_USAGE_VIOLATIONS",
                                  nullptr, GNUTLS_PRIORITY_INIT_DEF_APPEND);
    if (r < 0) {
      r = gnutls_priority_init2(&priority_, "-VERS-ALL:+VERS-TLS1.3", nullptr,
                                GNUTLS_PRIORITY_INIT_DEF_APPEND);
    }
    if (r < 0) throw Napi::Error::New(env, std::string("GnuTLS priorities: ") + gnutls_strerror(r));
    sockaddr_storage bound{};
    socklen_t bound_len = sizeof bound;
    if (getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&bound), &bound_len) < 0) {
      ThrowErrno(env, errno, "getsockname");
    }
    port_ = ntohs(bound.ss_family == AF_INET6
                      ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                      : reinterpret_cast<sockaddr_in&>(bound).sin_port);
    loop_ = UvLoop(env);
    listen_poll_ = new uv_poll_t;
    r = uv_poll_init_socket(loop_, listen_poll_, listen_fd_);
    if (r < 0) {
      delete listen_poll_;
      listen_poll_ = nullptr;
      ThrowErrno(env, -r, "uv_poll_init");
    }
    listen_poll_->data = this;
    uv_poll_start(listen_poll_, UV_READABLE, OnListenReadable);
    async_context_.emplace(env, "ntpd.NtsKeListener", Value());
    // The JS object (and so this) stays alive while the loop may call us.
    Ref();
    cleanup_hook_ = env.AddCleanupHook(OnEnvCleanup, this);
  }

  ~Listener() override {
    if (listen_poll_ != nullptr) listen_poll_->data = nullptr;
    if (priority_ != nullptr) gnutls_priority_deinit(priority_);
    if (credentials_ != nullptr) credentials_->Release();
  }

 private:
  // --- JavaScript methods ----------------------------------------------------------

  void SetCredentials(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    TypedArrayView chain = ViewTypedArray(info[0]);
    TypedArrayView key = ViewTypedArray(info[1]);
    if (chain.data == nullptr || key.data == nullptr || chain.type != napi_uint8_array ||
        key.type != napi_uint8_array) {
      throw Napi::TypeError::New(env, "setCredentials: chain and key must be Uint8Arrays (PEM)");
    }
    auto* next = new Credentials;
    int r = gnutls_certificate_allocate_credentials(&next->cred);
    if (r >= 0) {
      const gnutls_datum_t c = {static_cast<unsigned char*>(chain.data),
                                static_cast<unsigned>(chain.length)};
      const gnutls_datum_t k = {static_cast<unsigned char*>(key.data),
                                static_cast<unsigned>(key.length)};
      r = gnutls_certificate_set_x509_key_mem(next->cred, &c, &k, GNUTLS_X509_FMT_PEM);
    }
    if (r < 0) {
      if (next->cred != nullptr) gnutls_certificate_free_credentials(next->cred);
      delete next;
      throw Napi::Error::New(env, std::string("GnuTLS: ") + gnutls_strerror(r));
    }
    if (credentials_ != nullptr) credentials_->Release();
    credentials_ = next;
  }

  Napi::Value ExportKeys(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (current_ == nullptr) {
      throw Napi::Error::New(env, "exportKeys: only inside onRequest");
    }
    size_t length = IntegerArg(info[0], 1, 64, "exportKeys: length");
    TypedArrayView contexts[2] = {ViewTypedArray(info[1]), ViewTypedArray(info[2])};
    Napi::Buffer<uint8_t> keys = Napi::Buffer<uint8_t>::New(env, 2 * length);
    for (int d = 0; d < 2; ++d) {
      if (contexts[d].type != napi_uint8_array) {
        throw Napi::TypeError::New(env, "exportKeys: contexts must be Uint8Arrays");
      }
      // Straight into the JS buffer: no copy of the key is left in native memory.
      int r = gnutls_prf_rfc5705(current_->session, sizeof kExporterLabel - 1, kExporterLabel,
                                 contexts[d].length, static_cast<const char*>(contexts[d].data),
                                 length, reinterpret_cast<char*>(keys.Data() + d * length));
      if (r < 0) {
        gnutls_memset(keys.Data(), 0, keys.Length());
        throw Napi::Error::New(env, std::string("key export: ") + gnutls_strerror(r));
      }
    }
    return keys;
  }

  void Close(const Napi::CallbackInfo&) { StopListening(); }

  // setFastPath(config | null): what the fast path accepts and adds to every response
  // (nts_ke_response_binding.h); null turns it off.
  void SetFastPath(const Napi::CallbackInfo& info) {
    if (info[0].IsNull() || info[0].IsUndefined()) {
      fast_config_.reset();
      return;
    }
    fast_config_.emplace(ResponseConfigArg(info[0]));
  }

  // setCookieKey(keyId, key | null): the master key new cookies are sealed under (a
  // handle from sivPrepareKey, held here until replaced), given again at each rotation.
  // null: no fast path. A key wiped later (rotated out) fails its seal, and that
  // connection goes to JavaScript.
  void SetCookieKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info[1].IsNull() || info[1].IsUndefined()) {
      cookie_key_ = ke::CookieKey{};
      cookie_key_ref_.Reset();
      return;
    }
    const double id = IntegerArg(info[0], 0, 4294967295.0, "setCookieKey: keyId");
    const siv::PreparedKey* key = PreparedKeyOf(env, info[1]);
    if (key == nullptr) throw Napi::TypeError::New(env, "setCookieKey: expected a prepared key");
    cookie_key_ref_ = Napi::Persistent(info[1]);
    cookie_key_ = ke::CookieKey{static_cast<uint32_t>(id), key};
  }

  Napi::Value FastKeyExchanges(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(fast_key_exchanges_));
  }

  Napi::Value Accepted(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(accepted_));
  }
  Napi::Value Port(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), port_);
  }
  Napi::Value Open(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(open_));
  }

  // --- accepting ---------------------------------------------------------------------

  static void OnListenReadable(uv_poll_t* handle, int status, int) {
    auto* self = static_cast<Listener*>(handle->data);
    if (self == nullptr || status < 0) return;
    for (int i = 0; i < kMaxAcceptsPerWakeup && self->listen_fd_ >= 0; ++i) {
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      int fd = accept4(self->listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or an error of that one connection (ECONNABORTED...)
      self->Accept(fd, addr);
    }
  }

  void Accept(int fd, const sockaddr_storage& addr) {
    ++accepted_;
    std::string peer = peers_ ? PeerOf(addr) : std::string();
    // The cap first, before any memory is spent on the connection.
    if (open_ >= max_connections_ || credentials_ == nullptr) {
      ::close(fd);
      Report(open_ >= max_connections_ ? "refused" : "failed", "no certificate", peer);
      return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* c = new Connection;
    c->owner = this;
    c->fd = fd;
    c->peer = std::move(peer);
    c->next = live_;
    if (live_ != nullptr) live_->prev = c;
    live_ = c;
    c->credentials = credentials_;
    ++credentials_->refs;
    static const gnutls_datum_t alpn = {
        reinterpret_cast<unsigned char*>(const_cast<char*>(kAlpn)), sizeof kAlpn - 1};
    // No session tickets: NTS-KE clients do not resume, and a ticket costs a seal.
    int r = gnutls_init(&c->session, GNUTLS_SERVER | GNUTLS_NONBLOCK | GNUTLS_NO_TICKETS);
    if (r >= 0) r = gnutls_priority_set(c->session, priority_);
    if (r >= 0) r = gnutls_credentials_set(c->session, GNUTLS_CRD_CERTIFICATE, c->credentials->cred);
    // MANDATORY: a client offering ALPN without ntske/1 fails the handshake. One that
    // offers no ALPN at all gets through and is refused after it (noAlpn).
    if (r >= 0) r = gnutls_alpn_set_protocols(c->session, &alpn, 1, GNUTLS_ALPN_MANDATORY);
    if (r >= 0) gnutls_transport_set_int(c->session, fd);
    uv_poll_init_socket(loop_, &c->poll, fd);
    uv_timer_init(loop_, &c->timer);
    c->poll.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    ++open_;
    if (r < 0) {
      Finish(c, "failed", gnutls_strerror(r));
      return;
    }
    // One deadline for the handshake and the exchange together.
    uv_timer_start(&c->timer, OnTimeout, static_cast<uint64_t>(timeout_ms_), 0);
    Step(c);
  }

  // --- one connection --------------------------------------------------------------

  static void OnReady(uv_poll_t* handle, int status, int) {
    auto* c = static_cast<Connection*>(handle->data);
    if (status < 0) {
      c->owner->Finish(c, "failed", uv_strerror(status));
      return;
    }
    c->owner->Step(c);
  }

  static void OnTimeout(uv_timer_t* handle) {
    auto* c = static_cast<Connection*>(handle->data);
    c->owner->Finish(c, "timeouts", "key-exchange-timeout-ms reached");
  }

  // Waits until GnuTLS can go on: readable or writable, as its last call was blocked.
  // Only a change of direction restarts the poll: libuv's uv_poll_start drops the fd's
  // epoll registration and makes it again (two system calls), and most waits are reads.
  void WaitFor(Connection* c, bool write) {
    int events = write ? UV_WRITABLE : UV_READABLE;
    if (c->polling == events) return;
    c->polling = events;
    uv_poll_start(&c->poll, events, OnReady);
  }
  void WaitForTls(Connection* c) { WaitFor(c, gnutls_record_get_direction(c->session) == 1); }

  // Advances `c` as far as it goes without blocking.
  void Step(Connection* c) {
    int r;
    switch (c->state) {
      case State::kHandshake: {
        r = gnutls_handshake(c->session);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) return WaitForTls(c);
        if (r < 0) {
          // GnuTLS leaves the alert to us: tell the client why (e.g. no_application_protocol,
          // protocol_version), best effort on the non-blocking socket.
          gnutls_alert_send_appropriate(c->session, r);
          return Finish(c, "failed", gnutls_strerror(r));
        }
        gnutls_datum_t selected;
        if (gnutls_alpn_get_selected_protocol(c->session, &selected) < 0) {
          return Finish(c, "noAlpn", "no ALPN ntske/1");
        }
        c->state = State::kReceive;
        c->request.reserve(512);
      }
        [[fallthrough]];
      case State::kReceive: {
        bool ended = false;
        bool complete = false;  // End of Message seen, or the octet limit reached
        const size_t cap = max_request_ + 4;  // enough for the decoder to see the limit crossed
        for (;;) {
          uint8_t chunk[2048];
          size_t room = std::min(sizeof chunk, cap - c->request.size());
          ssize_t n = gnutls_record_recv(c->session, chunk, room);
          if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) break;
          // A TCP close without close_notify ends the request as a clean one would (as
          // node:tls's "end" does); the protocol code decides whether it was complete.
          if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
            ended = true;
            break;
          }
          if (n < 0) return Finish(c, "failed", gnutls_strerror(static_cast<int>(n)));
          c->request.insert(c->request.end(), chunk, chunk + n);
          if (c->request.size() >= cap || HasEndOfMessage(c->request, c->scanned)) {
            complete = true;
            break;
          }
        }
        if (!ended && !complete) return WaitFor(c, false);
        if (!Answer(c, ended)) return;
        c->state = State::kSend;
      }
        [[fallthrough]];
      case State::kSend:
        while (c->sent < c->response.size()) {
          // After GNUTLS_E_AGAIN, GnuTLS wants the same data again.
          ssize_t n = gnutls_record_send(c->session, c->response.data() + c->sent,
                                         c->response.size() - c->sent);
          if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) return WaitForTls(c);
          if (n < 0) return Finish(c, "failed", gnutls_strerror(static_cast<int>(n)));
          c->sent += static_cast<size_t>(n);
        }
        c->state = State::kBye;
        [[fallthrough]];
      case State::kBye:
        r = gnutls_bye(c->session, GNUTLS_SHUT_WR);
        if (r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED) return WaitForTls(c);
        if (r < 0) return Finish(c, "failed", gnutls_strerror(r));
        // close_notify is out; the client's close follows. Closing before it arrives
        // would answer what it still sends with a reset, which can destroy the response
        // in its receive buffer.
        shutdown(c->fd, SHUT_WR);
        c->state = State::kDrain;
        [[fallthrough]];
      case State::kDrain:
        for (;;) {
          char scratch[1024];
          ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
          if (n > 0) continue;
          if (n < 0 && (errno == EAGAIN || errno == EINTR)) return WaitFor(c, false);
          return Finish(c, nullptr, nullptr);
        }
      case State::kClosing:
        return;
    }
  }

  static bool ExportFromSession(void* context, const uint8_t exporter_context[5],
                                size_t length, uint8_t* out) {
    auto* session = static_cast<gnutls_session_t>(context);
    return gnutls_prf_rfc5705(session, sizeof kExporterLabel - 1, kExporterLabel, 5,
                              reinterpret_cast<const char*>(exporter_context), length,
                              reinterpret_cast<char*>(out)) >= 0;
  }

  // Cookie nonces from a pool filled by OpenSSL's CSPRNG (what randomBytes draws from),
  // 4 KiB at a time: one RAND_bytes call costs about as much as sealing a cookie.
  static bool DrawNonce(void* context, uint8_t* out, size_t length) {
    auto* self = static_cast<Listener*>(context);
    if (length > sizeof self->nonce_pool_) return false;
    if (sizeof self->nonce_pool_ - self->nonce_used_ < length) {
      if (RAND_bytes(self->nonce_pool_, sizeof self->nonce_pool_) != 1) return false;
      self->nonce_used_ = 0;
    }
    std::memcpy(out, self->nonce_pool_ + self->nonce_used_, length);
    self->nonce_used_ += length;  // no octet is handed out twice
    return true;
  }

  // The fast path (nts_ke_response.h): true when `c` has its response without JavaScript.
  bool AnswerNatively(Connection* c) {
    if (!fast_config_ || cookie_key_.key == nullptr) return false;
    ke::Choice choice;
    if (!ke::ChooseKeyExchange(c->request.data(), c->request.size(), *fast_config_, &choice)) {
      return false;
    }
    if (!ke::BuildKeyExchangeResponse(choice, *fast_config_, cookie_key_, ExportFromSession,
                                      c->session, DrawNonce, this, &c->response)) {
      return false;
    }
    ++fast_key_exchanges_;
    return true;
  }

  // The one JavaScript call of a connection. False when the connection is over.
  bool Answer(Connection* c, bool ended) {
    if (!ended && AnswerNatively(c)) {
      c->answered = true;  // counted in fastKeyExchanges, which JS reads
      std::vector<uint8_t>().swap(c->request);
      return true;
    }
    Napi::Env env = Env();
    c->answered = true;
    bool have_response = false;
    current_ = c;
    try {
      // The scope outlives the inner catch: reporting needs handles too.
      Napi::HandleScope scope(env);
      try {
        CallbackScope callbacks(Value(), async_context_);
        Napi::Buffer<uint8_t> request =
            Napi::Buffer<uint8_t>::Copy(env, c->request.data(), c->request.size());
        Napi::Value peer = peers_ ? Napi::String::New(env, c->peer) : env.Undefined();
        Napi::Value result = on_request_.Call({request, Napi::Boolean::New(env, ended), peer});
        TypedArrayView response = ViewTypedArray(result);
        if (response.data != nullptr && response.type == napi_uint8_array) {
          const uint8_t* octets = static_cast<const uint8_t*>(response.data);
          c->response.assign(octets, octets + response.length);
          have_response = true;
        }
      } catch (const Napi::Error& e) {
        ReportUncaught(e);  // e.g. a thread being terminated: JS can no longer run
      }
    } catch (const Napi::Error&) {
      // No handle scope could be opened: the connection closes unanswered.
    }
    current_ = nullptr;
    std::vector<uint8_t>().swap(c->request);
    if (!have_response) {
      Finish(c, nullptr, nullptr);
      return false;
    }
    return true;
  }

  // Ends `c`: reports `outcome` unless JS has already counted it, closes, frees.
  void Finish(Connection* c, const char* outcome, const char* detail) {
    if (c->state == State::kClosing) return;
    c->state = State::kClosing;
    --open_;
    (c->prev != nullptr ? c->prev->next : live_) = c->next;
    if (c->next != nullptr) c->next->prev = c->prev;
    if (outcome != nullptr && !c->answered) Report(outcome, detail, c->peer);
    gnutls_deinit(c->session);  // wipes the session's secrets
    c->session = nullptr;
    c->credentials->Release();
    // Out of epoll before the fd closes: uv_close stops the poll (one EPOLL_CTL_DEL, and
    // libuv drops events of this fd still pending in the loop's batch). A uv_poll_stop
    // first would cost a second DEL, and one after the close fails with EBADF.
    uv_close(reinterpret_cast<uv_handle_t*>(&c->poll), OnHandleClosed);
    ::close(c->fd);
    uv_timer_stop(&c->timer);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer), OnHandleClosed);
    if (open_ == 0 && listen_fd_ < 0) ReleaseSelf();
  }

  static void OnHandleClosed(uv_handle_t* handle) {
    auto* c = static_cast<Connection*>(handle->data);
    if (--c->handles_open == 0) delete c;
  }

  void Report(const char* outcome, const char* detail, const std::string& peer) {
    if (js_released_ || tearing_down_) return;
    Napi::Env env = Env();
    try {
      // The scope outlives the inner catch: reporting needs handles too.
      Napi::HandleScope scope(env);
      try {
        CallbackScope callbacks(Value(), async_context_);
        on_outcome_.Call({Napi::String::New(env, outcome),
                          Napi::String::New(env, detail != nullptr ? detail : ""),
                          peers_ ? Napi::String::New(env, peer) : env.Undefined()});
      } catch (const Napi::Error& e) {
        ReportUncaught(e);  // e.g. a thread being terminated: JS can no longer run
      }
    } catch (const Napi::Error&) {
      // No handle scope could be opened: nothing can be reported.
    }
  }

  // --- lifetime ----------------------------------------------------------------------

  void StopListening() {
    if (listen_fd_ < 0) return;
    uv_poll_stop(listen_poll_);
    listen_poll_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(listen_poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    listen_poll_ = nullptr;
    ::close(listen_fd_);
    listen_fd_ = -1;
    if (open_ == 0) ReleaseSelf();
  }

  // Nothing more can call JS: let the object be collected. Connections still closing
  // their handles touch only themselves.
  void ReleaseSelf() {
    if (js_released_) return;
    js_released_ = true;
    if (!cleanup_hook_.IsEmpty()) cleanup_hook_.Remove(Env());
    on_request_.Reset();
    on_outcome_.Reset();
    cookie_key_ref_.Reset();
    cookie_key_ = ke::CookieKey{};
    async_context_.reset();
    Unref();
  }

  // The environment (a worker thread, the process) is going away: connections under
  // way are cut without reports.
  static void OnEnvCleanup(Listener* self) {
    self->cleanup_hook_ = {};  // the runtime is removing it
    self->tearing_down_ = true;
    self->StopListening();
    while (self->live_ != nullptr) self->Finish(self->live_, nullptr, nullptr);
    self->ReleaseSelf();
  }

  uv_loop_t* loop_ = nullptr;
  int listen_fd_ = -1;
  int port_ = 0;  // the port bound (port 0 in tests)
  uv_poll_t* listen_poll_ = nullptr;  // heap: its close may finish after we are gone
  size_t max_connections_ = 0;
  size_t timeout_ms_ = 0;
  size_t max_request_ = 0;
  bool peers_ = false;
  size_t accepted_ = 0;
  size_t open_ = 0;
  bool js_released_ = false;
  bool tearing_down_ = false;
  Connection* live_ = nullptr;
  std::optional<Napi::AsyncContext> async_context_;
  gnutls_priority_t priority_ = nullptr;
  Credentials* credentials_ = nullptr;
  Connection* current_ = nullptr;  // the connection inside onRequest
  std::optional<ke::ResponseConfig> fast_config_;
  ke::CookieKey cookie_key_;
  Napi::Reference<Napi::Value> cookie_key_ref_;  // keeps cookie_key_'s handle alive
  size_t fast_key_exchanges_ = 0;
  uint8_t nonce_pool_[4096] = {};
  size_t nonce_used_ = sizeof nonce_pool_;
  Napi::FunctionReference on_request_;
  Napi::FunctionReference on_outcome_;
  Napi::Env::CleanupHook<void (*)(Listener*), Listener> cleanup_hook_;
};

}  // namespace

void InitNtsKeListener(Napi::Env env, Napi::Object exports) {
  exports.Set("NtsKeListener", Listener::Init(env));
}

}  // namespace ntpd

#else  // no GnuTLS: the daemon serves NTS-KE with node:tls

namespace ntpd {
void InitNtsKeListener(Napi::Env, Napi::Object) {}
}  // namespace ntpd

#endif
