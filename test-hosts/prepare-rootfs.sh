#!/bin/sh
# Turns a Debian 12 root file system into a test host that boots systemd as PID 1 in a container.
set -eu
packages="systemd systemd-sysv dbus python3 python3-apt iproute2 procps sudo ca-certificates curl"
# What the roles install on every scenario's hosts (hyperbun.canary.demo_lb on a load balancer, the
# demo release's release_packages on an application host), so that each converge does not download
# and unpack them again. The roles still install them (apt finds them there), and start what they use.
preinstalled="nginx haproxy prometheus python3-prometheus-client python3-yaml"
preinstalled_units="nginx.service haproxy.service prometheus.service"
# Nothing starts while the image is built.
printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
apt-get update -qq
# shellcheck disable=SC2086 # lists of package names
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages $preinstalled
rm -f /usr/sbin/policy-rc.d
# A host starts only what its role starts: no nginx, HAProxy or Prometheus in every container.
# shellcheck disable=SC2086 # a list of unit names
systemctl disable $preinstalled_units
# Timers grab the dpkg lock in the middle of a test; consoles and udev have nothing to do here.
for unit in apt-daily.timer apt-daily-upgrade.timer getty.target console-getty.service \
        systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
        systemd-firstboot.service systemd-timesyncd.service; do
    ln -sf /dev/null "/etc/systemd/system/$unit"
done
: >/etc/machine-id
rm -f /var/lib/dbus/machine-id
# The package lists stay, as fresh as the image: a role's update_cache with cache_valid_time skips
# the update while they are younger than that, and updates them as on any host once they are older.
apt-get clean
