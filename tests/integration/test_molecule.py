"""Runs each Molecule scenario (create, converge, idempotence, verify, destroy) on real systemd hosts."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "build" / "logs"
# The test command runs pytest with three workers (`-n 3 --dist loadgroup --no-loadscope-reorder`),
# each scenario a group of its own, in the order below, the unit tests' files after them. xdist
# hands each worker one group, then one more to each in turn: the first three start at once, the
# fourth queues behind the first, the fifth behind the second, and the first unit-test file behind
# the third. The longest, cycle (about 27 min), comes third, so only a unit-test file waits for it;
# traffic (7 min) with metrics (5 min) behind it, and default (18 min) with preflight (7 min), end
# before it. A scenario mostly waits on its windows and playbook runs, so three side by side use the
# two cores well. Each has its own containers, network and published ports. The order changes only
# how long the run takes.
RUN_ORDER = ["traffic", "default", "cycle", "metrics", "preflight"]


def _run_order(name):
    return RUN_ORDER.index(name) if name in RUN_ORDER else len(RUN_ORDER)


NAMES = sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
SCENARIOS = [pytest.param(name, marks=pytest.mark.xdist_group(name)) for name in sorted(NAMES, key=_run_order)]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario):
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"molecule-{scenario}.log"
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    with log.open("w") as out:
        result = subprocess.run(
            ["molecule", "test", "--scenario-name", scenario],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-80:])
        pytest.fail(f"molecule test -s {scenario} exited {result.returncode}; last lines of {log}:\n{tail}")
