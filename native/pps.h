// RFC 2783 kernel PPS (Linux <linux/pps.h>) for the `pps` reference clock.
#pragma once

#include <napi.h>

namespace ntpd {

void InitPps(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
