"""Faults set at run time through HYPERBUN_FAULTS_FILE, on a running instance, without a restart."""

import json
import os
import time

import pytest
from demo_service_helpers import sample
from hyperbun_demo.faultsfile import FaultsFile, parse_file_text

BREAKERS = ["database", "upstream_feed", "cache"]
# The file is checked every 0.2 s; a change must show in answers well within half a second.
TAKES_EFFECT_WITHIN = 0.5


def wait_until(check, timeout=TAKES_EFFECT_WITHIN + 0.5):
    """Seconds until check() is true (polled every 20 ms); fails after timeout."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not true after {timeout} s")
        time.sleep(0.02)
    return time.monotonic() - started


def write_atomically(path, text):
    """As an operator should: a whole file appears at once."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text)
    os.replace(partial, path)


def codes(instance, code):
    return [record for record in instance.records() if record["code"] == code]


@pytest.fixture
def faults_file(tmp_path):
    return tmp_path / "run" / "canary.faults"


def start(service, faults_file, faults=None, **env):
    faults_file.parent.mkdir(exist_ok=True)
    return service(faults, HYPERBUN_FAULTS_FILE=str(faults_file), **env)


# -- the file's text ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "clear", "override", "ignored"),
    [
        (b"", False, {}, []),
        (b"none\n", True, {}, []),
        (b" NONE ", True, {}, []),
        (b"error_rate=0.1,latency_ms=5\n", False, {"error_rate": 0.1, "latency_ms": 5.0}, []),
        (b"error_rate=0.1\nbreaker_trip=cache\n", False, {"error_rate": 0.1, "breaker_trip": "cache"}, []),
        (b"crash_at_start=true,health_fail=1", False, {"health_fail": True}, ["crash_at_start"]),
    ],
)
def test_file_text_is_a_fault_spec_or_none(text, clear, override, ignored):
    reading = parse_file_text(text, BREAKERS)
    assert (reading.present, reading.error) == (True, "")
    assert (reading.clear, reading.override, reading.ignored) == (clear, override, ignored)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"error_rate=2", "between 0 and 1"),
        (b"error_rate", "not name=value"),
        (b"breaker_trip=disk", "unknown circuit breaker 'disk'"),
        (b"\xff\xfe", "not UTF-8"),
        (b"latency_ms=1," * 400, "larger than 4096 bytes"),
    ],
)
def test_invalid_file_text_is_an_error_not_an_exception(text, message):
    reading = parse_file_text(text, BREAKERS)
    assert message in reading.error
    assert reading.override == {}


def test_poll_reads_only_on_change_and_catches_a_same_size_rewrite_in_one_tick(tmp_path):
    path = tmp_path / "f"
    now = {"ns": time.time_ns()}
    watched = FaultsFile(str(path), BREAKERS, wall_clock_ns=lambda: now["ns"])
    assert watched.poll() is None
    path.write_text("error_rate=0.1")
    assert watched.poll().override == {"error_rate": 0.1}
    assert watched.poll() is None
    # A second write of the same size within one timestamp tick leaves the stat unchanged.
    mtime = path.stat().st_mtime_ns
    path.write_text("error_rate=0.2")
    os.utime(path, ns=(mtime, mtime))
    assert watched.poll().override == {"error_rate": 0.2}
    assert watched.poll() is None
    # Long after its last change, an unchanged stat means an unchanged file: it is not read at all.
    now["ns"] += 10**10
    path.chmod(0)
    assert watched.poll() is None
    path.chmod(0o644)
    path.unlink()
    assert watched.poll().present is False
    assert watched.poll() is None


# -- a running instance ------------------------------------------------------------------------------------------


def test_file_faults_take_effect_over_the_instance_faults_and_go_when_removed(service, faults_file):
    instance = start(service, faults_file, "breaker_trip=cache")
    assert instance.get("/health")[0] == 200
    faults_file.write_text("error_rate=0.5,health_fail=true\n")
    assert wait_until(lambda: instance.get("/health")[0] == 503) <= TAKES_EFFECT_WITHIN
    answers = [instance.get("/api/query?q=eth") for _request in range(20)]
    assert sorted(status for status, _body in answers) == [200] * 10 + [500] * 10
    # Key by key: the instance's own fault stays in force beside the file's.
    assert {tuple(json.loads(body)["degraded"]) for status, body in answers if status == 200} == {("cache",)}

    faults_file.unlink()
    assert wait_until(lambda: instance.get("/health")[0] == 200) <= TAKES_EFFECT_WITHIN
    assert [instance.get("/api/markets")[0] for _request in range(10)] == [200] * 10
    assert sample(instance.metrics(), "circuit_breaker_tripped", breaker="cache") == 1
    changes = codes(instance, "FAULTS_CHANGED")
    assert [(r["faults"], r["previous"], r["from_file"]) for r in changes] == [
        ("breaker_trip=cache,error_rate=0.5,health_fail=true", "breaker_trip=cache", True),
        ("breaker_trip=cache", "breaker_trip=cache,error_rate=0.5,health_fail=true", False),
    ]
    assert {r["level"] for r in changes} == {"INFO"}
    assert instance.proc.poll() is None


def test_file_latency_and_breaker_trip_start_and_end_at_run_time(service, faults_file):
    instance = start(service, faults_file)
    write_atomically(faults_file, "latency_ms=120,breaker_trip=database")

    def slow_and_degraded():
        started = time.monotonic()
        status, body = instance.get("/api/graph")
        return status == 200 and json.loads(body)["degraded"] == ["database"] and time.monotonic() - started >= 0.12

    assert wait_until(slow_and_degraded) <= TAKES_EFFECT_WITHIN + 0.12
    samples = instance.metrics()
    assert sample(samples, "circuit_breaker_tripped", breaker="database") == 1
    assert sample(samples, "circuit_breaker_trips_total", breaker="database") == 1

    write_atomically(faults_file, "none")
    wait_until(lambda: json.loads(instance.get("/api/graph")[1])["degraded"] == [])
    started = time.monotonic()
    assert instance.get("/api/markets")[0] == 200
    assert time.monotonic() - started < 0.12
    assert sample(instance.metrics(), "circuit_breaker_tripped", breaker="database") == 0
    assert [r["breaker"] for r in codes(instance, "BREAKER_OPEN")] == ["database"]
    assert [r["breaker"] for r in codes(instance, "BREAKER_CLOSED")] == ["database"]


def test_invalid_file_is_logged_once_and_ignored_and_the_service_keeps_serving(service, faults_file):
    instance = start(service, faults_file)
    faults_file.write_text("error_rate=0.5")
    wait_until(lambda: len(codes(instance, "FAULTS_CHANGED")) == 1)
    faults_file.write_text("error_rate=5")
    assert wait_until(lambda: codes(instance, "FAULTS_FILE_INVALID")) <= TAKES_EFFECT_WITHIN
    time.sleep(0.45)
    invalid = codes(instance, "FAULTS_FILE_INVALID")
    assert len(invalid) == 1
    assert invalid[0]["level"] == "ERROR" and "expected a share between 0 and 1" in invalid[0]["msg"]
    # The faults in force before the bad write stay in force.
    assert sorted(instance.get("/api/markets")[0] for _request in range(10)) == [200] * 5 + [500] * 5
    faults_file.write_bytes(b"health_fail=\xff")
    wait_until(lambda: len(codes(instance, "FAULTS_FILE_INVALID")) == 2)
    assert instance.get("/health")[0] == 200
    assert sample(instance.metrics(), "hyperbun_log_errors_total", code="FAULTS_FILE_INVALID") == 2
    assert len(codes(instance, "FAULTS_CHANGED")) == 1
    returncode, stderr = instance.stop()
    assert returncode == 0 and "Traceback" not in stderr


def test_crash_at_start_in_the_file_is_ignored_with_a_warning(service, faults_file):
    faults_file.parent.mkdir()
    faults_file.write_text("crash_at_start=true,health_fail=true")
    instance = start(service, faults_file)
    assert instance.get("/health")[0] == 503
    ignored = codes(instance, "FAULTS_FILE_IGNORED")
    assert [(r["level"], r["fault"]) for r in ignored] == [("WARN", "crash_at_start")]
    assert codes(instance, "STARTED")[0]["faults"] == "health_fail=true"
    assert not [r for r in instance.records() if r["level"] == "FATAL"]
    assert instance.proc.poll() is None


def test_memory_growth_from_the_file_grows_from_that_moment(service, faults_file):
    instance = start(service, faults_file)
    time.sleep(1.0)
    before = sample(instance.metrics(), "memory_usage_bytes")
    faults_file.write_text("memory_growth_mb_per_min=3000")
    wait_until(lambda: codes(instance, "FAULTS_CHANGED"))
    # A tick of the growth later: 50 MiB/s counted from the service's start would be over 80 MiB by now.
    time.sleep(0.3)
    assert sample(instance.metrics(), "memory_usage_bytes") - before < 35 * 1024 * 1024
    time.sleep(0.5)
    assert sample(instance.metrics(), "memory_usage_bytes") - before >= 25 * 1024 * 1024
    faults_file.unlink()
    wait_until(lambda: len(codes(instance, "FAULTS_CHANGED")) == 2)
    time.sleep(0.3)
    stopped = sample(instance.metrics(), "memory_usage_bytes")
    time.sleep(0.6)
    assert sample(instance.metrics(), "memory_usage_bytes") - stopped < 8 * 1024 * 1024


def test_relative_faults_file_path_is_refused_with_one_line(service):
    instance = service(HYPERBUN_FAULTS_FILE="canary.faults")
    returncode, stderr = instance.stop()
    assert returncode == 2
    assert stderr.strip().splitlines() == [
        "hyperbun-demo: refusing to start: environment HYPERBUN_FAULTS_FILE='canary.faults': must be an absolute path"
    ]
