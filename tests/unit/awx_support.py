"""What the AWX and execution-environment tests share: the tools beside the Python that runs the
tests, the collection built into a temporary directory, and the collections of
collections/requirements.yml that the `ansible` package ships, which stand in for Galaxy where no
Galaxy can be reached."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def tool(name):
    beside = pathlib.Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is neither beside the Python running the tests nor on PATH")
    return found


def run(args, cwd=None, env=None, check=True):
    result = subprocess.run(
        [str(arg) for arg in args], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    if check:
        assert result.returncode == 0, f"{args} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
    return result


def galaxy_version():
    return yaml.safe_load((ROOT / "galaxy.yml").read_text())["version"]


def build_collection(out_dir):
    """The collection built from the checkout as `ansible-galaxy collection build` does it."""
    run([tool("ansible-galaxy"), "collection", "build", "--output-path", out_dir, ROOT], cwd=ROOT)
    (tarball,) = pathlib.Path(out_dir).glob("hyperbun-canary-*.tar.gz")
    return tarball


def shipped_collection(namespace, name):
    """A collection of the `ansible` package installed beside ansible-core."""
    import ansible_collections

    for base in ansible_collections.__path__:
        path = pathlib.Path(base) / namespace / name
        if (path / "MANIFEST.json").is_file():
            return path
    pytest.fail(f"{namespace}.{name} is not shipped with the ansible package of this Python")


def seed_collection(collections_dir, namespace, name):
    """Put a shipped collection in a collections directory, as Galaxy would have installed it."""
    target = pathlib.Path(collections_dir) / "ansible_collections" / namespace / name
    shutil.copytree(shipped_collection(namespace, name), target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def required_collections():
    """The collections collections/requirements.yml names besides the checkout: [(namespace, name)]."""
    entries = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    return [tuple(entry["name"].split(".")) for entry in entries if entry.get("type") != "dir"]


def seed_required_collections(collections_dir):
    """Every collection of collections/requirements.yml but the checkout, put where Galaxy would install it."""
    for namespace, name in required_collections():
        seed_collection(collections_dir, namespace, name)


def clean_env(**extra):
    """The environment without any Ansible setting of the caller's, so that only the test's count."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(extra)
    return env
