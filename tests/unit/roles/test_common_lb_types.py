# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The load-balancer drivers the collection implements are listed once, as canary_lb_types_implemented
in the vars of the role hyperbun.canary.common. The places that must stay literal (the argument
specs' choices, the split_weights filter's documentation and weight limits) and those that hold one
entry per driver (the traffic role's driver task files, the preflight's test commands) must agree
with it."""

from __future__ import annotations

import pathlib

import pytest
import yaml
from ansible_collections.hyperbun.canary.plugins.filter import split_weights

ROLES = pathlib.Path(__file__).resolve().parents[3] / "roles"

# Drivers the traffic role declares but refuses until they are implemented.
DECLARED_NOT_IMPLEMENTED = ["alb"]


def load(path):
    return yaml.safe_load((ROLES / path).read_text())


def option(role, name):
    return load(f"{role}/meta/argument_specs.yml")["argument_specs"]["main"]["options"][name]


@pytest.fixture(name="implemented")
def fixture_implemented():
    implemented = load("common/vars/main.yml")["canary_lb_types_implemented"]
    assert isinstance(implemented, list)
    assert implemented
    assert len(set(implemented)) == len(implemented)
    return implemented


def test_the_common_role_accepts_exactly_the_implemented_drivers(implemented):
    assert sorted(option("common", "canary_lb_types")["choices"]) == sorted(implemented)


def test_the_default_drivers_are_implemented(implemented):
    default = load("common/defaults/main.yml")["canary_lb_types"]
    assert set(default) <= set(implemented)
    assert option("common", "canary_lb_types")["default"] == default


def test_the_preflight_accepts_exactly_the_implemented_drivers(implemented):
    assert sorted(option("preflight", "preflight_lb_types")["choices"]) == sorted(implemented)


def test_the_preflight_tests_the_configuration_of_each_implemented_driver(implemented):
    commands = load("preflight/vars/main.yml")["_preflight_lb_test_commands"]
    assert sorted(commands) == sorted(implemented)


def test_the_traffic_role_declares_the_implemented_drivers_and_those_it_refuses(implemented):
    choices = option("traffic", "traffic_lb_type")["choices"]
    assert sorted(choices) == sorted(implemented + DECLARED_NOT_IMPLEMENTED)
    assert not set(DECLARED_NOT_IMPLEMENTED) & set(implemented)


def test_the_traffic_role_reads_the_list_and_has_a_driver_for_each(implemented):
    assert load("traffic/vars/main.yml")["_traffic_lb_types_implemented"] == "{{ canary_lb_types_implemented }}"
    for lb_type in implemented:
        assert (ROLES / "traffic" / "tasks" / f"{lb_type}.yml").is_file(), lb_type
    for lb_type in DECLARED_NOT_IMPLEMENTED:
        assert not (ROLES / "traffic" / "tasks" / f"{lb_type}.yml").exists(), lb_type


def test_split_weights_knows_the_weight_range_of_each_implemented_driver(implemented):
    assert sorted(split_weights.WEIGHT_LIMITS) == sorted(implemented)


def test_split_weights_documents_exactly_the_implemented_drivers(implemented):
    documentation = yaml.safe_load(split_weights.DOCUMENTATION)
    assert sorted(documentation["options"]["lb_type"]["choices"]) == sorted(implemented)
