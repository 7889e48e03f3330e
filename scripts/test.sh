#!/usr/bin/env bash
# Runs every test of the project: lint, ansible-test sanity, the collection build, unit tests and
# the Molecule scenarios on real systemd hosts. Sets up what it needs first (scripts/setup.sh)
# and, on the way out, removes the project's containers and stops a Docker engine it started.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

# shellcheck disable=SC2317 # runs from the EXIT trap
cleanup() {
    local status=$?
    # The exit status is the tests'; a step here that finds nothing to do (grep selecting no
    # container, the usual case once Molecule has destroyed its hosts) must not replace it.
    set +e
    step "teardown"
    if docker info >/dev/null 2>&1; then
        # The project's containers that the tests left; a demo that ran before keeps its own.
        project_containers | grep -vxF -f <(printf '%s\n' "${containers_before[@]}") | xargs -r docker rm -f >/dev/null
    fi
    # A Docker engine that was running before the tests (the demo's, a user's) keeps running.
    [ "$engine_was_running" = yes ] || scripts/docker-engine.sh stop
    exit "$status"
}

engine_was_running=no
if docker info >/dev/null 2>&1; then
    engine_was_running=yes
fi
project_containers() {
    docker ps -aq --no-trunc --filter label=org.hyperbun.project=canary
}

scripts/setup.sh
mapfile -t containers_before < <(project_containers)
trap cleanup EXIT
export PATH=$root/.venv/bin:$PATH

# ansible-test sanity runs its tests one after another, on one core: it runs beside the lint, and
# its output is shown when both are done.
sanity_log=$(mktemp)
scripts/sanity.sh >"$sanity_log" 2>&1 &
sanity_pid=$!

step "lint: yamllint, ansible-lint, ruff, shellcheck, antsibull-docs, antsibull-changelog"
lint_status=0
# The plugins' and roles' documentation as the docsite renders it (ansible-doc on the collection),
# and the changelog fragments, last.
{
    yamllint --strict . &&
        ansible-lint --strict -q &&
        ruff check . &&
        git ls-files -z '*.sh' .ci/run | xargs -0 shellcheck &&
        antsibull-docs lint-collection-docs --plugin-docs . &&
        antsibull-changelog lint
} || lint_status=$?

step "ansible-test sanity (run beside the lint)"
sanity_status=0
wait "$sanity_pid" || sanity_status=$?
cat "$sanity_log"
rm -f "$sanity_log"
[ "$lint_status" -eq 0 ] || exit "$lint_status"
[ "$sanity_status" -eq 0 ] || exit "$sanity_status"

step "collection build and offline install"
build_dir=$(mktemp -d /var/tmp/hyperbun-build.XXXXXX)
ansible-galaxy collection build --force --output-path "$build_dir" >/dev/null
# Outside the checkout, as a user who installs the built collection would be.
(
    cd "$build_dir"
    ansible-galaxy collection install --offline --force -p "$build_dir/installed" hyperbun-canary-*.tar.gz >/dev/null
    ANSIBLE_COLLECTIONS_PATH=$build_dir/installed ansible-doc -l hyperbun.canary | grep -q '^hyperbun.canary.canary_watch'
    ANSIBLE_COLLECTIONS_PATH=$build_dir/installed ansible-doc -t role -l hyperbun.canary | grep -q '^hyperbun.canary.traffic'
)
rm -rf "$build_dir"

step "unit and integration tests (pytest; the Molecule scenarios run as tests/integration)"
status=0
# Three workers: three Molecule scenarios at a time, side by side (tests/integration).
pytest -v -n 3 --dist loadgroup --no-loadscope-reorder "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test: pytest collected no tests; the test tree is missing or a selection matched nothing" >&2
fi
exit "$status"
