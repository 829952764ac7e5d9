// The NTS-KE fast path's configuration from JavaScript, and ntsKeFastResponse (see
// nts_ke_response_binding.cc).
#pragma once

#include <napi.h>

#include "nts_ke_response.h"

namespace ntpd {

// { protocols, aeads, keyLengths, tail, cookies, maxMessage } (src/daemon/nts-ke-fast.ts
// builds it) as a ResponseConfig; throws a TypeError for anything else.
ke::ResponseConfig ResponseConfigArg(const Napi::Value& value);

void InitNtsKeResponse(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
