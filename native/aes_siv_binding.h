// sivSeal / sivOpen / sivSealComponents / sivOpenComponents (see aes_siv_binding.cc).
#pragma once

#include <napi.h>

#include "aes_siv_prepared.h"

namespace ntpd {

void InitAesSiv(Napi::Env env, Napi::Object exports);

// The prepared key behind a handle from sivPrepareKey, or null for any other value (no
// exception). Valid() says whether it has been wiped since.
const siv::PreparedKey* PreparedKeyOf(napi_env env, napi_value value);

}  // namespace ntpd
