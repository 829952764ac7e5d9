// clockGettime(clockId): reads the clock into clockBuffer, a Float64Array(2) the addon
//   creates once per environment and exports: clockBuffer[0] = seconds,
//   clockBuffer[1] = nanoseconds. No allocation and no argument unpacking beyond the id:
//   ~32 ns per call here, against ~57 ns when the caller passes its own Float64Array
//   (napi_get_typedarray_info alone costs ~25 ns) and ~33 ns for a BigInt return, which
//   allocates. Seconds and nanoseconds stay apart because ns since 1970 does not fit in
//   53 bits. Read both values right after the call: the next call overwrites them.
//   Written against the raw Node-API C interface to keep the call thin.
//
// Each adjtime call works on CLOCK_REALTIME, or on the clock device whose dynamic id
// (clock_device.cc) it is given (adjtimeRead(clockId), adjtimeWrite({clockId, ...})).
//
// adjtimeRead(): clock_adjtime(CLOCK_REALTIME, {modes: 0}). `modes` is hard-wired to 0:
//   this call can only read the kernel's clock state, never change it.
//
// adjtimeWrite(request): the one call that changes the system clock. `request` names
//   each change explicitly; BuildTimex (pure, below) turns it into ONE struct timex:
//     frequencyPpm  ADJ_FREQUENCY   freq = round(ppm * 65536), clamped to
//                                   +-(32768000 - 1) (the kernel's 500 ppm limit), as ntpd-rs
//     stepSeconds   ADJ_SETOFFSET | ADJ_NANO  time.tv_sec = floor(step),
//                                   time.tv_usec = nanoseconds in [0, 1e9) (also for
//                                   negative steps: -1.25 s -> tv_sec -2, tv_usec 750000000)
//     status        ADJ_STATUS      status = (current & ~clear) | set; `current` is read
//                   {set, clear}    with modes = 0 just before the write
//     esterrorUs    ADJ_ESTERROR    round(us), clamped to [0, 16000000] (NTP_PHASE_LIMIT)
//     maxerrorUs    ADJ_MAXERROR    round(us), clamped likewise
//   and calls clock_adjtime(CLOCK_REALTIME, &tx) once, returning the kernel's timex
//   after the call (as adjtimeRead does). Errors are errno errors; EPERM says that
//   CAP_SYS_TIME is needed.
//   With dryRun: true nothing is called, not even a read: it returns the timex it WOULD
//   pass ({modes, freq, timeSec, timeUsec, status, esterror, maxerror}); the status
//   base is then `baseStatus` (default 0), which is accepted ONLY with dryRun so a real
//   write can never start from a stale status. Tests exercise steps this way only.

#include "clock.h"

#include <errno.h>
#include <sys/timex.h>
#include <time.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "errors.h"

namespace ntpd {
namespace {

// A dynamic clock id: FD_TO_CLOCKID(fd) = (~fd << 3) | CLOCKFD (3), of a clock device
// opened by clockDeviceOpen (clock_device.cc). Never CLOCK_REALTIME: the kernel routes
// such ids to the device's own clock operations.
bool IsDynamicClock(int32_t id) { return id < 0 && (id & 7) == 3; }

bool IsSupportedClock(int32_t id) {
  return id == CLOCK_REALTIME || id == CLOCK_MONOTONIC || id == CLOCK_TAI || IsDynamicClock(id);
}

// The clock an adjtime call works on: CLOCK_REALTIME unless `value` names a dynamic clock.
clockid_t AdjtimeClockArg(Napi::Env env, const Napi::Value& value, const char* what) {
  if (value.IsUndefined()) return CLOCK_REALTIME;
  int32_t id = value.IsNumber() ? value.As<Napi::Number>().Int32Value() : 0;
  if (!value.IsNumber() || !(id == CLOCK_REALTIME || IsDynamicClock(id))) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   std::string(what) + ": clockId must be CLOCK_REALTIME or a clock device's id");
  }
  return static_cast<clockid_t>(id);
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
                             "clockGettime: clockId must be CLOCK_REALTIME, CLOCK_MONOTONIC, "
                             "CLOCK_TAI or a clock device's id");
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

Napi::Object TimexToObject(Napi::Env env, int state, const struct timex& tx);

Napi::Value AdjtimeRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  clockid_t clock = AdjtimeClockArg(env, info[0], "adjtimeRead");
  struct timex tx;
  std::memset(&tx, 0, sizeof tx);
  tx.modes = 0;  // READ ONLY. Do not change without a steering design review.
  int state = clock_adjtime(clock, &tx);
  if (state < 0) ThrowErrno(env, errno, "clock_adjtime");
  return TimexToObject(env, state, tx);
}

// ---- adjtimeWrite -------------------------------------------------------------------

// The kernel's limits (include/linux/timex.h): |freq| <= MAXFREQ_SCALED (500 ppm in
// 2^-16 ppm units; ntpd-rs stays one unit inside it), and maxerror/esterror saturate at
// NTP_PHASE_LIMIT µs (16 s).
constexpr double kMaxFreq = 32768000.0 - 1.0;
constexpr double kMaxErrorUs = 16000000.0;
// A step of more than 2^31 s (68 years) is no clock correction.
constexpr double kMaxStepSeconds = 2147483648.0;

// A validated adjtimeWrite request, independent of N-API.
struct AdjtimeRequest {
  bool has_frequency = false;
  double frequency_ppm = 0;
  bool has_step = false;
  double step_seconds = 0;
  bool has_status = false;
  int status_set = 0;
  int status_clear = 0;
  bool has_esterror = false;
  double esterror_us = 0;
  bool has_maxerror = false;
  double maxerror_us = 0;
};

// Pure: the struct timex for `req`. `base_status` is the kernel's current status (used
// only with has_status). No system call.
void BuildTimex(const AdjtimeRequest& req, int base_status, struct timex* tx) {
  std::memset(tx, 0, sizeof *tx);
  if (req.has_frequency) {
    double f = std::round(req.frequency_ppm * 65536.0);
    if (f > kMaxFreq) f = kMaxFreq;
    if (f < -kMaxFreq) f = -kMaxFreq;
    tx->modes |= ADJ_FREQUENCY;
    tx->freq = static_cast<long>(f);
  }
  if (req.has_step) {
    // tv_sec = floor(step) and tv_usec = the rest in ns, in [0, 1e9): the kernel
    // rejects a negative tv_usec (EINVAL), so -0.25 s is {-1, 750000000}.
    double whole = std::floor(req.step_seconds);
    double ns = std::round((req.step_seconds - whole) * 1e9);  // step - floor(step) is exact
    int64_t sec = static_cast<int64_t>(whole);
    int64_t nsec = static_cast<int64_t>(ns);
    if (nsec >= 1000000000) {
      sec += 1;
      nsec -= 1000000000;
    }
    tx->modes |= ADJ_SETOFFSET | ADJ_NANO;
    tx->time.tv_sec = static_cast<time_t>(sec);
    tx->time.tv_usec = static_cast<suseconds_t>(nsec);  // ns, because of ADJ_NANO
  }
  if (req.has_status) {
    tx->modes |= ADJ_STATUS;
    tx->status = (base_status & ~req.status_clear) | req.status_set;
  }
  if (req.has_esterror) {
    tx->modes |= ADJ_ESTERROR;
    tx->esterror = static_cast<long>(std::fmin(std::round(req.esterror_us), kMaxErrorUs));
  }
  if (req.has_maxerror) {
    tx->modes |= ADJ_MAXERROR;
    tx->maxerror = static_cast<long>(std::fmin(std::round(req.maxerror_us), kMaxErrorUs));
  }
}

// request[name] when present (not undefined), as a finite number.
bool OptionalNumber(Napi::Env env, const Napi::Object& request, const char* name,
                    double* out) {
  Napi::Value v = request.Get(name);
  if (v.IsUndefined()) return false;
  if (!v.IsNumber()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                   std::string("adjtimeWrite: ") + name + " must be a number");
  }
  double d = v.As<Napi::Number>().DoubleValue();
  if (!std::isfinite(d)) {
    ThrowTypeError(env, "ERR_OUT_OF_RANGE",
                   std::string("adjtimeWrite: ") + name + " must be finite");
  }
  *out = d;
  return true;
}

// A status bit mask: an integer in [0, 0xffff].
int StatusMask(Napi::Env env, const Napi::Object& status, const char* name) {
  Napi::Value v = status.Get(name);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= 0xffff && d == std::floor(d))) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   std::string("adjtimeWrite: status.") + name +
                       " must be an integer STA_* mask in [0, 0xffff]");
  }
  return static_cast<int>(d);
}

AdjtimeRequest ParseRequest(Napi::Env env, const Napi::Object& request) {
  AdjtimeRequest req;
  req.has_frequency = OptionalNumber(env, request, "frequencyPpm", &req.frequency_ppm);
  req.has_step = OptionalNumber(env, request, "stepSeconds", &req.step_seconds);
  if (req.has_step && !(std::fabs(req.step_seconds) < kMaxStepSeconds)) {
    ThrowTypeError(env, "ERR_OUT_OF_RANGE", "adjtimeWrite: |stepSeconds| must be below 2^31");
  }
  Napi::Value status = request.Get("status");
  if (!status.IsUndefined()) {
    if (!status.IsObject()) {
      ThrowTypeError(env, "ERR_INVALID_ARG_TYPE",
                     "adjtimeWrite: status must be an object {set, clear}");
    }
    Napi::Object s = status.As<Napi::Object>();
    req.has_status = true;
    req.status_set = StatusMask(env, s, "set");
    req.status_clear = StatusMask(env, s, "clear");
    if ((req.status_set & req.status_clear) != 0) {
      ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                     "adjtimeWrite: status.set and status.clear share bits");
    }
  }
  req.has_esterror = OptionalNumber(env, request, "esterrorUs", &req.esterror_us);
  req.has_maxerror = OptionalNumber(env, request, "maxerrorUs", &req.maxerror_us);
  if ((req.has_esterror && req.esterror_us < 0) || (req.has_maxerror && req.maxerror_us < 0)) {
    ThrowTypeError(env, "ERR_OUT_OF_RANGE",
                   "adjtimeWrite: esterrorUs and maxerrorUs must not be negative");
  }
  return req;
}

// The kernel's timex after a call, as adjtimeRead returns it.
Napi::Object TimexToObject(Napi::Env env, int state, const struct timex& tx) {
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

// clock_adjtime failed while writing: an errno error; EPERM names the capability.
[[noreturn]] void ThrowWriteError(Napi::Env env, int err) {
  if (err != EPERM) ThrowErrno(env, err, "clock_adjtime");
  Napi::Error e = Napi::Error::New(
      env,
      "clock_adjtime EPERM (Operation not permitted): changing the system clock needs "
      "CAP_SYS_TIME (run as root or grant the capability, e.g. systemd "
      "AmbientCapabilities=CAP_SYS_TIME), or run with --no-clock-control");
  e.Set("code", Napi::String::New(env, "EPERM"));
  e.Set("errno", Napi::Number::New(env, -EPERM));
  e.Set("syscall", Napi::String::New(env, "clock_adjtime"));
  throw e;
}

Napi::Value AdjtimeWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "adjtimeWrite: request must be an object");
  }
  Napi::Object request = info[0].As<Napi::Object>();
  AdjtimeRequest req = ParseRequest(env, request);
  clockid_t clock = AdjtimeClockArg(env, request.Get("clockId"), "adjtimeWrite");
  // Strictly a boolean: a truthy-but-not-true value must not decide whether the
  // system clock is written.
  Napi::Value dry = request.Get("dryRun");
  if (!dry.IsUndefined() && !dry.IsBoolean()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "adjtimeWrite: dryRun must be a boolean");
  }
  bool dry_run = !dry.IsUndefined() && dry.As<Napi::Boolean>().Value();
  Napi::Value base = request.Get("baseStatus");
  struct timex tx;

  if (dry_run) {
    int base_status = 0;
    if (!base.IsUndefined()) {
      double d = base.IsNumber() ? base.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d <= 0xffff && d == std::floor(d))) {
        ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                       "adjtimeWrite: baseStatus must be an integer in [0, 0xffff]");
      }
      base_status = static_cast<int>(d);
    }
    BuildTimex(req, base_status, &tx);
    Napi::Object o = Napi::Object::New(env);
    o.Set("modes", Napi::Number::New(env, tx.modes));
    o.Set("freq", Napi::Number::New(env, static_cast<double>(tx.freq)));
    o.Set("timeSec", Napi::Number::New(env, static_cast<double>(tx.time.tv_sec)));
    o.Set("timeUsec", Napi::Number::New(env, static_cast<double>(tx.time.tv_usec)));
    o.Set("status", Napi::Number::New(env, tx.status));
    o.Set("esterror", Napi::Number::New(env, static_cast<double>(tx.esterror)));
    o.Set("maxerror", Napi::Number::New(env, static_cast<double>(tx.maxerror)));
    return o;
  }

  if (!base.IsUndefined()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   "adjtimeWrite: baseStatus is only accepted with dryRun (a real write reads "
                   "the current status itself)");
  }
  int base_status = 0;
  if (req.has_status) {
    struct timex current;
    std::memset(&current, 0, sizeof current);
    current.modes = 0;  // read
    if (clock_adjtime(clock, &current) < 0) ThrowErrno(env, errno, "clock_adjtime");
    base_status = current.status;
  }
  BuildTimex(req, base_status, &tx);
  int state = clock_adjtime(clock, &tx);
  if (state < 0) {
    if (clock == CLOCK_REALTIME) ThrowWriteError(env, errno);
    ThrowErrno(env, errno, "clock_adjtime");  // a device: EACCES when opened read-only
  }
  return TimexToObject(env, state, tx);
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
  exports.Set("adjtimeWrite", Napi::Function::New(env, AdjtimeWrite, "adjtimeWrite"));
  exports.Set("CLOCK_REALTIME", Napi::Number::New(env, CLOCK_REALTIME));
  exports.Set("CLOCK_MONOTONIC", Napi::Number::New(env, CLOCK_MONOTONIC));
  exports.Set("CLOCK_TAI", Napi::Number::New(env, CLOCK_TAI));
}

}  // namespace ntpd
