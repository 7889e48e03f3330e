"""Runs each Molecule scenario (create, converge, idempotence, verify, destroy) on real systemd hosts."""

import os
import pathlib
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "build" / "logs"
# The test command runs pytest with three workers (`-n 3 --dist loadgroup --no-loadscope-reorder`):
# xdist hands the tests out in this file's order, two to each worker at the start (the first three,
# then the next three, unit tests, behind them), then one to whichever worker has at most two left.
# Each line below is one test, its scenarios run one after the other on one worker: the longest,
# cycle, has a worker of its own; default and then fleet share the second; the short ones share the
# third, which then takes the unit tests. (Scenarios marked with one xdist_group did not stay
# together on one worker.) A scenario mostly waits on its windows and playbook runs, so three side
# by side use the two cores well. Each has its own containers, network and published ports. The
# grouping changes only how long the run takes; a scenario not named here runs in a test of its own,
# after these.
QUEUES = [["cycle"], ["default", "fleet"], ["traffic", "metrics", "preflight"]]
NAMES = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
# Every scenario runs once: a queue's scenarios that exist, then each one no queue names.
RUNS = [run for run in ([name for name in queue if name in NAMES] for queue in QUEUES) if run] + [
    [name] for name in NAMES if not any(name in queue for queue in QUEUES)
]


def _molecule_test(scenario):
    """molecule test of one scenario, its output in build/logs; the failure's message, or None."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"molecule-{scenario}.log"
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    # Each line of the log starts with the time it came, so that a slow phase or task shows.
    with (
        log.open("w") as out,
        subprocess.Popen(
            ["molecule", "test", "--scenario-name", scenario],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        ) as molecule,
    ):
        for line in molecule.stdout:
            out.write(f"{time.strftime('%H:%M:%S')} {line}")
            out.flush()
    if molecule.returncode == 0:
        return None
    lines = log.read_text(errors="replace").splitlines()
    tail = "\n".join(lines[-60:])
    failed = _failed_task(lines)
    return (
        f"molecule test -s {scenario} exited {molecule.returncode}; the failed task in {log}:\n{failed}\n\n"
        f"its last lines:\n{tail}"
    )


def _failed_task(lines):
    """The last failure Ansible printed that was not ignored, with the lines after it (its message,
    further up the log than the clean-up's last lines)."""
    for index in range(len(lines) - 1, -1, -1):
        if ("fatal: [" in lines[index] or "failed: [" in lines[index]) and not any(
            "...ignoring" in line for line in lines[index : index + 40]
        ):
            return "\n".join(lines[max(index - 2, 0) : index + 40])
    return "(none printed)"


@pytest.mark.parametrize("scenarios", RUNS, ids="+".join)
def test_molecule_scenarios(scenarios):
    # Each scenario of the queue runs whatever became of the one before.
    failures = [failure for failure in map(_molecule_test, scenarios) if failure]
    if failures:
        pytest.fail("\n\n".join(failures))
