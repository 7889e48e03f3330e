#!/bin/sh
# Turns a Debian 12 root file system into a test host that boots systemd as PID 1 in a container.
set -eu
packages="systemd systemd-sysv dbus python3 python3-apt iproute2 procps sudo ca-certificates curl"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086 # $missing is a list of package names
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
fi
# Timers grab the dpkg lock in the middle of a test; consoles and udev have nothing to do here.
for unit in apt-daily.timer apt-daily-upgrade.timer getty.target console-getty.service \
        systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
        systemd-firstboot.service systemd-timesyncd.service; do
    ln -sf /dev/null "/etc/systemd/system/$unit"
done
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
apt-get clean
rm -rf /var/lib/apt/lists/*
# An empty package list must look stale, or apt's cache_valid_time would skip the first update.
touch -d 2000-01-01 /var/lib/apt/lists
