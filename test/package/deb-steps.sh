# Steps for overlay-root.sh (deb.test.ts): install the ntpd-ts .deb on the overlay of
# this machine, run its daemon and exporter as their units would, remove and purge it.
# IN holds ntpd-ts.deb, test.toml, query-ntp.mjs, fetch.mjs and run.env (the units'
# directories and setpriv command lines, from deb.test.ts).
# shellcheck source=/dev/null
. "$IN/run.env"

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
daemon=$(start_service daemon "$DAEMON_DIRS" "$DAEMON_UMASK" "$DAEMON_CMD")
if wait_for 60 test -S "$R/run/ntpd-rs/observe"; then ready=yes; else ready=no; fi
section daemon-ready
echo "$ready"
run daemon-proc grep -E '^(Uid|Gid|CapEff|CapAmb|CapBnd|NoNewPrivs):' "/proc/$daemon/status"
run dirs in_root stat -c '%a %U:%G %n' /run/ntpd-rs /var/lib/ntpd-ts /run/ntpd-rs/observe
run query in_root node /tmp/query-ntp.mjs 127.0.0.1 123
run ctl-status in_root sh -c "exec $CTL_CMD"
exporter=$(start_service exporter "$EXPORTER_DIRS" "$EXPORTER_UMASK" "$EXPORTER_CMD")
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
