"""The playbooks find hyperbun.canary and what it uses with nothing but collections/requirements.yml.

A copy of the project as AWX syncs it (the tracked files, without the link that makes the checkout
its own collection), ANSIBLE_COLLECTIONS_PATH set to an empty directory, and the collections of the
`ansible` package out of sight, as in an execution environment built on ansible-core alone: the
playbooks' syntax check fails; after `ansible-galaxy collection install -r
collections/requirements.yml -p <dir>`, run from the project's root as AWX's project sync runs it,
it passes. No Galaxy is reached: the other collections it names (amazon.aws, community.general) are
put in the directory first, from the `ansible` package, as a Galaxy install would have left them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest
import yaml
from awx_support import (
    ROOT,
    build_collection,
    clean_env,
    galaxy_version,
    required_collections,
    run,
    seed_required_collections,
    tool,
)

PLAYBOOKS = sorted(path.name for path in (ROOT / "playbooks").glob("*.yml"))
# A syntax check resolves the roles a play lists and the modules its tasks name; a role included at
# run time (include_role) it does not see, so only a playbook with a static use can fail it.
STATIC_USE = re.compile(r"^\s*(?:-\s+role:\s+|-?\s*)hyperbun\.canary\.[a-z_]+:?\s*$", re.M)
LINK = "collections/ansible_collections/hyperbun/canary"


def _project_copy(target):
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    for rel in (p for p in listing.split("\0") if p and os.path.lexists(ROOT / p)):
        if rel == LINK:
            continue
        source, dest = ROOT / rel, target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(os.readlink(source))
        else:
            dest.write_bytes(source.read_bytes())
    return target


def _isolated(collections_dir):
    return clean_env(ANSIBLE_COLLECTIONS_PATH=str(collections_dir), ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false")


def _syntax_check(playbook, cwd, collections_dir):
    return run(
        [tool("ansible-playbook"), "--syntax-check", playbook], cwd=cwd, env=_isolated(collections_dir), check=False
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return _project_copy(tmp_path_factory.mktemp("awx-project") / "project")


@pytest.fixture(scope="module")
def installed(project, tmp_path_factory):
    collections = tmp_path_factory.mktemp("requirements-collections")
    seed_required_collections(collections)
    run(
        [tool("ansible-galaxy"), "collection", "install", "--offline", "-r", "collections/requirements.yml",
         "-p", collections],
        cwd=project,
        env=_isolated(collections),
    )
    return collections


@pytest.fixture(scope="module")
def from_tarball(tmp_path_factory):
    collections = tmp_path_factory.mktemp("tarball-collections")
    seed_required_collections(collections)
    tarball = build_collection(tmp_path_factory.mktemp("dist"))
    run(
        [tool("ansible-galaxy"), "collection", "install", "--offline", tarball, "-p", collections],
        env=_isolated(collections),
    )
    return collections


def test_requirements_name_the_checkout_and_what_it_uses():
    requirements = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text())["collections"]
    by_name = {entry["name"]: entry for entry in requirements}
    assert by_name["./"]["type"] == "dir"
    assert "amazon.aws" in by_name
    assert "community.general" in by_name
    # The execution environment installs the same collections, this one from its tarball.
    ee = yaml.safe_load((ROOT / "execution-environment.yml").read_text())["dependencies"]["galaxy"]["collections"]
    others = {entry["name"]: entry.get("version") for entry in ee if entry.get("type") != "file"}
    assert others == {name: entry.get("version") for name, entry in by_name.items() if entry.get("type") != "dir"}
    (own,) = [entry["name"] for entry in ee if entry.get("type") == "file"]
    assert own.endswith(f"/hyperbun-canary-{galaxy_version()}.tar.gz")


# A module, lookup or import of another collection: `community.general.mail:` as a task's key, or
# `ansible_collections.amazon.aws.` in Python.
TASK_KEY = r"^\s*(?:-\s+)?([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+:\s*$"
PYTHON_IMPORT = r"ansible_collections\.([a-z0-9_]+\.[a-z0-9_]+)\."
OTHER_COLLECTION = re.compile(f"{TASK_KEY}|{PYTHON_IMPORT}", re.M)


def test_requirements_name_every_collection_the_roles_playbooks_and_plugins_use():
    # The demo's own playbooks (playbooks/demo) start containers on a developer's machine; AWX never runs them.
    files = [path for top in ("roles", "playbooks", "plugins") for path in (ROOT / top).rglob("*")
             if path.suffix in (".yml", ".py") and "demo" not in path.relative_to(ROOT).parts[:2]]
    used = {match.group(1) or match.group(2) for path in files for match in OTHER_COLLECTION.finditer(path.read_text())}
    used -= {"ansible.builtin", "hyperbun.canary"}
    assert used, "the scan found no collection at all: it no longer reads the files"
    assert used <= {".".join(pair) for pair in required_collections()}


def _uses_statically(playbook):
    path = ROOT / "playbooks" / playbook
    texts = [path.read_text()] + [(path.parent / ref).read_text()
                                  for ref in re.findall(r"import_playbook:\s*(\S+\.yml)", path.read_text())]
    return any(STATIC_USE.search(text) for text in texts)


@pytest.mark.parametrize("playbook", [name for name in PLAYBOOKS if _uses_statically(name)])
def test_without_the_requirements_the_playbook_does_not_resolve(project, playbook, tmp_path):
    empty = tmp_path / "collections"
    empty.mkdir()
    result = _syntax_check(f"playbooks/{playbook}", project, empty)
    assert result.returncode != 0
    assert "hyperbun.canary" in result.stdout + result.stderr


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_with_the_requirements_installed_the_playbook_resolves(project, installed, playbook):
    result = _syntax_check(f"playbooks/{playbook}", project, installed)
    assert result.returncode == 0, result.stdout + result.stderr


def test_requirements_install_the_collection_as_it_is_built(installed):
    canary = installed / "ansible_collections" / "hyperbun" / "canary"
    assert (canary / "MANIFEST.json").is_file()
    assert (canary / "roles" / "common" / "defaults" / "main.yml").is_file()
    for development in ("tests", "molecule", "awx", "requirements.txt", "collections"):
        assert not (canary / development).exists(), development


@pytest.mark.parametrize("playbook", [name.removesuffix(".yml") for name in PLAYBOOKS])
def test_installed_tarball_runs_the_playbooks_by_name(from_tarball, playbook, tmp_path):
    result = _syntax_check(f"hyperbun.canary.{playbook}", tmp_path, from_tarball)
    assert result.returncode == 0, result.stdout + result.stderr


def test_with_the_requirements_installed_every_role_resolves(installed):
    """The roles the playbooks include at run time, which a syntax check does not look up."""
    result = run([tool("ansible-doc"), "-t", "role", "-l", "hyperbun.canary", "--json"], env=_isolated(installed))
    listed = {name.split(".")[-1] for name in json.loads(result.stdout)}
    roles = {path.name for path in (ROOT / "roles").iterdir() if (path / "meta" / "argument_specs.yml").is_file()}
    assert listed == roles
