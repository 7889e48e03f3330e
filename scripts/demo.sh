#!/usr/bin/env bash
# The main job on the local demo topology: sets everything up, starts two Debian 12 containers
# with systemd (an app host and a load-balancer host), installs nginx, HAProxy and Prometheus,
# deploys production of the demo service, and prints where to look.
# `scripts/demo.sh down` removes the containers and stops a Docker engine the project started.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PATH=$root/.venv/bin:$PATH

if [ "${1:-up}" = down ]; then
    if docker info >/dev/null 2>&1; then
        ansible-playbook playbooks/demo/down.yml
    fi
    scripts/docker-engine.sh stop
    exit 0
fi

scripts/setup.sh
printf '\n==> starting the demo topology\n'
ansible-playbook playbooks/demo/up.yml
printf '\n==> installing the load balancer and deploying production\n'
ansible-playbook playbooks/demo/topology.yml

cat <<'EOT'

The demo topology is up. Everything listens on 127.0.0.1 only:
  production instance   http://127.0.0.1:3000/health   http://127.0.0.1:3000/metrics
  canary instance       http://127.0.0.1:3001/health   (once a canary runs)
  through nginx         http://127.0.0.1:8080/
  through HAProxy       http://127.0.0.1:8081/         stats: http://127.0.0.1:8404/stats
  Prometheus            http://127.0.0.1:9090/graph?g0.expr=hyperbun_build_info
Logs on the app host:   docker exec hyperbun-demo-app1 journalctl -u hyperbun-production
Tear it all down:       scripts/demo.sh down
EOT
