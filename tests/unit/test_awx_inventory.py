"""Every variable an inventory sets is one the collection (or Ansible itself) reads, so that a typo
is caught before a canary runs with a default the operator meant to change; where the roles'
argument specs give a variable a type or choices, the inventory's literal value fits them.

The variables the collection reads are its roles' argument specs and defaults, and the names its
playbooks and roles use; Ansible's own are the connection, become and interpreter variables that
ansible-core documents. An inventory may also set a host variable of its own that it reads itself
(such as the address the load balancers reach a host at), as long as it reads it.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from ansible import constants as C
from ansible.config.manager import ConfigManager
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from awx_support import ROOT, run, tool

INVENTORIES = ["production", "demo"]
NAME = re.compile(r"\b[a-z][a-z0-9]*_[a-z0-9_]+\b")
JINJA = re.compile(r"{{.*?}}|{%.*?%}", re.S)


def _yaml_files(directory):
    return sorted(p for p in directory.rglob("*") if p.suffix in {".yml", ".yaml"} and p.is_file())


def _argument_specs():
    options = {}
    for path in sorted(ROOT.glob("roles/*/meta/argument_specs.yml")):
        for entry in (yaml.safe_load(path.read_text()).get("argument_specs") or {}).values():
            options.update(entry.get("options") or {})
    return options


def _defaults():
    names = set()
    for path in sorted(ROOT.glob("roles/*/defaults/main.yml")):
        names |= set(yaml.safe_load(path.read_text()) or {})
    return names


def _read_by_the_collection():
    names = set()
    for pattern in ("playbooks/**/*.yml", "roles/*/tasks/**/*.yml", "roles/*/handlers/*.yml", "roles/*/vars/*.yml",
                    "roles/*/defaults/*.yml", "roles/*/templates/**/*.j2"):
        for path in ROOT.glob(pattern):
            names |= set(NAME.findall(path.read_text()))
    return names


def _ansible_variables():
    names = {var["name"] for entry in ConfigManager().get_configuration_definitions().values()
             for var in entry.get("vars") or []}
    names |= {name for aliases in C.MAGIC_VARIABLE_MAPPING.values() for name in aliases}
    for plugin_type, plugins in (("connection", ["ansible.builtin.ssh", "ansible.builtin.local"]),
                                 ("become", ["ansible.builtin.sudo", "ansible.builtin.su"])):
        docs = json.loads(run([tool("ansible-doc"), "-t", plugin_type, "--json", *plugins]).stdout)
        names |= {var["name"] for doc in docs.values() for option in doc["doc"]["options"].values()
                  for var in option.get("vars") or []}
    return names


def _inventory_variables(directory):
    """Every variable the inventory sets, with where and its value, and the names its templates read."""
    found, read = [], set()

    def note(variables, where):
        for name, value in (variables or {}).items():
            found.append((name, value, where))
            read.update(NAME.findall(" ".join(JINJA.findall(yaml.safe_dump(value)))))

    def walk(group, where):
        note(group.get("vars"), f"{where} vars")
        for host, host_vars in (group.get("hosts") or {}).items():
            note(host_vars, f"{where} host {host}")
        for child, child_group in (group.get("children") or {}).items():
            walk(child_group or {}, f"{where} > {child}")

    for path in _yaml_files(directory):
        data = yaml.safe_load(path.read_text()) or {}
        rel = path.relative_to(directory).as_posix()
        if rel.startswith(("group_vars/", "host_vars/")):
            note(data, rel)
        else:
            for group, body in data.items():
                walk(body or {}, f"{rel} {group}")
    return found, read


@pytest.fixture(scope="module")
def accepted():
    return _argument_specs(), _defaults() | _read_by_the_collection() | _ansible_variables()


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_every_variable_set_is_one_the_collection_reads(inventory, accepted):
    specs, known = accepted
    found, read_by_inventory = _inventory_variables(ROOT / "inventories" / inventory)
    assert found
    unknown = sorted({(name, where) for name, _value, where in found
                      if name not in specs and name not in known and name not in read_by_inventory})
    assert unknown == [], f"set by inventories/{inventory} but read by nothing: {unknown}"


@pytest.mark.parametrize("inventory", INVENTORIES)
def test_literal_values_fit_the_argument_specs(inventory, accepted):
    specs = accepted[0]
    found = _inventory_variables(ROOT / "inventories" / inventory)[0]
    checked = 0
    for name, value, where in found:
        if name not in specs or "{{" in yaml.safe_dump(value):
            continue
        spec = {key: specs[name][key] for key in ("type", "elements", "choices") if key in specs[name]}
        result = ArgumentSpecValidator({name: spec}).validate({name: value})
        assert not result.error_messages, f"{name} in inventories/{inventory} ({where}): {result.error_messages}"
        checked += 1
    assert checked


def test_production_sets_what_only_the_demo_set_before():
    """The playbooks read the first two with no default, and only the demo inventory set them; the
    split's servers have no useful default; the rest default to what suits a test run, not production."""
    found = _inventory_variables(ROOT / "inventories" / "production")[0]
    names = {entry[0] for entry in found}
    for needed in ("hyperbun_release_archive_dir", "hyperbun_release_name", "traffic_production_servers",
                   "traffic_canary_servers", "canary_prometheus_url", "canary_incident_dir", "instance_command"):
        assert needed in names, needed


def test_production_holds_nothing_of_the_demo():
    text = "\n".join(path.read_text() for path in _yaml_files(ROOT / "inventories" / "production"))
    for demo_only in ("demo", "community.docker", "127.0.0.1", "HYPERBUN_BUILD_DIR", "faults", "inventory_dir"):
        assert demo_only not in text, demo_only


def test_production_inventory_parses_with_its_groups():
    graph = json.loads(run([tool("ansible-inventory"), "-i", ROOT / "inventories" / "production", "--list"]).stdout)
    app = set(graph["app_servers"]["hosts"])
    assert len(app) >= 2
    assert set(graph["canary_servers"]["hosts"]) <= app
    assert len(graph["load_balancers"]["hosts"]) == 2
