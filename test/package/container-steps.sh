# Steps for overlay-root.sh (containerfile.test.ts): the Containerfile's run stage, done
# on the overlay of this machine (a Debian bookworm with Node.js, as the image's base):
# its COPYs and RUNs, then its ENTRYPOINT and CMD as its USER with no capability, the way
# a container engine starts a non-root image, with the test's ntp.toml in place of the
# packaged one (as `-v ./ntp.toml:/etc/ntpd-rs/ntp.toml` would).
# IN holds staged/ (the build stage's /staged), context/ (files COPY takes from the
# build context), test.toml, query-ntp.mjs and run.env (COPIES, RUNS, START_CMD and
# CTL_CMD, from containerfile.test.ts).
# shellcheck source=/dev/null
. "$IN/run.env"

while read -r src dest; do
  [ -n "$src" ] || continue
  if [ -d "$R/tmp/$src" ]; then
    mkdir -p "$R$dest" && cp -a "$R/tmp/$src/." "$R$dest/"
  else
    mkdir -p "$(dirname "$R$dest")" && cp -a "$R/tmp/$src" "$R$dest"
  fi || die "COPY $src $dest"
done <<<"$COPIES"
while IFS= read -r cmd; do
  [ -n "$cmd" ] || continue
  run "RUN $cmd" in_root sh -c "$cmd"
done <<<"$RUNS"
# What Docker and Podman set in a container's network namespace: a non-root server may
# bind port 123 without CAP_NET_BIND_SERVICE.
sysctl -q -w net.ipv4.ip_unprivileged_port_start=0 || die "ip_unprivileged_port_start"
cp "$R/tmp/test.toml" "$R/etc/ntpd-rs/ntp.toml"
chmod 0644 "$R/etc/ntpd-rs/ntp.toml"
daemon=$(start_service daemon "" 0022 "$START_CMD")
if wait_for 60 test -S "$R/run/ntpd-rs/observe"; then ready=yes; else ready=no; fi
section daemon-ready
echo "$ready"
run daemon-proc grep -E '^(Uid|CapEff|CapAmb|NoNewPrivs):' "/proc/$daemon/status"
run query in_root node /tmp/query-ntp.mjs 127.0.0.1 123
run ctl-status in_root sh -c "exec $CTL_CMD"
kill -TERM "$daemon" 2>/dev/null
wait "$daemon"
section daemon-exit
echo $?
section daemon-log
cat "$WORK/daemon.log"
