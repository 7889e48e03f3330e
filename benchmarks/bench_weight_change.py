"""Time from the start of a weight change to its read-back, nginx and HAProxy.

Needs the `traffic` Molecule scenario up (`molecule converge -s traffic`). Two figures per load balancer:
- role: the traffic role moving the share between 5 % and 25 %, from the start of its first task that
  writes (nginx: the upstream file; HAProxy: the configuration) to the end of its read-back check,
  taken from the task timestamps of Ansible's JSON callback;
- primitive: the change itself run on the load balancer host, without Ansible (nginx: write the
  upstream file, `nginx -t`, reload, `nginx -T` until the new weights show; HAProxy: `set weight` on
  the admin socket, then `show servers state`).
Prints figures; asserts nothing.

    python benchmarks/bench_weight_change.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
from datetime import datetime

from bench_split import LBS, TOPOLOGIES, apply_share

FIRST_TASK = {"nginx": "Write the upstream include file", "haproxy": "Persist the backend"}
LAST_TASK = "Fail when the"

NGINX_PRIMITIVE = r"""
import re, subprocess, sys, time
path = "/etc/nginx/conf.d/hyperbun-upstream.conf"
original = open(path).read()
times = []
for weight in [7, 9] * int(sys.argv[1]):
    new = re.sub(r"weight=\d+;", f"weight={weight};", original, count=1)
    start = time.monotonic()
    open(path, "w").write(new)
    subprocess.run(["nginx", "-t", "-q"], check=True)
    subprocess.run(["nginx", "-s", "reload"], check=True)
    while f"weight={weight};" not in subprocess.run(["nginx", "-T", "-q"], capture_output=True, text=True).stdout:
        pass
    times.append(time.monotonic() - start)
open(path, "w").write(original)
subprocess.run(["nginx", "-s", "reload"], check=True)
print(" ".join(f"{t:.6f}" for t in times))
"""

HAPROXY_PRIMITIVE = r"""
import socket, sys, time
def command(line):
    s = socket.socket(socket.AF_UNIX); s.connect("/run/haproxy/admin.sock"); s.sendall(line.encode() + b"\n")
    data = b"".join(iter(lambda: s.recv(65536), b"")); s.close(); return data.decode()
state = command("show servers state hyperbun").splitlines()[2].split()
server, original = state[3], state[7]
times = []
for weight in [7, 9] * int(sys.argv[1]):
    start = time.monotonic()
    command(f"set weight hyperbun/{server} {weight}")
    row = [l.split() for l in command("show servers state hyperbun").splitlines()[2:] if l.split()[3:4] == [server]][0]
    assert row[7] == str(weight), row
    times.append(time.monotonic() - start)
command(f"set weight hyperbun/{server} {original}")
print(" ".join(f"{t:.6f}" for t in times))
"""


def task_window(result, host, first):
    tasks = [task for play in result["plays"] for task in play["tasks"] if host in task["hosts"]]
    start = next(t for t in tasks if t["task"]["name"].startswith(first))["task"]["duration"]["start"]
    end = [t for t in tasks if t["task"]["name"].startswith(LAST_TASK)][-1]["task"]["duration"]["end"]
    return (
        datetime.fromisoformat(end.replace("Z", "+00:00")) - datetime.fromisoformat(start.replace("Z", "+00:00"))
    ).total_seconds()


def summary(values):
    median = statistics.median(values)
    return f"median {median:8.4f} s  min {min(values):8.4f} s  max {max(values):8.4f} s  (n={len(values)})"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    production = TOPOLOGIES["3 production + 1 canary"]
    apply_share(5, production)
    role = {lb_type: [] for lb_type in LBS}
    for round_number in range(args.rounds):
        # One load balancer per run, so that the window holds only that driver's tasks.
        for lb_type, (host, _port) in LBS.items():
            result = apply_share(25 if round_number % 2 == 0 else 5, production, limit=host)
            role[lb_type].append(task_window(result, host, FIRST_TASK[lb_type]))
    apply_share(5, production)
    for lb_type, (host, _port) in LBS.items():
        script = NGINX_PRIMITIVE if lb_type == "nginx" else HAPROXY_PRIMITIVE
        out = subprocess.run(
            ["docker", "exec", host, "python3", "-c", script, str(args.rounds)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        primitive = [float(value) for value in out.split()]
        print(f"{lb_type:<8} role      : {summary(role[lb_type])}")
        print(f"{lb_type:<8} primitive : {summary(primitive)}")


if __name__ == "__main__":
    main()
