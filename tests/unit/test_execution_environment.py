"""The execution environment holds what the collection needs at run time, and none of the checkout's
development tools.

`ansible-builder create` makes the build context of execution-environment.yml; its galaxy stage is
then run as the image build runs it (offline: amazon.aws comes from the `ansible` package instead of
Galaxy), and `ansible-builder introspect` reads the collections it installed, as the image build's
next stage does. Building the image itself needs a container registry for its base image, which
these tests do not reach.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import sys

import pytest
import yaml
from awx_support import ROOT, build_collection, clean_env, galaxy_version, run, seed_required_collections, tool

# What only the checkout's developers use: none of it may reach an execution environment.
DEVELOPMENT_PACKAGES = {
    "ansible-lint",
    "antsibull-changelog",
    "antsibull-docs",
    "docker",
    "hypothesis",
    "molecule",
    "molecule-plugins",
    "moto",
    "pytest",
    "pytest-xdist",
    "ruff",
    "yamllint",
    "ansible-builder",
    "sphinx",
}


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(line):
    return canonical(re.split(r"[\s<>=!~;\[#]", line.strip(), maxsplit=1)[0])


def requirement_lines(path):
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def introspected(collections_dir, tmp_path):
    written = tmp_path / "introspected-requirements.txt"
    result = run(
        [tool("ansible-builder"), "introspect", collections_dir, "--write-pip", written], env=clean_env()
    )
    data = yaml.safe_load(result.stdout.split("\n", 1)[1])
    by_collection = {}
    for entry in data.get("python") or []:
        requirement, _marker, origin = entry.partition("# from collection ")
        by_collection.setdefault(origin.strip(), []).append(requirement.strip())
    return by_collection, requirement_lines(written)


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    """The build context of execution-environment.yml, made beside the collection built from the checkout."""
    project = tmp_path_factory.mktemp("project")
    shutil.copy2(ROOT / "execution-environment.yml", project)
    build_collection(project / "build" / "ee")
    result = run(
        [tool("ansible-builder"), "create", "-f", project / "execution-environment.yml", "-c", project / "context"],
        cwd=project,
        env=clean_env(),
    )
    return project / "context", result.stdout + result.stderr


@pytest.fixture(scope="module")
def galaxy_stage(context, tmp_path_factory):
    """The collections the image's galaxy stage installs, run from the context's _build directory."""
    context_dir = context[0]
    collections = tmp_path_factory.mktemp("ee-collections")
    seed_required_collections(collections)
    run(
        [tool("ansible-galaxy"), "collection", "install", "--offline", "-r", "requirements.yml", "-p", collections],
        cwd=context_dir / "_build",
        env=clean_env(ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1"),
    )
    return collections


def test_create_makes_a_context_with_the_built_collection(context):
    context_dir, output = context
    assert "No matches" not in output, output
    assert (context_dir / "Dockerfile").is_file() or (context_dir / "Containerfile").is_file()
    tarball = f"hyperbun-canary-{galaxy_version()}.tar.gz"
    assert (context_dir / "_build" / "collections" / tarball).is_file(), (
        f"the context lacks {tarball}: execution-environment.yml must name galaxy.yml's version"
    )
    requirements = yaml.safe_load((context_dir / "_build" / "requirements.yml").read_text())
    assert {"name": f"collections/{tarball}", "type": "file"} in requirements["collections"]


def test_image_installs_the_tested_ansible_core_and_runner(context):
    context_dir = context[0]
    definition = next(p for p in (context_dir / "Dockerfile", context_dir / "Containerfile") if p.is_file())
    refs = re.search(r'^ARG ANSIBLE_INSTALL_REFS="([^"]*)"', definition.read_text(), re.M).group(1).split()
    pins = {requirement_name(line): line for line in requirement_lines(ROOT / "requirements.txt")}
    assert pins["ansible-core"] in refs


def test_galaxy_stage_installs_the_collection_and_amazon_aws(galaxy_stage):
    root = galaxy_stage / "ansible_collections"
    assert (root / "hyperbun" / "canary" / "meta" / "execution-environment.yml").is_file()
    assert (root / "amazon" / "aws" / "MANIFEST.json").is_file()
    # What the build leaves out of the collection stays out of the image.
    assert not (root / "hyperbun" / "canary" / "requirements.txt").exists()
    assert not (root / "hyperbun" / "canary" / "tests").exists()


def test_introspection_finds_only_runtime_requirements(galaxy_stage, tmp_path):
    by_collection, combined = introspected(galaxy_stage, tmp_path)
    own = by_collection.get("hyperbun.canary", [])
    assert sorted(own) == sorted(requirement_lines(ROOT / "meta" / "requirements.txt"))
    names = {requirement_name(line) for line in combined}
    assert {"prometheus-client", "boto3", "botocore"} <= names
    assert sorted(names & DEVELOPMENT_PACKAGES) == []
    assert len(combined) < 10, combined


def test_checkout_introspected_through_its_link_gives_the_same(tmp_path):
    """AWX's project sync and ansible.cfg see the checkout itself as hyperbun.canary: its
    requirements.txt of development pins must not be taken for the collection's."""
    by_collection = introspected(ROOT / "collections", tmp_path)[0]
    assert sorted(by_collection.get("hyperbun.canary", [])) == sorted(
        requirement_lines(ROOT / "meta" / "requirements.txt")
    )


def _third_party_imports():
    found = {}
    for path in sorted((ROOT / "plugins").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top in sys.stdlib_module_names or top in {"ansible", "ansible_collections", "__future__"}:
                    continue
                found.setdefault(top, []).append(str(path.relative_to(ROOT)))
    return found


def test_every_third_party_import_of_the_plugins_is_a_runtime_requirement():
    distributions = importlib.metadata.packages_distributions()
    imported = {}
    for module, where in _third_party_imports().items():
        assert module in distributions, f"{module} (imported by {where}) is not installed in the test environment"
        for dist in distributions[module]:
            imported[canonical(dist)] = where
    declared = {requirement_name(line) for line in requirement_lines(ROOT / "meta" / "requirements.txt")}
    missing = {dist: where for dist, where in imported.items() if dist not in declared}
    assert not missing, f"imported under plugins/ but not in meta/requirements.txt: {missing}"
    # boto3 is not imported by the plugins themselves but by amazon.aws's AnsibleAWSModule, which
    # the ALB module is built on; nothing else may be declared without an import.
    assert sorted(declared - set(imported) - {"boto3"}) == []
