"""Runs each Molecule scenario (create, converge, idempotence, verify, destroy) on real systemd hosts."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
LOG_DIR = ROOT / "build" / "logs"
# The test command runs pytest with two workers (`-n 2 --dist loadgroup`); the cycle scenario, the
# longest, has a group of its own so that it starts at once beside the others. Each scenario has its
# own containers, network and published ports, so two can run side by side.
LONGEST = "cycle"
SCENARIOS = [
    pytest.param(name, marks=pytest.mark.xdist_group(name if name == LONGEST else "scenarios"))
    for name in sorted(p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml"))
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_molecule_scenario(scenario):
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    log = LOG_DIR / f"molecule-{scenario}.log"
    env = dict(os.environ, ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")
    with log.open("w") as out:
        result = subprocess.run(
            ["molecule", "test", "--scenario-name", scenario],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, check=False,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-80:])
        pytest.fail(f"molecule test -s {scenario} exited {result.returncode}; last lines of {log}:\n{tail}")
