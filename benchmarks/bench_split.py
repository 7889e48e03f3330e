"""Split accuracy: the share of requests that reached the canary at 5 % configured.

Needs the `traffic` Molecule scenario up (`molecule converge -s traffic`): nginx on 127.0.0.1:25080,
HAProxy on 127.0.0.1:25081, production on traffic-app1..3:3000, a canary on traffic-app1:3001.
For each load balancer and for 1 production + 1 canary and 3 production + 1 canary servers, applies
the traffic role at 5 %, sends the requests through the load balancer's published port and counts
the answers per instance (the X-Instance header). Prints figures; asserts nothing.

    python benchmarks/bench_split.py [--requests 20000] [--percentage 5]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LBS = {"nginx": ("traffic-lb1", 25080), "haproxy": ("traffic-lb2", 25081)}
CANARY = "traffic-app1:3001"
TOPOLOGIES = {
    "1 production + 1 canary": ["traffic-app1:3000"],
    "3 production + 1 canary": ["traffic-app1:3000", "traffic-app2:3000", "traffic-app3:3000"],
}
PLAYBOOK = """\
- name: Apply one canary share
  hosts: lb
  gather_facts: false
  roles:
    - role: hyperbun.canary.traffic
"""


def inventory():
    hosts = {name: {"traffic_lb_type": lb_type} for lb_type, (name, _port) in LBS.items()}
    return {
        "all": {
            "vars": {"ansible_connection": "community.docker.docker", "ansible_python_interpreter": "/usr/bin/python3"},
            "children": {"lb": {"hosts": hosts}},
        }
    }


def apply_share(percentage, production, canary=(CANARY,), limit=None):
    """Run the traffic role; return the JSON callback's result (stats, and per task durations)."""
    with tempfile.TemporaryDirectory(prefix="bench-traffic-") as tmp:
        (Path(tmp) / "inventory.json").write_text(json.dumps(inventory()))
        (Path(tmp) / "apply.yml").write_text(PLAYBOOK)
        extra = {
            "traffic_percentage": percentage,
            "traffic_production_servers": list(production),
            "traffic_canary_servers": list(canary),
        }
        argv = ["ansible-playbook", "-i", f"{tmp}/inventory.json", f"{tmp}/apply.yml", "-e", json.dumps(extra)]
        if limit:
            argv += ["--limit", limit]
        env = dict(
            os.environ,
            ANSIBLE_COLLECTIONS_PATH=str(ROOT / "collections"),
            ANSIBLE_STDOUT_CALLBACK="ansible.posix.json",
            ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"),
        )
        done = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"traffic role failed (rc {done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return json.loads(done.stdout)


def count_instances(port, total, connections=4):
    counts = Counter()
    lock = threading.Lock()

    def worker(share):
        local = Counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _request in range(share):
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            local[response.getheader("X-Instance") if response.status == 200 else f"HTTP {response.status}"] += 1
        conn.close()
        with lock:
            counts.update(local)

    shares = [total // connections + (1 if i < total % connections else 0) for i in range(connections)]
    threads = [threading.Thread(target=worker, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--percentage", type=float, default=5.0)
    args = parser.parse_args()
    print(f"{'load balancer':<9} {'servers':<24} {'requests':>8} {'canary':>7} {'share %':>8} {'off by (points)':>15}")
    for topology, production in TOPOLOGIES.items():
        apply_share(args.percentage, production)
        for lb_type, (_host, port) in LBS.items():
            counts = count_instances(port, args.requests)
            total = sum(counts.values())
            canary = counts.get(CANARY, 0)
            share = 100 * canary / total
            print(
                f"{lb_type:<9} {topology:<24} {total:>8} {canary:>7} {share:>8.3f} {share - args.percentage:>+15.3f}"
                + ("" if all(k in production or k == CANARY for k in counts) else f"  other answers: {dict(counts)}")
            )
    print(f"(configured share {args.percentage} %; goal: within +/-0.5 points)")


if __name__ == "__main__":
    main()
