// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET.
#pragma once

#include <napi.h>

namespace ntpd {

// Adds sdNotify(message: string, socketPath?: string): boolean to `exports`.
void InitSdNotify(Napi::Env env, Napi::Object exports);

}  // namespace ntpd
