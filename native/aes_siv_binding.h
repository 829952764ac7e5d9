// sivSeal / sivOpen / sivSealComponents / sivOpenComponents (see aes_siv_binding.cc).
#pragma once

#include <napi.h>

namespace ntpd {

void InitAesSiv(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
