#!/usr/bin/env bash
# Builds the test host image, or keeps the one there when its definition has not changed.
# Where debian:bookworm can be pulled, the Dockerfile builds on it; where no registry answers,
# a base is made with debootstrap from the same Debian mirror the machine uses, and imported.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
image=${HYPERBUN_TEST_IMAGE:-hyperbun-testhost:bookworm}
base_local=hyperbun-testhost-base:bookworm
label=org.hyperbun.definition

definition=$(cat "$here/Dockerfile" "$here/prepare-rootfs.sh" "$here/build.sh" | sha256sum | cut -c1-16)
current=$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)
if [ "$current" = "$definition" ]; then
    echo "test-hosts: $image is up to date ($definition)"
    exit 0
fi

mirror() {
    local uri
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

debootstrap_base() {
    local rootfs
    rootfs=$(mktemp -d /var/tmp/hyperbun-rootfs.XXXXXX)
    trap 'rm -rf "$rootfs"' RETURN
    echo "test-hosts: no registry answers; building a base with debootstrap (about a minute)"
    debootstrap --variant=minbase \
        --include=systemd,systemd-sysv,dbus,python3,python3-apt,iproute2,procps,sudo,ca-certificates,curl \
        bookworm "$rootfs" "$(mirror)" >/var/tmp/hyperbun-debootstrap.log 2>&1 || {
        echo "test-hosts: debootstrap failed; see /var/tmp/hyperbun-debootstrap.log" >&2
        return 1
    }
    # apt inside the hosts reaches Debian's packages the way this machine does.
    if [ -f /etc/apt/sources.list.d/debian.sources ]; then
        rm -f "$rootfs/etc/apt/sources.list"
        cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    fi
    for conf in /etc/apt/apt.conf.d/*; do
        grep -qiE 'Acquire::|proxy' "$conf" 2>/dev/null && cp "$conf" "$rootfs/etc/apt/apt.conf.d/"
    done
    tar -C "$rootfs" -c . | docker import --change 'ENV container=docker' - "$base_local" >/dev/null
}

if docker image inspect debian:bookworm >/dev/null 2>&1 ||
    timeout 30 docker pull -q debian:bookworm >/dev/null 2>&1; then
    base=debian:bookworm
else
    debootstrap_base
    base=$base_local
fi

echo "test-hosts: building $image from $base"
if ! docker build --build-arg "BASE=$base" --label "$label=$definition" -t "$image" "$here" \
    >/var/tmp/hyperbun-image-build.log 2>&1; then
    echo "test-hosts: docker build failed; see /var/tmp/hyperbun-image-build.log" >&2
    exit 1
fi
echo "test-hosts: $image built ($definition)"
