// Clock reads: clock_gettime and a READ-ONLY clock_adjtime.
#pragma once

#include <napi.h>

namespace ntpd {

// Adds clockGettime, adjtimeRead and the CLOCK_* constants to `exports`.
void InitClock(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
