// The few Node-API calls the addon needs that node-addon-api does not wrap, in its style
// (Napi:: values in and out, failures thrown as Napi::Error). Everything else uses
// node-addon-api directly; these are the only raw napi_* calls of the UDP socket.
#pragma once

#include <napi.h>
#include <uv.h>

#include <cstddef>
#include <optional>

namespace ntpd {

// The libuv loop of `env` (napi_get_uv_event_loop).
uv_loop_t* UvLoop(Napi::Env env);

// A string from Latin-1 bytes (napi_create_string_latin1): for ASCII text such as an
// address, cheaper than Napi::String::New, which decodes UTF-8.
Napi::String Latin1String(Napi::Env env, const char* text, size_t length);

// A typed array's memory, read with one napi_get_typedarray_info. Napi::Uint8Array's
// constructor makes two such calls (about 20 ns each), and reply mode reads the reply
// and finish buffers for every reply. `length` counts elements; all zero/null when
// `value` is not a typed array (or its buffer is detached).
struct TypedArrayView {
  void* data = nullptr;
  size_t length = 0;
  napi_typedarray_type type = napi_int8_array;
};
TypedArrayView ViewTypedArray(Napi::Value value);

// Reports `error` as an uncaught exception (napi_fatal_exception: process
// 'uncaughtException', or exit), for exceptions of JS called from the event loop, where
// there is no JS caller to throw to. Nothing when the environment cannot run JS any more
// (it is being torn down).
void ReportUncaught(const Napi::Error& error);

// An open callback scope for `resource` in `context` while it lives
// (napi_open_callback_scope; Napi::CallbackScope would make a fresh resource object):
// when it closes, process.nextTick callbacks and promise jobs queued inside run. If it
// cannot be opened (or there is no context), JS still runs, only without it (never
// throws).
class CallbackScope {
 public:
  CallbackScope(Napi::Object resource, const std::optional<Napi::AsyncContext>& context);
  ~CallbackScope();
  CallbackScope(const CallbackScope&) = delete;
  CallbackScope& operator=(const CallbackScope&) = delete;

 private:
  napi_env env_;
  napi_callback_scope scope_ = nullptr;
};

}  // namespace ntpd
