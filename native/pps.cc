// RFC 2783 kernel PPS through the Linux PPS character device (<linux/pps.h>):
//
//   ppsOpen(path)              open /dev/ppsN (read-write, else read-only: a udev rule
//                              may grant only read), check PPS_GETCAP offers the assert
//                              edge and blocking fetches, make sure the assert edge is
//                              captured (PPS_GETPARAMS; PPS_SETPARAMS only when it is not,
//                              which the kernel allows only with CAP_SYS_TIME).
//                              Returns { fd, capabilities, mode }
//   ppsFetch(fd, timeoutSec)   a Promise of the next pulse: PPS_FETCH waits on a libuv
//                              worker thread for at most timeoutSec; resolves
//                              { sec, nsec, sequence } of the last assert event, or
//                              null on timeout
//   ppsClose(fd)

#include "pps.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/pps.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <string>

#include "errors.h"

namespace ntpd {
namespace {

int FdArg(const Napi::CallbackInfo& info, const char* name) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", std::string(name) + ": fd must be a number");
  }
  return info[0].As<Napi::Number>().Int32Value();
}

Napi::Value PpsOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "ppsOpen: path must be a string");
  }
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0 && (errno == EACCES || errno == EPERM)) fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "open", path);
  auto fail = [&](int err, const char* syscall) {
    ::close(fd);
    ThrowErrno(env, err, syscall, path);
  };
  int caps = 0;
  if (ioctl(fd, PPS_GETCAP, &caps) < 0) fail(errno, "PPS_GETCAP");
  if ((caps & PPS_CAPTUREASSERT) == 0) fail(ENOTSUP, "PPS_GETCAP (no assert capture)");
  if ((caps & PPS_CANWAIT) == 0) fail(ENOTSUP, "PPS_GETCAP (no blocking fetch)");
  pps_kparams params;
  std::memset(&params, 0, sizeof params);
  if (ioctl(fd, PPS_GETPARAMS, &params) < 0) fail(errno, "PPS_GETPARAMS");
  if ((params.mode & PPS_CAPTUREASSERT) == 0) {
    params.api_version = PPS_API_VERS;
    params.mode |= PPS_CAPTUREASSERT | PPS_TSFMT_TSPEC;
    if (ioctl(fd, PPS_SETPARAMS, &params) < 0) fail(errno, "PPS_SETPARAMS");
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  result.Set("capabilities", Napi::Number::New(env, caps));
  result.Set("mode", Napi::Number::New(env, params.mode));
  return result;
}

class FetchWorker : public Napi::AsyncWorker {
 public:
  FetchWorker(Napi::Env env, int fd, double timeout)
      : Napi::AsyncWorker(env, "ntpd.ppsFetch"), deferred_(Napi::Promise::Deferred::New(env)), fd_(fd) {
    std::memset(&data_, 0, sizeof data_);
    double whole = std::floor(timeout);
    data_.timeout.sec = static_cast<__s64>(whole);
    data_.timeout.nsec = static_cast<__s32>((timeout - whole) * 1e9);
    data_.timeout.flags = 0;  // not PPS_TIME_INVALID: wait at most the timeout
  }

  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    int r;
    do {
      r = ioctl(fd_, PPS_FETCH, &data_);
    } while (r < 0 && errno == EINTR);
    err_ = r < 0 ? errno : 0;
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (err_ == ETIMEDOUT) {
      deferred_.Resolve(env.Null());
      return;
    }
    if (err_ != 0) {
      deferred_.Reject(MakeErrnoError(env, err_, "PPS_FETCH").Value());
      return;
    }
    Napi::Object pulse = Napi::Object::New(env);
    pulse.Set("sec", Napi::Number::New(env, static_cast<double>(data_.info.assert_tu.sec)));
    pulse.Set("nsec", Napi::Number::New(env, data_.info.assert_tu.nsec));
    pulse.Set("sequence", Napi::Number::New(env, data_.info.assert_sequence));
    deferred_.Resolve(pulse);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  int fd_;
  int err_ = 0;
  pps_fdata data_;
};

Napi::Value PpsFetch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, "ppsFetch");
  if (info.Length() < 2 || !info[1].IsNumber()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "ppsFetch: timeout must be a number");
  }
  double timeout = info[1].As<Napi::Number>().DoubleValue();
  if (!(timeout >= 0 && timeout <= 3600)) {
    ThrowRangeError(env, "ERR_OUT_OF_RANGE", "ppsFetch: timeout must be 0..3600 s");
  }
  auto* worker = new FetchWorker(env, fd, timeout);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

Napi::Value PpsClose(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, "ppsClose");
  if (fd >= 0) ::close(fd);
  return info.Env().Undefined();
}

}  // namespace

void InitPps(Napi::Env env, Napi::Object exports) {
  exports.Set("ppsOpen", Napi::Function::New(env, PpsOpen, "ppsOpen"));
  exports.Set("ppsFetch", Napi::Function::New(env, PpsFetch, "ppsFetch"));
  exports.Set("ppsClose", Napi::Function::New(env, PpsClose, "ppsClose"));
}

}  // namespace ntpd
