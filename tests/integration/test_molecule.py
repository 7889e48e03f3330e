"""Runs each Molecule scenario (create, converge, idempotence, verify, destroy) on real systemd hosts."""

import os
import pathlib
import subprocess
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "build" / "logs"
# The test command runs pytest with three workers (`-n 3 --dist loadgroup --no-loadscope-reorder`).
# Each line below is one xdist group, so one worker's queue, run in its order: the two longest
# scenarios, cycle and default, have a worker each, and the three short ones share the third, which
# then takes the unit tests (xdist hands a worker more only when it has at most two tests left, so a
# group of three is not joined by unit tests until it is nearly done). A scenario mostly waits on its
# windows and playbook runs, so three side by side use the two cores well. Each has its own
# containers, network and published ports. The grouping changes only how long the run takes; a
# scenario not named here gets a group of its own, after these.
QUEUES = [["cycle"], ["default"], ["traffic", "metrics", "preflight"]]


def _queue_of(name):
    return next((queue for queue in QUEUES if name in queue), [name])


def _run_order(name):
    order = [scenario for queue in QUEUES for scenario in queue]
    return order.index(name) if name in order else len(order)


NAMES = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
SCENARIOS = [
    pytest.param(name, marks=pytest.mark.xdist_group(_queue_of(name)[0])) for name in sorted(NAMES, key=_run_order)
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario):
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
    if molecule.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-80:])
        pytest.fail(f"molecule test -s {scenario} exited {molecule.returncode}; last lines of {log}:\n{tail}")
