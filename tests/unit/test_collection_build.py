"""The built collection holds what a user who installs it needs, and nothing else.

The collection is built, as `ansible-galaxy collection build` does it from a checkout, from a copy of
the tree (what a clean clone of this change holds) into which the leftovers of a working checkout
are put first: ansible-lint's `.ansible/`, a virtual environment, caches, byte code, build logs and
a demo run's incident reports. The working tree itself is never written to.
"""

import os
import pathlib
import shutil
import subprocess
import sys
import tarfile
import types

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# What the tarball may hold at its top level: ansible-galaxy's two manifests and what a user needs.
TOP_LEVEL = {
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "CHANGELOG.rst",
    "changelogs",
    "docs",
    "inventories",
    "meta",
    "playbooks",
    "plugins",
    "roles",
}
# Tracked paths under those entries that only the checkout can use: the demo's playbooks run
# demo/service/build-release.sh, which the collection does not hold.
CHECKOUT_ONLY = ("playbooks/demo/",)

# What a working checkout holds besides the tracked files, none of which may be built in.
JUNK = {
    ".ansible/collections/ansible_collections/hyperbun/canary/galaxy.yml": "a second copy\n",
    ".ansible/roles/hyperbun.canary.watch/README.md": "a second copy\n",
    ".venv/bin/python": "",
    ".ruff_cache/CACHEDIR.TAG": "",
    ".pytest_cache/README.md": "",
    ".hypothesis/examples/x": "",
    ".cache/x": "",
    "build/logs/molecule-default.log": "",
    "build/releases/hyperbun-demo-1.1.0.tar.gz": "",
    "tests/output/junit/x.xml": "",
    "plugins/filter/__pycache__/split_weights.cpython-311.pyc": "",
    "plugins/module_utils/_judge.pyc": "",
    "docs/runbooks/incidents/2026-11-26-hyperbun-2.0.0-rollback-101500.md": "# Incident\n",
    "docs/runbooks/incidents/2026-11-26-hyperbun-2.0.0-rollback-101500/app1-canary-issues.log": "",
    "roles/watch/.README.md.swp": "",
    "hyperbun-canary-0.0.9.tar.gz": "",
}


def _ansible_galaxy():
    beside = pathlib.Path(sys.executable).parent / "ansible-galaxy"
    if beside.is_file():
        return str(beside)
    found = shutil.which("ansible-galaxy")
    if found is None:
        pytest.fail("ansible-galaxy is neither beside the Python running the tests nor on PATH")
    return found


def _tree_files():
    """Tracked files and new ones that are not ignored: what a clean clone of this change holds."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    # A tracked file deleted in the working tree is not part of the change.
    return sorted(p for p in listing.split("\0") if p and os.path.lexists(ROOT / p))


def _copy_tree(files, target):
    for rel in files:
        source, dest = ROOT / rel, target / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            dest.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, dest)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The tree's files, and the names (all, and files only) in the tarball built from it salted with leftovers."""
    files = _tree_files()
    tree = tmp_path_factory.mktemp("tree") / "canary"
    _copy_tree(files, tree)
    for rel, content in JUNK.items():
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    out = tmp_path_factory.mktemp("dist")
    result = subprocess.run(
        [_ansible_galaxy(), "collection", "build", "--output-path", str(out), str(tree)],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (tarball,) = out.glob("hyperbun-canary-*.tar.gz")
    with tarfile.open(tarball) as archive:
        members = archive.getmembers()
    names = {m.name.removeprefix("./").rstrip("/") for m in members}
    file_names = {m.name.removeprefix("./") for m in members if not m.isdir()}
    return types.SimpleNamespace(tree_files=files, names=names, file_names=file_names)


def test_top_level_holds_only_what_a_user_needs(built):
    names = built.names
    top = {name.split("/")[0] for name in names}
    assert top == TOP_LEVEL, f"unexpected: {sorted(top - TOP_LEVEL)}, missing: {sorted(TOP_LEVEL - top)}"


# Top-level directories of the checkout for its developers and its demo, and AWX's configuration
# as code, which configures a server from the checkout AWX syncs.
DEVELOPMENT_DIRS = ["molecule", "tests", "demo", "scripts", "benchmarks", "test-hosts", "collections", "build", "awx"]
# The inventories a user of the built collection starts from: the demo's, the reference of what an
# inventory sets, and the example production layout.
INVENTORIES = {"demo", "production"}


@pytest.mark.parametrize("directory", DEVELOPMENT_DIRS)
def test_no_development_directory(built, directory):
    names = built.names
    assert sorted(name for name in names if name.split("/")[0] == directory) == []


def test_no_dotfiles_caches_byte_code_or_pins(built):
    names = built.names
    offending = sorted(
        name
        for name in names
        if any(part.startswith(".") or part == "__pycache__" for part in name.split("/"))
        or name.endswith((".pyc", ".pyo", ".tar.gz"))
        or (name.split("/")[-1] in {"requirements.txt", "pyproject.toml", "ansible.cfg"} and name not in RUNTIME_FILES)
    )
    assert offending == []


# The collection's run-time needs, which ansible-builder reads from the installed collection; the
# checkout's pinned development requirements are another file.
RUNTIME_FILES = {"meta/requirements.txt"}


def test_runtime_requirements_are_built_in_without_development_pins(built):
    assert RUNTIME_FILES <= built.file_names
    assert "meta/execution-environment.yml" in built.file_names
    assert "execution-environment.yml" not in built.names


def test_no_tests_molecule_scenarios_or_virtual_environment_at_any_depth(built):
    names = built.names
    offending = sorted(
        name
        for name in names
        if {"tests", "molecule", "benchmarks", "scripts", "venv", ".venv", ".ansible"} & set(name.split("/"))
    )
    assert offending == []


def test_only_the_inventories_a_user_needs(built):
    names = built.names
    inventories = {name.split("/")[1] for name in names if name.startswith("inventories/") and name.count("/") >= 1}
    assert inventories == INVENTORIES


def test_no_incident_reports_of_a_demo_run(built):
    names = built.names
    offending = sorted(
        name for name in names if name.startswith("docs/runbooks/incidents/") and not name.endswith("/README.md")
    )
    assert not offending


def test_no_empty_directory(built):
    names, file_names = built.names, built.file_names
    directories = names - file_names
    assert sorted(d for d in directories if not any(name.startswith(d + "/") for name in names)) == []


def test_every_file_a_user_needs_is_built_in(built):
    files, file_names = built.tree_files, built.file_names
    wanted = {rel for rel in files if rel.split("/")[0] in TOP_LEVEL and not rel.startswith(CHECKOUT_ONLY)}
    assert file_names - {"MANIFEST.json", "FILES.json"} == wanted


def test_every_role_has_a_readme(built):
    names = built.names
    roles = {name.split("/")[1] for name in names if name.startswith("roles/") and name.count("/") >= 1}
    assert roles
    assert sorted(role for role in roles if f"roles/{role}/README.md" not in names) == []
