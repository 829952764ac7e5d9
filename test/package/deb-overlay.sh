#!/usr/bin/env bash
# Installs, runs, removes and purges the ntpd-ts .deb on a copy-on-write view of THIS
# machine, for test/package/deb.test.ts. Run only as
#   unshare --mount --propagation private --pid --fork --mount-proc --net -- bash deb-overlay.sh IN WORK
# so that nothing it does reaches the machine:
#   - the root is an overlay with the machine's / as its read-only lower layer and a
#     tmpfs as the upper one: dpkg sees the real package database (chrony installed, so
#     the package's Conflicts/Replaces act as they would), but every write, dpkg's
#     database and /etc/passwd included, lands in the tmpfs and vanishes with the mount
#     namespace;
#   - a private PID namespace: a maintainer script cannot signal the machine's processes
#     (a policy-rc.d also refuses every init script action), and everything started here
#     dies when this script ends;
#   - a private network namespace with only loopback: the daemon binds port 123 there,
#     and nothing can reach the network.
# IN holds the .deb (ntpd-ts.deb), the test config (test.toml), query-ntp.mjs and
# fetch.mjs, and run.env (the units' directories and setpriv command lines). Output:
# sections "=== NAME" followed by what the step printed, "=== NAME.rc" by its exit code.
set -uo pipefail
IN=$1
WORK=$2

section() { printf '\n=== %s\n' "$1"; }
run() { # run NAME COMMAND...: a section with the output and exit code of one step
  local name=$1
  shift
  section "$name"
  "$@" 2>&1
  local rc=$?
  section "$name.rc"
  echo "$rc"
}
die() {
  section fatal
  echo "$*"
  exit 1
}

mount -t tmpfs -o mode=0755 tmpfs "$WORK" || die "tmpfs"
mkdir -p "$WORK/upper" "$WORK/work" "$WORK/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$WORK/upper,workdir=$WORK/work" "$WORK/root" || die "overlay mount"
R=$WORK/root
mount --rbind /dev "$R/dev" || die "bind /dev"
mount -t proc proc "$R/proc" || die "proc"
mount -t tmpfs -o mode=0755 tmpfs "$R/run" || die "tmpfs /run"
mount -t tmpfs -o mode=1777 tmpfs "$R/tmp" || die "tmpfs /tmp"
ip link set lo up || die "loopback up"
cp "$IN"/* "$R/tmp/"
printf '#!/bin/sh\n# deb-overlay.sh: no init script action, ever.\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
# shellcheck source=/dev/null
. "$IN/run.env"

in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 NTPD_TS_FORBID_CLOCK_CONTROL=1 "$@"; }

# start_unit NAME DIRS UMASK COMMAND: as the unit would (its directories, umask, user,
# capabilities), in the background; prints the pid.
start_unit() {
  local name=$1 dirs=$2 umask=$3 cmd=$4
  while read -r path mode owner; do
    [ -n "$path" ] || continue
    in_root install -d -m "$mode" -o "$owner" -g "$owner" "$path"
  done <<<"$dirs"
  (umask "$umask" && exec chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    NTPD_TS_FORBID_CLOCK_CONTROL=1 sh -c "exec $cmd" >"$WORK/$name.log" 2>&1) &
  echo $!
}

wait_for() { # wait_for SECONDS TEST...: poll every 0.2 s, bounded
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.2
  done
}

run dpkg-install in_root dpkg -i /tmp/ntpd-ts.deb
run install in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends /tmp/ntpd-ts.deb
run status-after-install in_root dpkg-query -W -f '${Package} ${Status} ${Version}\n' ntpd-ts chrony
run users in_root getent passwd ntpd-ts ntpd-ts-observe
run modes in_root stat -c '%a %U:%G %F %n' /usr/bin/ntp-daemon /usr/lib/ntpd-ts/bin/ntp-daemon.js \
  /usr/lib/ntpd-ts/build/Release/ntpd_native.node /etc/ntpd-rs /etc/ntpd-rs/ntp.toml \
  /lib/systemd/system/ntpd-ts.service /usr/lib/sysusers.d/ntpd-ts.conf /usr/share/man/man8/ntp-daemon.8.gz \
  /usr/share/man/man5/ntp.toml.5.gz
run enabled in_root readlink /etc/systemd/system/multi-user.target.wants/ntpd-ts.service
run metrics-enabled in_root readlink /etc/systemd/system/multi-user.target.wants/ntpd-ts-metrics.service
run man in_root man -P cat ntp-daemon
run version in_root ntp-daemon --version
run validate-packaged in_root ntp-ctl validate

# The test's configuration replaces the packaged one (a modified conffile, as an
# administrator's): a server on port 123 of this namespace's loopback, no sources.
cp "$R/tmp/test.toml" "$R/etc/ntpd-rs/ntp.toml"
run validate-test in_root ntp-ctl validate
daemon=$(start_unit daemon "$DAEMON_DIRS" "$DAEMON_UMASK" "$DAEMON_CMD")
if wait_for 60 test -S "$R/run/ntpd-rs/observe"; then ready=yes; else ready=no; fi
section daemon-ready
echo "$ready"
run daemon-proc grep -E '^(Uid|Gid|CapEff|CapAmb|CapBnd|NoNewPrivs):' "/proc/$daemon/status"
run dirs in_root stat -c '%a %U:%G %n' /run/ntpd-rs /var/lib/ntpd-ts /run/ntpd-rs/observe
run query in_root node /tmp/query-ntp.mjs 127.0.0.1 123
run ctl-status in_root sh -c "exec $CTL_CMD"
exporter=$(start_unit exporter "$EXPORTER_DIRS" "$EXPORTER_UMASK" "$EXPORTER_CMD")
run exporter-proc sh -c "sleep 0.5; grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' /proc/$exporter/status"
run metrics in_root node /tmp/fetch.mjs http://127.0.0.1:9975/metrics 60
kill -TERM "$exporter" "$daemon" 2>/dev/null
wait "$daemon"
section daemon-exit
echo $?
wait "$exporter"
section daemon-log
cat "$WORK/daemon.log"
section exporter-log
cat "$WORK/exporter.log"

run remove in_root dpkg -r ntpd-ts
run status-after-remove in_root dpkg-query -W -f '${Package} ${Status}\n' ntpd-ts
run after-remove in_root sh -c 'for f in /usr/bin/ntp-daemon /usr/lib/ntpd-ts /etc/ntpd-rs/ntp.toml /var/lib/ntpd-ts; do [ -e "$f" ] && echo "present $f" || echo "absent $f"; done'
run purge in_root dpkg -P ntpd-ts
run status-after-purge in_root sh -c "dpkg-query -W -f '\${Package} \${Status}\n' ntpd-ts 2>&1; true"
run after-purge in_root sh -c 'for f in /etc/ntpd-rs /var/lib/ntpd-ts /etc/systemd/system/multi-user.target.wants/ntpd-ts.service /usr/lib/sysusers.d/ntpd-ts.conf; do [ -e "$f" ] || [ -L "$f" ] && echo "present $f" || echo "absent $f"; done'
section end
