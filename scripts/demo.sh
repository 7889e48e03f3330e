#!/usr/bin/env bash
# The main job on the local demo topology: sets everything up, starts two Debian 12 containers
# with systemd (an app host and a load-balancer host with nginx, HAProxy and Prometheus), deploys
# production 1.0.0 of the demo service, then under steady load through nginx:
#   1. a canary of 1.1.0 that passes its window and is promoted (production on 1.1.0),
#   2. a canary of 2.0.0, a release with a fault built in, rolled back with its incident report.
# Windows are seconds here (playbooks/demo/short-window.yml); the guide's are 24 h.
# `scripts/demo.sh down` removes the containers and stops a Docker engine the project started.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=$root/.venv/bin:$PATH
step() { printf '\n==> %s\n' "$*"; }

if [ "${1:-up}" = down ]; then
    if docker info >/dev/null 2>&1; then
        ansible-playbook playbooks/demo/down.yml
    fi
    scripts/docker-engine.sh stop
    exit 0
fi

scripts/setup.sh
step "starting the demo topology"
ansible-playbook playbooks/demo/up.yml
step "installing the load balancer and Prometheus, deploying production 1.0.0"
ansible-playbook playbooks/demo/topology.yml

load_log=build/demo-load.log
step "steady load through nginx (127.0.0.1:8080) for the rest of the demo; results in $load_log"
mkdir -p build
# A connection per request: nginx's graceful reload closes idle keep-alive connections, which HTTP
# clients retry but wrk would count as socket errors.
wrk -t1 -c4 -d15m -H 'Connection: close' -s demo/load/mixed.lua http://127.0.0.1:8080 >"$load_log" 2>&1 &
load_pid=$!
trap 'kill -INT "$load_pid" 2>/dev/null || true' EXIT

step "canary of 1.1.0: 25 % of the traffic for 30 s, then judged"
ansible-playbook playbooks/canary.yml -e canary_release=1.1.0 -e @playbooks/demo/short-window.yml
step "promoting 1.1.0: production moves to it, then a 20 s bake window"
ansible-playbook playbooks/promote.yml -e @playbooks/demo/short-window.yml

step "canary of 2.0.0, a release with a fault built in: expected to be rolled back"
if ansible-playbook playbooks/canary.yml -e canary_release=2.0.0 -e @playbooks/demo/short-window.yml; then
    echo "demo: the faulty canary passed, which it must not" >&2
    exit 1
fi
report=$(find docs/runbooks/incidents -maxdepth 1 -name '*-2.0.0-rollback-*.md' -newer "$load_log" | sort | tail -n 1)
step "incident report: $report"
cat "$report"
# The report's page with its charts, drawn by Debian's Chromium (headless) into a picture beside it.
page=${report%.md}.html
if [ -f "$page" ]; then
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1280,2600 \
        --screenshot="${report%.md}.png" "file://$root/$page" >/dev/null 2>&1
    step "the report's page ($page), as a picture: ${report%.md}.png"
fi

kill -INT "$load_pid" 2>/dev/null || true
wait "$load_pid" 2>/dev/null || true
trap - EXIT
step "the load that ran through all of it (wrk): a lost request would show as a socket error; the non-2xx
    responses are the faulty canary 2.0.0's own errors while it had its share, before the rollback"
cat "$load_log"

cat <<'EOT'

The demo topology is up. Everything listens on 127.0.0.1 only:
  production instance   http://127.0.0.1:3000/health   http://127.0.0.1:3000/metrics
  canary instance       http://127.0.0.1:3001/health   (while a canary runs)
  through nginx         http://127.0.0.1:8080/
  through HAProxy       http://127.0.0.1:8081/         stats: http://127.0.0.1:8404/stats
  Prometheus            http://127.0.0.1:9090/alerts
State of the canary:    ansible-playbook playbooks/status.yml
Incident reports:       docs/runbooks/incidents/ (Markdown, the HTML page with its charts, a PNG of it)
Tear it all down:       scripts/demo.sh down
EOT
