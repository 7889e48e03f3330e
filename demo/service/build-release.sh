#!/usr/bin/env bash
# Builds the Hyper-Bun demo release archive: DIR/hyperbun-demo-X.Y.Z.tar.gz (layout in README.md).
# The same version and faults give a byte-identical archive: fixed mtimes, owners, order, gzip -n.
set -euo pipefail

usage() {
    echo "usage: $0 --version X.Y.Z [--faults name=value,...] --out DIR" >&2
    exit 2
}

here=$(cd "$(dirname "$0")" && pwd)
version=""
faults=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
        --version) [ $# -ge 2 ] || usage; version=$2; shift 2 ;;
        --faults) [ $# -ge 2 ] || usage; faults=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || usage; out=$2; shift 2 ;;
        -h | --help) usage ;;
        *) echo "build-release: unknown argument: $1" >&2; usage ;;
    esac
done
if [ -z "$version" ] || [ -z "$out" ]; then usage; fi
if ! [[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
    echo "build-release: --version '$version' is not a version (X.Y.Z)" >&2
    exit 2
fi

python=${PYTHON:-python3}
name=hyperbun-demo-$version
epoch=${SOURCE_DATE_EPOCH:-1735689600}
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
umask 022
root=$stage/$name
mkdir -p "$root/bin" "$root/scripts" "$root/config" "$root/hyperbun_demo"

# The configuration is rendered (and its faults validated) before anything is written to --out.
PYTHONPATH=$here PYTHONDONTWRITEBYTECODE=1 "$python" -m hyperbun_demo.release \
    --template "$here/config/production.yaml" --faults "$faults" --out "$root/config/production.yaml"

printf '%s\n' "$version" >"$root/VERSION"
cp "$here"/hyperbun_demo/*.py "$root/hyperbun_demo/"

entry_point() {
    # $1 path in the release, $2 what it runs
    cat >"$root/$1" <<PY
#!/usr/bin/python3
"""Hyper-Bun demo release: $1."""
import os
import sys

RELEASE_DIR = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
sys.path.insert(0, RELEASE_DIR)
$2
PY
    chmod 0755 "$root/$1"
}
entry_point bin/hyperbun-demo "try:
    from hyperbun_demo.app import main
except ImportError as exc:
    sys.stderr.write(f'hyperbun-demo: refusing to start: Python package {exc.name} is missing '
                     '(Debian: python3-prometheus-client, python3-yaml)\\n')
    sys.exit(2)
sys.exit(main(RELEASE_DIR))"
entry_point scripts/build "from hyperbun_demo.commands import build_main  # noqa: E402
sys.exit(build_main(RELEASE_DIR))"
entry_point scripts/test "from hyperbun_demo.commands import selftest_main  # noqa: E402
sys.exit(selftest_main(RELEASE_DIR))"
entry_point scripts/production-hardening-checklist "from hyperbun_demo.commands import checklist_main  # noqa: E402
sys.exit(checklist_main(RELEASE_DIR))"
entry_point scripts/test-circuit-breaker "from hyperbun_demo.commands import breaker_test_main  # noqa: E402
sys.exit(breaker_test_main(RELEASE_DIR))"

find "$root" -type d -exec chmod 0755 {} +
find "$root" -type f ! -path "$root/bin/*" ! -path "$root/scripts/*" -exec chmod 0644 {} +

mkdir -p "$out"
archive=$out/$name.tar.gz
# A temporary file of its own, renamed into place: builds of the same version running side by side
# (two Molecule scenarios converging at once) each write whole, identical archives.
partial=$(mktemp "$out/.$name.tar.gz.XXXXXX")
trap 'rm -rf "$stage" "$partial"' EXIT
tar --sort=name --format=gnu --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -C "$stage" -cf - "$name" | gzip -n -9 >"$partial"
chmod 0644 "$partial"
mv "$partial" "$archive"
echo "$archive"
