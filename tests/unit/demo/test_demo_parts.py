"""The demo service's pure parts: fault specs, configuration, cgroup limits, rate limiting, breakers."""

from pathlib import Path

import pytest
import yaml
from hyperbun_demo.breaker import CLOSED, OPEN, BreakerOpenError, CircuitBreaker
from hyperbun_demo.config import (
    ConfigError,
    _cgroup_memory_limit,
    load_settings,
    memory_limit,
    merge_faults,
    parse_config_text,
)
from hyperbun_demo.faults import FaultError, parse_fault_spec, render_yaml_section, validate_fault_mapping
from hyperbun_demo.ratelimit import EvenShare, TokenBucket
from hypothesis import given
from hypothesis import strategies as st

BREAKERS = ["database", "upstream_feed", "cache"]
SERVICE_CONFIG = Path(__file__).resolve().parents[3] / "demo" / "service" / "config" / "production.yaml"


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("", {}),
        ("error_rate=0.05", {"error_rate": 0.05}),
        (" latency_ms = 20 , crash_at_start=yes,", {"latency_ms": 20.0, "crash_at_start": True}),
        ("health_fail=off,breaker_trip=cache", {"health_fail": False, "breaker_trip": "cache"}),
        (
            "memory_growth_mb_per_min=12.5,query_timeout_rate=1",
            {"memory_growth_mb_per_min": 12.5, "query_timeout_rate": 1.0},
        ),
    ],
)
def test_fault_spec_parses(spec, expected):
    assert parse_fault_spec(spec, BREAKERS) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("error_rate=1.5", "between 0 and 1"),
        ("latency_ms=-1", ">= 0"),
        ("latency_ms=nan", "finite number"),
        ("crash_at_start=maybe", "true or false"),
        ("breaker_trip=disk", "unknown circuit breaker 'disk'"),
        ("error_rate", "not name=value"),
        ("error_rate=0.1,error_rate=0.2", "given twice"),
        ("leak=1", "unknown fault 'leak'"),
    ],
)
def test_bad_fault_spec_names_the_problem(spec, message):
    with pytest.raises(FaultError, match=message.replace("(", r"\(")):
        parse_fault_spec(spec, BREAKERS)


fault_values = st.fixed_dictionaries(
    {},
    optional={
        "error_rate": st.floats(0, 1),
        "rate_limit_reject": st.floats(0, 1),
        "query_timeout_rate": st.floats(0, 1),
        "latency_ms": st.floats(0, 1e6),
        "graph_build_ms": st.floats(0, 1e6),
        "memory_growth_mb_per_min": st.floats(0, 1e6),
        "crash_at_start": st.booleans(),
        "health_fail": st.booleans(),
        "breaker_trip": st.sampled_from(BREAKERS),
    },
)


@given(fault_values)
def test_rendered_fault_section_reads_back_the_same(faults):
    section = yaml.safe_load(render_yaml_section(faults))["faults"]
    assert validate_fault_mapping(section, BREAKERS) == faults


def test_instance_faults_override_key_by_key():
    release = {"error_rate": 0.5, "latency_ms": 10.0}
    assert merge_faults(release, None, BREAKERS) == release
    assert merge_faults(release, "  ", BREAKERS) == release
    assert merge_faults(release, "none", BREAKERS) == {}
    assert merge_faults(release, "error_rate=0", BREAKERS) == {"error_rate": 0.0, "latency_ms": 10.0}


def test_empty_config_takes_defaults():
    config = parse_config_text("---\n", "c.yaml")
    assert (config.rate_limit_rps, config.rate_limit_burst) == (5000.0, 10000.0)
    assert config.breaker_names == BREAKERS
    assert config.memory_limit_bytes == 512 * 1024 * 1024
    assert config.faults == {}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n", "top level must be a mapping"),
        ("graph:\n  nodes: 0\n", "graph.nodes must be > 0"),
        ("graph:\n  nodes: 1.5\n", "graph.nodes must be an integer"),
        ("rate_limit:\n  rps: 5\n", "unknown key"),
        ("circuit_breakers:\n  names: [a, a]\n", "duplicates"),
        ("memory_limit_bytes: true\n", "must be a number"),
        ("faults: [error_rate]\n", "faults must be a mapping"),
        ("faults:\n  breaker_trip: disk\n", "unknown circuit breaker"),
    ],
)
def test_bad_config_names_file_and_problem(text, message):
    with pytest.raises(ConfigError, match=message) as caught:
        parse_config_text(text, "/etc/hyperbun/c.yaml")
    assert str(caught.value).startswith("/etc/hyperbun/c.yaml: ")


def _cgroup_tree(tmp_path, proc_lines, files):
    proc = tmp_path / "cgroup"
    proc.write_text("\n".join(proc_lines) + "\n")
    for relative, content in files.items():
        path = tmp_path / "sys" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content + "\n")
    return str(proc), str(tmp_path / "sys")


@pytest.mark.parametrize(
    ("proc_lines", "files", "expected"),
    [
        (["0::/system.slice/hb.service"], {"system.slice/hb.service/memory.max": "268435456"}, 268435456),
        (["0::/system.slice/hb.service"], {"system.slice/hb.service/memory.max": "max"}, None),
        (
            ["5:memory:/system.slice/hb.service", "0::/system.slice/hb.service"],
            {"memory/system.slice/hb.service/memory.limit_in_bytes": "134217728"},
            134217728,
        ),
        (["5:memory:/", "1:name=systemd:/"], {"memory/memory.limit_in_bytes": "9223372036854771712"}, None),
        (["0::/missing"], {}, None),
    ],
)
def test_cgroup_memory_limit_of_own_cgroup(tmp_path, proc_lines, files, expected):
    proc, root = _cgroup_tree(tmp_path, proc_lines, files)
    assert _cgroup_memory_limit(proc, root) == expected


def test_memory_limit_from_environment_wins():
    config = parse_config_text("memory_limit_bytes: 1000000\n", "c.yaml")
    assert memory_limit({"HYPERBUN_MEMORY_LIMIT_BYTES": "2000000"}, config) == (2000000, "environment")
    with pytest.raises(ConfigError, match="not an integer"):
        memory_limit({"HYPERBUN_MEMORY_LIMIT_BYTES": "2G"}, config)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_token_bucket_allows_burst_then_refills_at_rate():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert [bucket.allow() for _call in range(4)] == [True, True, True, False]
    clock.now += 0.1
    assert [bucket.allow() for _call in range(2)] == [True, False]
    clock.now += 100
    assert sum(bucket.allow() for _call in range(10)) == 3


@pytest.mark.parametrize(("share", "events", "hits"), [(0.0, 100, 0), (0.01, 1000, 10), (0.25, 400, 100), (1.0, 7, 7)])
def test_even_share_selects_that_share(share, events, hits):
    selector = EvenShare(share)
    assert sum(selector.hit() for _call in range(events)) == hits


def test_breaker_opens_after_threshold_and_rejects():
    changes = []
    breaker = CircuitBreaker(
        "db", failure_threshold=2, reset_timeout=5, on_change=lambda _breaker, _old, new: changes.append(new)
    )

    def failing():
        raise OSError("down")

    for _call in range(2):
        with pytest.raises(OSError):
            breaker.call(failing)
    assert breaker.state == OPEN and changes == [OPEN]
    with pytest.raises(BreakerOpenError):
        breaker.call(lambda: None)
    assert breaker.trips == 1 and breaker.state != CLOSED


def test_release_config_renders_faults_without_pyyaml(monkeypatch):
    from hyperbun_demo import config as config_module
    from hyperbun_demo.release import render_config

    template = (SERVICE_CONFIG).read_text()
    with_yaml = render_config(template, "error_rate=0.1,breaker_trip=cache", "production.yaml")
    monkeypatch.setattr(config_module, "yaml", None)
    assert render_config(template, "error_rate=0.1,breaker_trip=cache", "production.yaml") == with_yaml
    with pytest.raises(FaultError, match="unknown circuit breaker"):
        render_config(template, "breaker_trip=disk", "production.yaml")
    with pytest.raises(ConfigError, match="PyYAML is not installed"):
        parse_config_text("---\n", "production.yaml")


@pytest.mark.parametrize(
    ("config_text", "env", "message"),
    [
        ("faults:\n  latency_ms: slow\n", {}, "fault latency_ms: expected a number"),
        ("unknown_key: 1\n", {}, "unknown key(s): unknown_key"),
        ("", {"LOG_LEVEL": "chatty"}, "LOG_LEVEL='chatty'"),
        ("", {"PORT": "http"}, "PORT='http': not a port number"),
        ("", {"METRICS_PORT": "70000"}, "METRICS_PORT='70000': port out of range"),
        ("", {"HYPERBUN_FAULTS": "breaker_trip=disk"}, "unknown circuit breaker 'disk'"),
    ],
)
def test_settings_refuse_bad_config_and_environment(tmp_path, config_text, env, message):
    config = tmp_path / "c.yaml"
    config.write_text(config_text)
    with pytest.raises(ConfigError) as caught:
        load_settings(str(tmp_path), {"HYPERBUN_CONFIG": str(config), **env})
    assert message in str(caught.value)


def test_settings_take_the_guide_environment(tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("faults:\n  latency_ms: 5\n")
    (tmp_path / "VERSION").write_text("1.2.3\n")
    env = {
        "HYPERBUN_CONFIG": str(config), "PORT": "3001", "METRICS_PORT": "", "LOG_LEVEL": "warning",
        "NODE_ENV": "production", "CANARY_PERCENTAGE": "5", "HYPERBUN_MEMORY_LIMIT_BYTES": "268435456",
    }
    settings = load_settings(str(tmp_path), env)
    assert (settings.version, settings.port, settings.metrics_port, settings.log_level) == ("1.2.3", 3001, 3001, "WARN")
    assert (settings.instance, settings.bind, settings.log_dir) == ("production", "0.0.0.0", str(tmp_path / "logs"))
    assert settings.faults == {"latency_ms": 5.0}
    assert (settings.memory_limit_bytes, settings.memory_limit_source) == (268435456, "environment")
