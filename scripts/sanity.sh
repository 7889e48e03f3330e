#!/usr/bin/env bash
# Runs `ansible-test sanity` on a copy of the collection laid out as ansible-test wants it
# (ansible_collections/hyperbun/canary), in the project's virtual environment.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
workdir=$(mktemp -d /var/tmp/hyperbun-sanity.XXXXXX)
trap 'rm -rf "$workdir"' EXIT
target=$workdir/ansible_collections/hyperbun/canary
mkdir -p "$target"
# Tracked files and new ones that are not ignored: what a clean clone of this change holds.
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$root" && xargs -0 cp --parents -P -t "$target")
rm -rf "$target/collections"
# The ALB module builds on amazon.aws (its documentation fragments and module_utils), which the ansible
# package ships; ansible-test finds a collection's dependencies beside it.
amazon_aws=$("$root/.venv/bin/python" -c 'import pathlib, ansible; print(pathlib.Path(ansible.__file__).parents[1] / "ansible_collections/amazon/aws")')
mkdir -p "$workdir/ansible_collections/amazon"
ln -s "$amazon_aws" "$workdir/ansible_collections/amazon/aws"

# ansible-test fetches get-pip.py from outside the package registries; give it the offline stand-in.
pip_version=$("$root/.venv/bin/python" - <<'PY'
import re, pathlib, ansible_test
source = pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
PY
)
get_pip=$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py
mkdir -p "$(dirname "$get_pip")"
[ -f "$get_pip" ] || cp "$root/tests/sanity/get_pip_bootstrap.py" "$get_pip"
cd "$target"
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
PATH=$root/.venv/bin:$PATH ansible-test sanity --python 3.11 --color no "$@"
