"""What one Ansible task costs in CPU on a test host, and where that CPU goes.

The test command is bound by its CPU (bench_test_cpu.py), and most of that CPU is Ansible's own
cost per task, whatever the task does. This starts one test host as every scenario defines it
(molecule/shared/vars/testhost.yml: the test host image, with systemd as PID 1), runs
ansible-playbook against it through the Docker connection with pipelining, as the scenarios do, and
prints the CPU per task of:

- a module run on the host (`ansible.builtin.command: "true"`, as separate tasks);
- a task that runs no module (`ansible.builtin.set_fact`), the controller's cost alone;
- `docker exec HOST true`, the connection's own cost for one command;

each split into the controller's process tree (ansible-playbook, its workers and the docker CLI),
the host's container (the module's Python) and the rest of the machine (dockerd, containerd and the
shim that starts each command). The split is exact only on an otherwise idle machine: the rest of
the machine is the machine's busy time less the other two.

    .venv/bin/python benchmarks/bench_task_cost.py [--tasks 30] [--rounds 2]

Needs the Docker engine and the test host image (scripts/setup.sh). Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_test_cpu import containers, machine  # pylint: disable=wrong-import-position

ROOT = Path(__file__).resolve().parent.parent
HOST = "hyperbun-bench-task-cost"
ENV = dict(os.environ, PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}", ANSIBLE_PIPELINING="true",
           ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.null")


def docker_run():
    """`docker run` of one test host, from its one definition (molecule/shared/vars/testhost.yml)."""
    with open(ROOT / "molecule" / "shared" / "vars" / "testhost.yml", encoding="utf-8") as source:
        host = yaml.safe_load(source)["testhost"]
    command = ["docker", "run", "-d", "--name", HOST, "--cgroupns", host["cgroupns_mode"],
               "--log-driver", host["log_driver"]]
    command += ["--privileged"] if host["privileged"] else []
    command += ["--init"] if host["init"] else []
    for flag, values in (("--cap-add", host["capabilities"]), ("--security-opt", host["security_opts"]),
                         ("-v", host["volumes"]), ("--tmpfs", host["tmpfs"]),
                         ("-e", [f"{k}={v}" for k, v in host["env"].items()]),
                         ("--label", [f"{k}={v}" for k, v in host["labels"].items()])):
        for value in values:
            command += [flag, value]
    return [*command, host["image"], host["command"]]


def playbook(directory, action, tasks):
    """A playbook of `tasks` separate tasks of one action against the test host."""
    path = Path(directory) / f"{action.rsplit('.', 1)[-1]}.yml"
    body = {"ansible.builtin.command": 'ansible.builtin.command: "true"\n      changed_when: false',
            "ansible.builtin.set_fact": "ansible.builtin.set_fact:\n        bench_value: 1"}[action]
    lines = [f"- hosts: {HOST}", "  gather_facts: false", "  tasks:"]
    for number in range(tasks):
        lines += [f"    - name: Task {number}", f"      {body}"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def measure(command, container_id):
    """(machine busy, controller tree, container) CPU seconds that running `command` took."""
    busy0, children0 = machine()[0], resource.getrusage(resource.RUSAGE_CHILDREN)
    host0 = containers().get(container_id, 0.0)
    subprocess.run(command, env=ENV, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    busy1, children1 = machine()[0], resource.getrusage(resource.RUSAGE_CHILDREN)
    host1 = containers().get(container_id, 0.0)
    tree = (children1.ru_utime - children0.ru_utime) + (children1.ru_stime - children0.ru_stime)
    return busy1 - busy0, tree, host1 - host0


def runs(rounds, command, container_id):
    """measure() of `command`, `rounds` times."""
    return [measure(command, container_id) for attempt in range(rounds)]


def report(label, figures, count):
    busy, tree, host = (min(values) / count * 1000 for values in zip(*figures, strict=True))
    print(f"{label:44s} {busy:6.0f} ms   controller {tree:5.0f}   host {host:5.0f}   "
          f"rest {max(busy - tree - host, 0):5.0f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=30, help="tasks a playbook runs (default 30)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each, the cheapest kept (default 2)")
    args = parser.parse_args()

    subprocess.run(["docker", "rm", "-f", HOST], check=False, capture_output=True)
    container_id = subprocess.run(docker_run(), check=True, capture_output=True, text=True).stdout.strip()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            state = subprocess.run(["docker", "exec", HOST, "systemctl", "is-system-running"], check=False,
                                   capture_output=True, text=True).stdout.strip()
            if state in ("running", "degraded"):
                break
            time.sleep(1)
        with tempfile.TemporaryDirectory() as directory:
            inventory = ["-i", f"{HOST},", "-c", "community.docker.docker"]
            empty = playbook(directory, "ansible.builtin.set_fact", 0)
            bare = runs(args.rounds, ["ansible-playbook", *inventory, str(empty)], container_id)
            start = tuple(min(column) for column in zip(*bare, strict=True))
            print(f"CPU per task on one test host, {args.tasks} tasks a run, the cheapest of {args.rounds} runs "
                  f"(ansible-playbook's own start, {start[0]:.2f} s, taken off)")
            for action, label in (("ansible.builtin.command", "a module run on the host (command: true)"),
                                  ("ansible.builtin.set_fact", "a task without a module (set_fact)")):
                path = playbook(directory, action, args.tasks)
                figures = runs(args.rounds, ["ansible-playbook", *inventory, str(path)], container_id)
                report(label, [tuple(a - b for a, b in zip(run, start, strict=True)) for run in figures], args.tasks)
            execs = ["sh", "-c", f"for i in $(seq {args.tasks}); do docker exec {HOST} true; done"]
            report("docker exec HOST true (the connection alone)",
                   runs(args.rounds, execs, container_id), args.tasks)
    finally:
        subprocess.run(["docker", "rm", "-f", HOST], check=False, capture_output=True)


if __name__ == "__main__":
    main()
