#!/bin/sh
# Builds fuzz/native/nts_ke_response_asan.cc with AddressSanitizer and UBSan (g++, and
# OpenSSL's libcrypto for the cookie seals: libssl-dev) and runs it on the nts-ke-fast
# corpus (.fuzz/corpus/nts-ke-fast, from `npm run fuzz -- nts-ke-fast`) and N generated
# requests (default 2,000,000): docs/fuzzing.md.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${TMPDIR:-/tmp}/ntpd-ts-nts-ke-asan
n=${1:-2000000}
g++ -std=c++17 -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
  -msse4.1 -maes -mpclmul -o "$out" \
  "$root/fuzz/native/nts_ke_response_asan.cc" "$root/native/nts_ke_response.cc" \
  "$root/native/aes_siv_prepared.cc" "$root/native/aes_siv.cc" "$root/native/aes_siv_ni.cc" \
  -lcrypto
set -- "$out" --random "$n"
if [ -d "$root/.fuzz/corpus/nts-ke-fast" ]; then
  for f in "$root"/.fuzz/corpus/nts-ke-fast/*; do [ -f "$f" ] && set -- "$@" "$f"; done
fi
"$@"
rm -f "$out"
