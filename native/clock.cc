// clockGettime(clockId): reads the clock into clockBuffer, a Float64Array(2) the addon
//   creates once per environment and exports: clockBuffer[0] = seconds,
//   clockBuffer[1] = nanoseconds. No allocation and no argument unpacking beyond the id:
//   ~32 ns per call here, against ~57 ns when the caller passes its own Float64Array
//   (napi_get_typedarray_info alone costs ~25 ns) and ~33 ns for a BigInt return, which
//   allocates. Seconds and nanoseconds stay apart because ns since 1970 does not fit in
//   53 bits. Read both values right after the call: the next call overwrites them.
//   Written against the raw Node-API C interface to keep the call thin.
//
// adjtimeRead(): clock_adjtime(CLOCK_REALTIME, {modes: 0}). `modes` is hard-wired to 0:
//   this call can only read the kernel's clock state, never change it. Steering
//   (ADJ_FREQUENCY, ADJ_SETOFFSET, ...) will be a separate, explicit function.

#include "clock.h"

#include <errno.h>
#include <sys/timex.h>
#include <time.h>

#include <cstring>

#include "errors.h"

namespace ntpd {
namespace {

bool IsSupportedClock(int32_t id) {
  return id == CLOCK_REALTIME || id == CLOCK_MONOTONIC || id == CLOCK_TAI;
}

napi_value ThrowRawTypeError(napi_env env, const char* code, const char* message) {
  napi_throw_type_error(env, code, message);
  return nullptr;
}

// Per-environment state of clockGettime: the exported Float64Array and its memory.
struct ClockBuffer {
  napi_ref ref = nullptr;
  double* data = nullptr;
};

napi_value ClockGettime(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  void* state = nullptr;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, &state) != napi_ok) return nullptr;
  int32_t id = -1;
  if (argc < 1 || napi_get_value_int32(env, argv[0], &id) != napi_ok || !IsSupportedClock(id)) {
    return ThrowRawTypeError(env, "ERR_INVALID_ARG_VALUE",
                             "clockGettime: clockId must be CLOCK_REALTIME, CLOCK_MONOTONIC or "
                             "CLOCK_TAI");
  }
  struct timespec ts;
  if (clock_gettime(static_cast<clockid_t>(id), &ts) != 0) {
    int err = errno;
    try {
      napi_throw(env, MakeErrnoError(Napi::Env(env), err, "clock_gettime").Value());
    } catch (const Napi::Error&) {
      // creating the error failed; an exception is pending anyway
    }
    return nullptr;
  }
  double* out = static_cast<ClockBuffer*>(state)->data;
  out[0] = static_cast<double>(ts.tv_sec);
  out[1] = static_cast<double>(ts.tv_nsec);
  return nullptr;
}

Napi::Value AdjtimeRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  struct timex tx;
  std::memset(&tx, 0, sizeof tx);
  tx.modes = 0;  // READ ONLY. Do not change without a steering design review.
  int state = clock_adjtime(CLOCK_REALTIME, &tx);
  if (state < 0) ThrowErrno(env, errno, "clock_adjtime");
  Napi::Object o = Napi::Object::New(env);
  o.Set("state", Napi::Number::New(env, state));
  o.Set("offset", Napi::Number::New(env, static_cast<double>(tx.offset)));
  o.Set("freq", Napi::Number::New(env, static_cast<double>(tx.freq)));
  o.Set("maxerror", Napi::Number::New(env, static_cast<double>(tx.maxerror)));
  o.Set("esterror", Napi::Number::New(env, static_cast<double>(tx.esterror)));
  o.Set("status", Napi::Number::New(env, tx.status));
  o.Set("constant", Napi::Number::New(env, static_cast<double>(tx.constant)));
  o.Set("precision", Napi::Number::New(env, static_cast<double>(tx.precision)));
  o.Set("tolerance", Napi::Number::New(env, static_cast<double>(tx.tolerance)));
  o.Set("tick", Napi::Number::New(env, static_cast<double>(tx.tick)));
  o.Set("tai", Napi::Number::New(env, tx.tai));
  return o;
}

}  // namespace

void InitClock(Napi::Env env, Napi::Object exports) {
  // One buffer per environment (main thread, each worker), freed with it.
  auto* buffer = new ClockBuffer();
  napi_value array_buffer;
  void* data = nullptr;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_arraybuffer(env, 2 * sizeof(double), &data, &array_buffer));
  buffer->data = static_cast<double*>(data);
  buffer->data[0] = buffer->data[1] = 0;
  napi_value typed;
  NAPI_THROW_IF_FAILED_VOID(
      env, napi_create_typedarray(env, napi_float64_array, 2, array_buffer, 0, &typed));
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_reference(env, typed, 1, &buffer->ref));
  NAPI_THROW_IF_FAILED_VOID(
      env, napi_add_env_cleanup_hook(
               env,
               [](void* arg) {
                 // The environment is going away; its references go with it.
                 delete static_cast<ClockBuffer*>(arg);
               },
               buffer));
  napi_value fn;
  NAPI_THROW_IF_FAILED_VOID(env, napi_create_function(env, "clockGettime", NAPI_AUTO_LENGTH,
                                                      ClockGettime, buffer, &fn));
  exports.Set("clockGettime", Napi::Value(env, fn));
  exports.Set("clockBuffer", Napi::Value(env, typed));
  exports.Set("adjtimeRead", Napi::Function::New(env, AdjtimeRead, "adjtimeRead"));
  exports.Set("CLOCK_REALTIME", Napi::Number::New(env, CLOCK_REALTIME));
  exports.Set("CLOCK_MONOTONIC", Napi::Number::New(env, CLOCK_MONOTONIC));
  exports.Set("CLOCK_TAI", Napi::Number::New(env, CLOCK_TAI));
}

}  // namespace ntpd
