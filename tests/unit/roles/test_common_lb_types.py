# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load-balancer drivers the collection implements are listed once, as the registry
canary_lb_drivers in the vars of the role hyperbun.canary.common (canary_lb_types_implemented is
its list of names). The places that must stay literal (the argument specs' choices, the
split_weights filter's documentation and weight limits) and those that hold one entry per driver
(the traffic role's driver task files, the preflight's test commands) must agree with it."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible_collections.hyperbun.canary.plugins.filter import split_weights

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"
VERBS = ("apply", "read", "drain")


def load(path):
    return yaml.safe_load((ROLES / path).read_text())


def option(role, name):
    return load(f"{role}/meta/argument_specs.yml")["argument_specs"]["main"]["options"][name]


@pytest.fixture(name="drivers")
def fixture_drivers():
    drivers = load("common/vars/main.yml")["canary_lb_drivers"]
    assert isinstance(drivers, dict)
    assert drivers
    return drivers


@pytest.fixture(name="implemented")
def fixture_implemented(drivers):
    return sorted(drivers)


def test_the_registry_states_where_each_driver_runs_its_weight_range_and_its_tasks(drivers):
    for lb_type, driver in drivers.items():
        assert set(driver) == {"where", "split", "max_weight", "tasks"}, lb_type
        assert driver["where"] in ("host", "controller"), lb_type
        assert driver["split"] in ("servers", "groups"), lb_type
        assert isinstance(driver["max_weight"], int) and driver["max_weight"] >= 1, lb_type
        assert driver["tasks"] == f"drivers/{lb_type}", lb_type


def test_the_list_of_implemented_types_is_the_registry():
    assert load("common/vars/main.yml")["canary_lb_types_implemented"] == "{{ canary_lb_drivers | list }}"


def test_the_common_role_accepts_exactly_the_implemented_drivers(implemented):
    assert sorted(option("common", "canary_lb_types")["choices"]) == implemented


def test_the_default_drivers_are_implemented(implemented):
    default = load("common/defaults/main.yml")["canary_lb_types"]
    assert set(default) <= set(implemented)
    assert option("common", "canary_lb_types")["default"] == default


def test_the_preflight_accepts_exactly_the_implemented_drivers(implemented):
    assert sorted(option("preflight", "preflight_lb_types")["choices"]) == implemented


def test_the_preflight_tests_the_configuration_of_each_driver_on_a_host(drivers):
    commands = load("preflight/vars/main.yml")["_preflight_lb_test_commands"]
    assert sorted(commands) == sorted(name for name, driver in drivers.items() if driver["where"] == "host")


def test_the_traffic_role_accepts_exactly_the_implemented_drivers(implemented):
    assert sorted(option("traffic", "traffic_lb_type")["choices"]) == implemented


def test_the_traffic_role_reads_the_registry_and_each_driver_has_its_three_verbs(drivers):
    traffic_vars = load("traffic/vars/main.yml")
    assert traffic_vars["_traffic_lb_types_implemented"] == "{{ canary_lb_types_implemented }}"
    assert traffic_vars["_traffic_driver"] == "{{ canary_lb_drivers[traffic_lb_type] }}"
    tasks = ROLES / "traffic" / "tasks"
    for lb_type, driver in drivers.items():
        for verb in VERBS:
            assert (tasks / driver["tasks"] / f"{verb}.yml").is_file(), (lb_type, verb)
    # Every driver directory is registered; no task file of a type outside the registry.
    assert sorted(path.name for path in (tasks / "drivers").iterdir()) == sorted(drivers)


def test_the_role_runs_a_controller_driver_on_the_controller_and_a_host_driver_on_its_host():
    includes = {}
    for task in load("traffic/tasks/main.yml"):
        include = task.get("ansible.builtin.include_tasks")
        if include is None:
            continue
        path = include if isinstance(include, str) else include["file"]
        verb = "read" if path.endswith("/read.yml") else "apply or drain"
        # The first condition says where the driver runs (a lease's drain is prepared, never read back).
        when = task["when"][0] if isinstance(task["when"], list) else task["when"]
        includes[(verb, when)] = include
    host, controller = "_traffic_driver.where == 'host'", "_traffic_driver.where == 'controller'"
    for verb in ("apply or drain", "read"):
        assert isinstance(includes[(verb, host)], str), verb
        applied = includes[(verb, controller)]["apply"]
        assert applied["delegate_to"] == "localhost" and applied["become"] is False, verb
        assert applied["vars"] == {"ansible_python_interpreter": "{{ traffic_controller_python }}"}, verb


def test_split_weights_knows_the_weight_range_of_each_implemented_driver(drivers):
    assert split_weights.WEIGHT_LIMITS == {name: driver["max_weight"] for name, driver in drivers.items()}


def test_split_weights_documents_exactly_the_implemented_drivers(implemented):
    documentation = yaml.safe_load(split_weights.DOCUMENTATION)
    assert sorted(documentation["options"]["lb_type"]["choices"]) == implemented
