"""Where the CPU goes while a command runs: the machine, the test hosts, the host's processes.

The test command runs on 2 cores and is bound by their CPU, not by waiting: three queues of
scenarios side by side go no faster than the work they share the cores with. This runs a command
(by default the whole test command) and prints, every --interval seconds, the machine's busy share
of its cores and the share the containers used (their cgroups' CPU); at the end, the run's busy
core-minutes, each container's, and the host processes' by command name.

Each Molecule scenario's host processes (`molecule test --scenario-name NAME` and everything it starts,
the nested playbook runs in the background too) are counted in a cpuacct cgroup of their own, which the
benchmark makes and moves the scenario's molecule process into as soon as it sees it (cgroup v1, as root;
without it, no figure by scenario). A scenario's figure is that cgroup's CPU plus its containers' (each
container counts for the scenario its name holds).

A host process's figure is its own CPU plus what its reaped children used, from /proc: a module run
through `docker exec` is counted under containerd-shim, an Ansible worker and the local modules it
started under ansible-playbook. Processes that end between two samples are counted only through a
parent that was seen; a child seen alive and reaped later is counted under both. A container removed
between two samples loses what it used since the last one. These figures say where the CPU went,
roughly; the machine's total is exact.

    .venv/bin/python benchmarks/bench_test_cpu.py [--interval 15] [-- COMMAND ...]

Prints figures; asserts nothing. Its exit status is the command's.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HZ = os.sysconf("SC_CLK_TCK")
CGROUP_GLOBS = (
    # cgroup v1 (cpuacct, nanoseconds) and v2 (cpu.stat usage_usec), as dockerd makes them.
    ("/sys/fs/cgroup/cpuacct/docker/*/cpuacct.usage", 1e-9),
    ("/sys/fs/cgroup/cpu,cpuacct/docker/*/cpuacct.usage", 1e-9),
    ("/sys/fs/cgroup/system.slice/docker-*.scope/cpu.stat", 1e-6),
)


def machine():
    """(busy, all) CPU seconds of the whole machine since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / HZ, sum(fields) / HZ


def containers():
    """CPU seconds of each running container, by its full id."""
    used = {}
    for pattern, unit in CGROUP_GLOBS:
        for path in glob.glob(pattern):
            directory = os.path.basename(os.path.dirname(path))
            ident = directory.removeprefix("docker-").removesuffix(".scope")
            try:
                with open(path, encoding="ascii") as source:
                    text = source.read()
            except OSError:
                continue
            if path.endswith("cpu.stat"):
                value = next((int(line.split()[1]) for line in text.splitlines() if line.startswith("usage_usec")), 0)
            else:
                value = int(text.strip() or 0)
            used[ident] = value * unit
    return used


SCENARIO_CGROUPS = Path("/sys/fs/cgroup/cpuacct/hyperbun-bench")


def scenario_of(pid):
    """The scenario a `molecule test --scenario-name NAME` process tests, or None."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as source:
            argv = source.read().decode(errors="replace").split("\0")
    except OSError:
        return None
    if any(arg.endswith("molecule") for arg in argv[:2]) and "--scenario-name" in argv[:-1]:
        return argv[argv.index("--scenario-name") + 1]
    return None


def follow_scenarios(stop, moved):
    """Moves each scenario's molecule process into the scenario's cgroup, which its children inherit."""
    while not stop.wait(0.5):
        for pid in filter(str.isdigit, os.listdir("/proc")):
            if pid in moved or (scenario := scenario_of(pid)) is None:
                continue
            group = SCENARIO_CGROUPS / scenario
            try:
                if scenario not in moved.values():
                    # A group left by an earlier run starts again from 0.
                    group.mkdir(parents=True, exist_ok=True)
                    (group / "cpuacct.usage").write_text("0")
                (group / "cgroup.procs").write_text(pid)
            except OSError:
                return
            moved[pid] = scenario


def scenario_cpu():
    """CPU seconds of each scenario's cgroup."""
    used = {}
    for usage in SCENARIO_CGROUPS.glob("*/cpuacct.usage"):
        try:
            used[usage.parent.name] = int(usage.read_text().strip() or 0) * 1e-9
        except (OSError, ValueError):
            continue
    return used


NAMES = {}


def container_name(ident):
    if ident not in NAMES:
        try:
            with open(f"/var/lib/docker/containers/{ident}/config.v2.json", encoding="utf-8") as config:
                NAMES[ident] = json.load(config)["Name"].lstrip("/")
        except (OSError, ValueError, KeyError):
            NAMES[ident] = ident[:12]
    return NAMES[ident]


def processes():
    """{pid: (command name, own CPU seconds, reaped children's CPU seconds)} of the host's processes."""
    seen = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue
        name = text[text.index("(") + 1 : text.rindex(")")]
        fields = text[text.rindex(")") + 2 :].split()
        seen[pid] = (name, (int(fields[11]) + int(fields[12])) / HZ, (int(fields[13]) + int(fields[14])) / HZ)
    return seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, default=15.0, help="seconds between two samples (default 15)")
    parser.add_argument("command", nargs="*", help="the command to run (default: scripts/test.sh)")
    args = parser.parse_args()
    command = args.command or [str(ROOT / "scripts" / "test.sh")]
    cores = os.cpu_count() or 1

    started = time.monotonic()
    busy0, all_last = machine()
    busy_last = busy0
    cpu_last = containers()
    procs_last = processes()
    by_name = Counter()
    by_container = Counter()
    stop, moved = threading.Event(), {}
    follower = threading.Thread(target=follow_scenarios, args=(stop, moved), daemon=True)
    follower.start()
    child = subprocess.Popen(command, cwd=ROOT)
    print(f"bench_test_cpu: {' '.join(command)} (pid {child.pid}), {cores} cores", file=sys.stderr, flush=True)
    while True:
        try:
            child.wait(timeout=args.interval)
            finished = True
        except subprocess.TimeoutExpired:
            finished = False
        busy, everything = machine()
        cpu_now = containers()
        procs_now = processes()
        for ident, seconds in cpu_now.items():
            by_container[container_name(ident)] += seconds - cpu_last.get(ident, 0.0)
        for pid, (name, own, reaped) in procs_now.items():
            before = procs_last.get(pid)
            if before is not None and before[0] == name:
                by_name[name] += (own - before[1]) + (reaped - before[2])
            elif before is None:
                by_name[name] += own + reaped
        share = (busy - busy_last) / max(everything - all_last, 1e-9) * 100 * cores
        in_containers = sum(cpu_now[i] - cpu_last.get(i, 0.0) for i in cpu_now) / max(
            (everything - all_last) / cores, 1e-9
        )
        print(
            f"{time.strftime('%H:%M:%S')} busy {share:5.1f} % of {cores} cores;"
            f" containers {in_containers * 100:5.1f} %",
            flush=True,
        )
        busy_last, all_last, cpu_last, procs_last = busy, everything, cpu_now, procs_now
        if finished:
            break

    stop.set()
    follower.join()
    by_scenario = scenario_cpu()
    wall = time.monotonic() - started
    total = busy_last - busy0
    average = total / wall * 100
    print(f"\nwall {wall / 60:.1f} min; busy {total / 60:.1f} core-minutes, {average:.0f} % of a core on average")
    print(f"containers: {sum(by_container.values()) / 60:.1f} core-minutes")
    for name, seconds in by_container.most_common(12):
        print(f"  {seconds / 60:6.1f}  {name}")
    if by_scenario:
        print("by scenario, host processes + its containers (core-minutes):")
        rows = [
            (seconds, sum(used for name, used in by_container.items() if scenario in name.split("-")), scenario)
            for scenario, seconds in by_scenario.items()
        ]
        for seconds, own, scenario in sorted(rows, key=lambda row: -(row[0] + row[1])):
            print(f"  {(seconds + own) / 60:6.1f}  {scenario} ({seconds / 60:.1f} + {own / 60:.1f})")
        rest = total - sum(by_scenario.values()) - sum(by_container.values())
        print(f"  {rest / 60:6.1f}  the rest of the machine (unit tests, lint, set-up, the Docker engine)")
        for group in [*SCENARIO_CGROUPS.glob("*"), SCENARIO_CGROUPS]:
            with contextlib.suppress(OSError):
                group.rmdir()
    print("host processes by name (own CPU and reaped children's, roughly):")
    for name, seconds in by_name.most_common(15):
        print(f"  {seconds / 60:6.1f}  {name}")
    return child.returncode


if __name__ == "__main__":
    sys.exit(main())
