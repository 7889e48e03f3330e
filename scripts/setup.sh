#!/usr/bin/env bash
# Sets up everything the demo and the tests need on a Debian 12 machine, as root, and is quick
# when re-run: Debian packages, the Python virtual environment, a Docker engine and the test host
# image. Each step does nothing when its result is already there.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '==> %s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "setup: run as root (it installs Debian packages and starts a Docker engine)" >&2
    exit 1
fi

# chromium: the HTML canary report's test renders the page in a real browser, headless.
packages=(docker.io debootstrap iptables wrk git shellcheck chromium)
python3 -c 'import ensurepip' 2>/dev/null || packages+=(python3-venv)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if ((${#missing[@]})); then
    step "installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The Docker engine and the test host image (about 2 minutes when the image is built) come up
# beside the Python requirements (about 2 minutes when installed), each on a core of its own.
images_log=$(mktemp)
trap 'rm -f "$images_log"' EXIT
(
    step "Docker engine"
    scripts/docker-engine.sh start
    step "test host image"
    test-hosts/build.sh
) >"$images_log" 2>&1 &
images_pid=$!

requirements_digest=$(sha256sum requirements.txt | cut -c1-16)
if [ ! -x .venv/bin/python ] || [ "$(cat .venv/.requirements 2>/dev/null)" != "$requirements_digest" ]; then
    step "installing Python requirements into .venv"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt >.venv/pip.log 2>&1 || {
        echo "setup: pip failed; see .venv/pip.log" >&2
        exit 1
    }
    echo "$requirements_digest" >.venv/.requirements
fi

images_status=0
wait "$images_pid" || images_status=$?
cat "$images_log"
exit "$images_status"
