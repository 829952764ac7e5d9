{
  # The ntpd-ts native addon (Linux only): clock_gettime / clock_adjtime (read-only),
  # kernel-timestamped batched UDP, sd_notify, AES-SIV-CMAC on the OpenSSL that Node
  # exports, NTS-KE's TLS on GnuTLS when libgnutls28-dev is installed. Built by scripts/build-addon.mjs at `npm install`; the daemon runs without
  # it (pure-JS fallback) if the build fails.
  "targets": [
    {
      "target_name": "ntpd_native",
      "sources": [
        "native/addon.cc",
        "native/args.cc",
        "native/aes_siv.cc",
        "native/aes_siv_binding.cc",
        "native/aes_siv_ni.cc",
        "native/aes_siv_prepared.cc",
        "native/clock.cc",
        "native/clock_device.cc",
        "native/errors.cc",
        "native/napi_extras.cc",
        "native/pps.cc",
        "native/nts_ke_listener.cc",
        "native/nts_ke_response.cc",
        "native/nts_ke_response_binding.cc",
        "native/sd_notify.cc",
        "native/sockaddr.cc",
        "native/reply_finish.cc",
        "native/tcp_listen.cc",
        "native/udp_receive.cc",
        "native/udp_send.cc",
        "native/udp_socket.cc",
        "native/unix_dgram.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "_GNU_SOURCE"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "conditions": [
        # NTS-KE on GnuTLS (native/nts_ke_listener.cc) only when its headers are there;
        # without them the daemon serves NTS-KE with node:tls.
        ["'<!(pkg-config --exists gnutls && echo yes || echo no)'=='yes'", {
          "defines": ["NTPD_HAVE_GNUTLS"],
          "cflags_cc": ["<!@(pkg-config --cflags gnutls)"],
          "libraries": ["<!@(pkg-config --libs gnutls)"]
        }]
      ]
    }
  ]
}
