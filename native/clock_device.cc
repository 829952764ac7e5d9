// Clock devices and network interfaces for the `[clock]` section:
//
//   clockDeviceOpen(path, writable)  opens a POSIX clock character device (a PTP
//                                    hardware clock, /dev/ptpN) read-write (writable)
//                                    or read-only, checks that it is a character device
//                                    and that clock_gettime works on its dynamic id, and
//                                    returns { fd, clockId }: clockId = FD_TO_CLOCKID(fd)
//                                    = (~fd << 3) | 3, valid while the fd is open, for
//                                    clockGettime / adjtimeRead / adjtimeWrite (clock.cc).
//                                    Steering a device needs it opened writable (the
//                                    kernel checks the file mode, not CAP_SYS_TIME).
//   clockDeviceClose(fd)
//   hardwareTimestampingEnable(interface)  SIOCSHWTSTAMP: the NIC stamps every packet,
//                                    both ways (HWTSTAMP_TX_ON, HWTSTAMP_FILTER_ALL);
//                                    throws the errno error (EOPNOTSUPP / EINVAL: the
//                                    driver has no hardware timestamping, ENODEV: no such
//                                    interface, EPERM: CAP_NET_ADMIN is needed).
//
// Errors carry code ERR_NOT_CLOCK_DEVICE when the path opens but is no clock.
// These functions are looked up by name (src/daemon/native/clock-device.ts), not
// through abiVersion: an older build lacks them, and only a `[clock]` section needs them.

#include <errno.h>
#include <fcntl.h>
#include <linux/net_tstamp.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "errors.h"

namespace ntpd {
namespace {

constexpr int kClockFd = 3;  // CLOCKFD in the kernel's posix-timers.h

clockid_t FdToClockId(int fd) { return static_cast<clockid_t>((~static_cast<unsigned>(fd) << 3) | kClockFd); }

std::string StringArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsString()) {
    ThrowTypeError(info.Env(), "ERR_INVALID_ARG_TYPE", std::string(what) + " must be a string");
  }
  return info[i].As<Napi::String>().Utf8Value();
}

Napi::Value ClockDeviceOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string path = StringArg(info, 0, "clockDeviceOpen: path");
  bool writable = info.Length() > 1 && info[1].IsBoolean() && info[1].As<Napi::Boolean>().Value();
  int fd = open(path.c_str(), (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) ThrowErrno(env, errno, "open", path);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    ::close(fd);
    ThrowErrno(env, err, "fstat", path);
  }
  if (!S_ISCHR(st.st_mode)) {
    ::close(fd);
    ThrowCodeError(env, "ERR_NOT_CLOCK_DEVICE",
                   path + " is not a clock device (not a character device; expected a PTP "
                          "hardware clock such as /dev/ptp0)");
  }
  clockid_t id = FdToClockId(fd);
  struct timespec ts;
  if (clock_gettime(id, &ts) != 0) {
    int err = errno;
    ::close(fd);
    if (err == EINVAL || err == ENOTTY || err == EOPNOTSUPP) {
      ThrowCodeError(env, "ERR_NOT_CLOCK_DEVICE",
                     path + " is not a clock device (a character device the kernel cannot "
                            "read a time from; expected a PTP hardware clock such as /dev/ptp0)");
    }
    ThrowErrno(env, err, "clock_gettime", path);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("fd", Napi::Number::New(env, fd));
  o.Set("clockId", Napi::Number::New(env, static_cast<double>(id)));
  return o;
}

Napi::Value ClockDeviceClose(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    ThrowTypeError(env, "ERR_INVALID_ARG_TYPE", "clockDeviceClose: fd must be a number");
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  if (fd >= 0) ::close(fd);
  return env.Undefined();
}

Napi::Value HardwareTimestampingEnable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = StringArg(info, 0, "hardwareTimestampingEnable: interface");
  if (name.empty() || name.size() >= IFNAMSIZ) {
    ThrowTypeError(env, "ERR_INVALID_ARG_VALUE",
                   "hardwareTimestampingEnable: interface name must be 1 to 15 bytes");
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  struct hwtstamp_config config;
  std::memset(&config, 0, sizeof config);
  config.tx_type = HWTSTAMP_TX_ON;
  config.rx_filter = HWTSTAMP_FILTER_ALL;
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  ifr.ifr_data = reinterpret_cast<char*>(&config);
  int r = ioctl(fd, SIOCSHWTSTAMP, &ifr);
  int err = errno;
  ::close(fd);
  if (r != 0) ThrowErrno(env, err, "SIOCSHWTSTAMP", name);
  return env.Undefined();
}

}  // namespace

void InitClockDevice(Napi::Env env, Napi::Object exports) {
  exports.Set("clockDeviceOpen", Napi::Function::New(env, ClockDeviceOpen, "clockDeviceOpen"));
  exports.Set("clockDeviceClose", Napi::Function::New(env, ClockDeviceClose, "clockDeviceClose"));
  exports.Set("hardwareTimestampingEnable",
              Napi::Function::New(env, HardwareTimestampingEnable, "hardwareTimestampingEnable"));
}

}  // namespace ntpd
