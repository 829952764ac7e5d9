#!/usr/bin/env bash
# A copy-on-write view of THIS machine to install and run things in, for the package
# tests (deb.test.ts, containerfile.test.ts). Run only as
#   unshare --mount --propagation private --pid --fork --kill-child --mount-proc --net -- \
#     bash overlay-root.sh IN WORK STEPS
# so that nothing done inside reaches the machine:
#   - the root is an overlay with the machine's / as its read-only lower layer and a
#     tmpfs (mounted on WORK) as the upper one: dpkg sees the real package database
#     (chrony installed, so a package's Conflicts act as they would), but every write,
#     dpkg's database and /etc/passwd included, lands in the tmpfs and vanishes with the
#     mount namespace;
#   - a private PID namespace: nothing inside can signal the machine's processes (a
#     policy-rc.d also refuses every init script action), and everything started inside
#     dies when this script ends;
#   - a private network namespace with only loopback: servers bind port 123 there, and
#     nothing can reach the network.
# IN's files are copied to the root's /tmp; STEPS (a bash file) then runs with $R (the
# root), $WORK and the helpers below. Output: sections "=== NAME" followed by what a step
# printed, "=== NAME.rc" by its exit code.
set -uo pipefail
IN=$1
WORK=$2
STEPS=$3

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
cp -a "$IN"/. "$R/tmp/"
printf '#!/bin/sh\n# overlay-root.sh: no init script action, ever.\nexit 101\n' >"$R/usr/sbin/policy-rc.d"
chmod 0755 "$R/usr/sbin/policy-rc.d"
in_root() { chroot "$R" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 NTPD_TS_FORBID_CLOCK_CONTROL=1 "$@"; }

# start_service NAME DIRS UMASK COMMAND: as a unit or an image would (directories, umask, user,
# capabilities), in the background; prints the pid.
start_service() {
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

# shellcheck source=/dev/null
. "$STEPS"
section end
