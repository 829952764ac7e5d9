// Clocks: clock_gettime, a READ-ONLY clock_adjtime, and adjtimeWrite, the one explicit
// clock_adjtime call that steers the system clock (with a dry-run mode for tests).
#pragma once

#include <napi.h>

namespace ntpd {

// Adds clockGettime, clockBuffer, adjtimeRead, adjtimeWrite and the CLOCK_* constants to
// `exports`.
void InitClock(Napi::Env env, Napi::Object exports);

// Adds clockDeviceOpen, clockDeviceClose and hardwareTimestampingEnable (clock_device.cc).
void InitClockDevice(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
