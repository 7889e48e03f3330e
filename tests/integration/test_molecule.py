"""Runs each Molecule scenario (create, converge, idempotence, verify, destroy) on real systemd hosts."""

import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
# Scenarios not yet passing, kept out of the test command until they do; each runs by hand with
# `molecule test -s NAME`. cycle: the whole canary cycle under load (work in progress).
IN_PROGRESS = {"cycle"}
SCENARIOS = sorted(
    p.parent.name for p in (ROOT / "molecule").glob("*/molecule.yml") if p.parent.name not in IN_PROGRESS
)
LOG_DIR = ROOT / "build" / "logs"


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
