"""The demo service as its users see it: a release archive, a process, HTTP answers, metrics and logs."""

import concurrent.futures
import hashlib
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import threading
import time

import pytest
import yaml
from demo_service_helpers import build_release, extract, http_get, sample

REQUIRED_FAMILIES = {
    "hyperbun_http_requests": "counter",
    "hyperbun_http_request_duration_seconds": "histogram",
    "hyperbun_log_errors": "counter",
    "rate_limit_rejected": "counter",
    "rate_limit_allowed": "counter",
    "circuit_breaker_tripped": "gauge",
    "circuit_breaker_trips": "counter",
    "memory_usage_bytes": "gauge",
    "memory_limit_bytes": "gauge",
    "graph_build_duration_seconds": "histogram",
    "query_timeouts": "counter",
    "queries": "counter",
    "hyperbun_build_info": "gauge",
}
SCRIPTS = ("build", "test", "production-hardening-checklist", "test-circuit-breaker")


def run_script(release_dir, name, **env):
    return subprocess.run(
        [sys.executable, str(release_dir / "scripts" / name)], capture_output=True, text=True, timeout=60,
        env=dict(os.environ, **env), check=False,
    )


def statuses(instance, path, count):
    result = {}
    for _request in range(count):
        status = instance.get(path)[0]
        result[status] = result.get(status, 0) + 1
    return result


# -- the release archive ----------------------------------------------------------------------------------------


def test_release_archive_has_the_documented_layout(tmp_path):
    result = build_release("1.4.0", tmp_path)
    assert result.returncode == 0, result.stderr
    archive = tmp_path / "hyperbun-demo-1.4.0.tar.gz"
    assert result.stdout.strip() == str(archive)
    with tarfile.open(archive) as tar:
        members = {member.name: member for member in tar.getmembers()}
        assert {name.split("/")[0] for name in members} == {"hyperbun-demo-1.4.0"}
        top = "hyperbun-demo-1.4.0/"
        for path in ("VERSION", "bin/hyperbun-demo", "hyperbun_demo/app.py", "config/production.yaml",
                     *(f"scripts/{name}" for name in SCRIPTS)):
            assert top + path in members, path
        assert tar.extractfile(top + "VERSION").read() == b"1.4.0\n"
        for path in ("bin/hyperbun-demo", *(f"scripts/{name}" for name in SCRIPTS)):
            member = members[top + path]
            assert member.mode & stat.S_IXUSR, path
            assert tar.extractfile(member).readline() == b"#!/usr/bin/python3\n", path
        config = yaml.safe_load(tar.extractfile(top + "config/production.yaml"))
        assert config["faults"] == {}
        assert not [name for name in members if "__pycache__" in name]


def test_same_version_builds_the_same_archive(tmp_path):
    digests = []
    for attempt in ("one", "two"):
        assert build_release("2.0.0", tmp_path / attempt, faults="latency_ms=5").returncode == 0
        digests.append(hashlib.sha256((tmp_path / attempt / "hyperbun-demo-2.0.0.tar.gz").read_bytes()).hexdigest())
        time.sleep(1.1)
    assert digests[0] == digests[1]


def test_builds_side_by_side_into_one_directory_leave_one_whole_archive(tmp_path):
    # Two Molecule scenarios converging at once build the same releases into the same directory.
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: build_release("2.1.0", tmp_path), range(4)))
    assert [result.returncode for result in results] == [0] * 4, [result.stderr for result in results]
    assert [path.name for path in tmp_path.iterdir()] == ["hyperbun-demo-2.1.0.tar.gz"]
    with tarfile.open(tmp_path / "hyperbun-demo-2.1.0.tar.gz") as tar:
        assert "hyperbun-demo-2.1.0/VERSION" in tar.getnames()


def test_faults_are_built_into_the_release_config(tmp_path):
    result = build_release("3.0.0", tmp_path, faults="error_rate=0.05, breaker_trip=cache,health_fail=true")
    assert result.returncode == 0, result.stderr
    release_dir = extract(tmp_path / "hyperbun-demo-3.0.0.tar.gz", tmp_path / "x")
    config = yaml.safe_load((release_dir / "config" / "production.yaml").read_text())
    assert config["faults"] == {"error_rate": 0.05, "breaker_trip": "cache", "health_fail": True}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"version": "1.0.0", "faults": "error_rate=2"}, "error_rate: expected a share between 0 and 1"),
        ({"version": "1.0.0", "faults": "no_such_fault=1"}, "unknown fault 'no_such_fault'"),
        ({"version": "1.0.0", "faults": "breaker_trip=nope"}, "unknown circuit breaker 'nope'"),
        ({"version": "one", "faults": None}, "is not a version"),
    ],
)
def test_build_release_refuses_bad_input_and_writes_nothing(tmp_path, args, message):
    out = tmp_path / "out"
    result = build_release(args["version"], out, faults=args["faults"])
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or not list(out.iterdir())


def test_release_scripts_pass_on_a_good_release(release, tmp_path):
    release_dir = tmp_path / "good"
    shutil.copytree(release, release_dir)
    for name in SCRIPTS:
        result = run_script(release_dir, name, NODE_ENV="production")
        assert result.returncode == 0, f"{name}: {result.stdout}{result.stderr}"
        assert "❌" not in result.stdout
        if name != "build":
            assert "✅" in result.stdout
    info = json.loads((release_dir / "BUILD_INFO").read_text())
    assert info["version"] == "9.8.7"
    assert info["built_at"].endswith("Z")
    assert list((release_dir / "hyperbun_demo" / "__pycache__").glob("app.*.pyc"))


@pytest.mark.parametrize("broken", ["rate_limit: [5000\n", "faults:\n  error_rate: 7\n"])
def test_release_scripts_fail_on_a_broken_config(release, tmp_path, broken):
    release_dir = tmp_path / "broken"
    shutil.copytree(release, release_dir)
    (release_dir / "config" / "production.yaml").write_text("---\n" + broken)
    for name in SCRIPTS:
        result = run_script(release_dir, name)
        assert result.returncode != 0, name
        assert "production.yaml" in result.stdout, name
        assert "Traceback" not in result.stdout + result.stderr, name
    assert not (release_dir / "BUILD_INFO").exists()


# -- the running service ------------------------------------------------------------------------------------------


def test_endpoints_answer_and_metrics_follow_the_contract(service):
    instance = service(CANARY_PERCENTAGE="5")
    status, body = instance.get("/health")
    assert status == 200
    health = json.loads(body)
    assert health["status"] == "ok" and health["version"] == "9.8.7" and health["instance"] == "canary"
    assert health["uptime_seconds"] >= 0
    status, body = instance.get("/")
    assert status == 200
    assert json.loads(body)["service"] == "hyperbun-demo"
    status, body = instance.get("/api/graph")
    assert status == 200 and json.loads(body)["graph"]["nodes"] == 100
    status, body = instance.get("/api/query?q=eth")
    assert status == 200 and {m["name"] for m in json.loads(body)["results"]} == {"ETH/USD", "ETH/EUR", "ETH/GBP"}
    assert instance.get("/api/markets")[0] == 200
    assert instance.get("/api/markets?x=1")[0] == 200
    assert instance.get("/nope")[0] == 404

    from prometheus_client.parser import text_string_to_metric_families

    text = http_get(instance.port, "/metrics")[1]
    families = {family.name: family for family in text_string_to_metric_families(text)}
    for name, kind in REQUIRED_FAMILIES.items():
        assert name in families, name
        assert families[name].type == kind, name
    samples = instance.metrics()
    assert sample(samples, "hyperbun_http_requests_total", method="GET", path="/api/markets", status="200") == 2
    assert sample(samples, "hyperbun_http_requests_total", method="GET", path="other", status="404") == 1
    assert not [key for key in samples if ("path", "/metrics") in key[1]]
    assert sample(samples, "hyperbun_http_request_duration_seconds_count", path="/api/graph") == 1
    assert sample(samples, "hyperbun_build_info", version="9.8.7", instance="canary", node_env="production") == 1
    assert sample(samples, "memory_limit_bytes") == 1024 * 1024 * 1024
    assert 5 * 1024 * 1024 < sample(samples, "memory_usage_bytes") < 1024 * 1024 * 1024
    for breaker in ("database", "upstream_feed", "cache"):
        assert sample(samples, "circuit_breaker_tripped", breaker=breaker) == 0
        assert sample(samples, "circuit_breaker_trips_total", breaker=breaker) == 0
    assert sample(samples, "graph_build_duration_seconds_count") == 1
    assert sample(samples, "queries_total") == 1
    assert sample(samples, "query_timeouts_total") == 0
    assert sample(samples, "rate_limit_allowed_total") == 4
    assert sample(samples, "rate_limit_rejected_total") == 0
    assert sample(samples, "hyperbun_log_errors_total", code="REQUEST_FAILED") == 0


def test_head_is_answered_like_get_and_other_methods_get_405(service):
    import urllib.request

    instance = service()
    for method, status in (("HEAD", 200), ("POST", 405), ("DELETE", 405)):
        request = urllib.request.Request(f"http://127.0.0.1:{instance.port}/health", method=method)
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                got, body = response.status, response.read()
        except urllib.error.HTTPError as exc:
            got, body = exc.code, b""
        assert got == status, method
        if method == "HEAD":
            assert body == b""
    samples = instance.metrics()
    assert sample(samples, "hyperbun_http_requests_total", method="HEAD", path="/health", status="200") == 1
    assert sample(samples, "hyperbun_http_requests_total", method="POST", path="/health", status="405") == 1


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_metrics_are_also_served_on_metrics_port(service):
    # Another process may take the probed port before the service binds it: try a few.
    for _attempt in range(3):
        free_port = _free_port()
        instance = service(METRICS_PORT=str(free_port))
        if instance.metrics_port == free_port:
            break
    assert instance.metrics_port == free_port != instance.port
    instance.get("/health")
    assert sample(instance.metrics(), "hyperbun_http_requests_total", method="GET", path="/health", status="200") == 1
    assert http_get(instance.port, "/metrics")[0] == 200
    assert http_get(free_port, "/health")[0] == 404


def test_taken_metrics_port_leaves_metrics_on_the_main_port(service):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        instance = service(METRICS_PORT=str(taken.getsockname()[1]))
        assert instance.metrics_port == instance.port
        assert http_get(instance.port, "/metrics")[0] == 200
        warnings = [r for r in instance.records() if r["code"] == "METRICS_PORT_UNAVAILABLE"]
        assert len(warnings) == 1 and warnings[0]["level"] == "WARN"


def test_healthy_graph_builds_stay_under_five_ms_at_p95(service):
    instance = service()
    assert statuses(instance, "/api/graph", 40) == {200: 40}
    samples = instance.metrics()
    total = sample(samples, "graph_build_duration_seconds_count")
    assert total == 40
    assert sample(samples, "graph_build_duration_seconds_bucket", le="0.005") >= 0.95 * total


def test_error_rate_fault_fails_that_share_and_logs_errors(service):
    instance = service("error_rate=0.25")
    counts = statuses(instance, "/api/markets", 400)
    assert 80 <= counts.get(500, 0) <= 120
    assert counts[200] + counts[500] == 400
    samples = instance.metrics()
    assert sample(samples, "hyperbun_log_errors_total", code="REQUEST_FAILED") == counts[500]
    failed = sample(samples, "hyperbun_http_requests_total", method="GET", path="/api/markets", status="500")
    assert failed == counts[500]
    errors = [r for r in instance.records() if r["level"] == "ERROR"]
    assert len(errors) == counts[500]
    assert {r["code"] for r in errors} == {"REQUEST_FAILED"}


def test_latency_fault_adds_to_every_api_request(service):
    instance = service("latency_ms=150")
    for _request in range(3):
        started = time.monotonic()
        assert instance.get("/api/markets")[0] == 200
        assert time.monotonic() - started >= 0.15
    started = time.monotonic()
    assert instance.get("/health")[0] == 200
    assert time.monotonic() - started < 0.15
    samples = instance.metrics()
    assert sample(samples, "hyperbun_http_request_duration_seconds_bucket", path="/api/markets", le="0.1") == 0
    assert sample(samples, "hyperbun_http_request_duration_seconds_bucket", path="/api/markets", le="0.25") == 3


def test_rate_limit_reject_fault_answers_429_and_counts_rejections(service):
    instance = service("rate_limit_reject=0.3")
    counts = statuses(instance, "/api/graph", 200)
    assert 40 <= counts.get(429, 0) <= 80
    samples = instance.metrics()
    assert sample(samples, "rate_limit_rejected_total") == counts[429]
    assert sample(samples, "rate_limit_allowed_total") == counts[200]


def test_token_bucket_from_config_limits_bursts(service, tmp_path):
    config = tmp_path / "tight.yaml"
    config.write_text("---\nrate_limit:\n  requests_per_second: 0.5\n  burst: 5\n")
    instance = service(HYPERBUN_CONFIG=str(config))
    counts = statuses(instance, "/api/markets", 12)
    assert counts == {200: 5, 429: 7}
    assert instance.get("/health")[0] == 200
    assert sample(instance.metrics(), "rate_limit_rejected_total") == 7


def test_breaker_trip_fault_opens_that_breaker_and_keeps_it_open(service):
    instance = service("breaker_trip=database")
    status, body = instance.get("/api/graph")
    assert status == 200 and json.loads(body)["degraded"] == ["database"]
    samples = instance.metrics()
    assert sample(samples, "circuit_breaker_tripped", breaker="database") == 1
    assert sample(samples, "circuit_breaker_tripped", breaker="cache") == 0
    assert sample(samples, "circuit_breaker_trips_total", breaker="database") == 1
    assert [r["breaker"] for r in instance.records() if r["code"] == "BREAKER_OPEN"] == ["database"]


def test_crash_at_start_fault_exits_1_with_a_fatal_line(service):
    instance = service("crash_at_start=true")
    returncode, stderr = instance.stop()
    assert returncode == 1
    assert "FATAL" in stderr and "Traceback" not in stderr
    assert [r["code"] for r in instance.records() if r["level"] == "FATAL"] == ["CRASH_AT_START"]


def test_health_fail_fault_answers_503(service):
    instance = service("health_fail=1")
    status, body = instance.get("/health")
    assert status == 503
    assert json.loads(body)["status"] == "unhealthy"
    assert instance.get("/api/markets")[0] == 200


def test_graph_build_fault_slows_graph_builds(service):
    instance = service("graph_build_ms=25")
    assert statuses(instance, "/api/graph", 5) == {200: 5}
    samples = instance.metrics()
    assert sample(samples, "graph_build_duration_seconds_count") == 5
    assert sample(samples, "graph_build_duration_seconds_bucket", le="0.02") == 0
    assert sample(samples, "graph_build_duration_seconds_sum") >= 5 * 0.025


def test_query_timeout_fault_answers_504_and_logs_query_timeout(service):
    instance = service("query_timeout_rate=0.2")
    counts = statuses(instance, "/api/query?q=btc", 100)
    assert 10 <= counts.get(504, 0) <= 30
    samples = instance.metrics()
    assert sample(samples, "queries_total") == 100
    assert sample(samples, "query_timeouts_total") == counts[504]
    assert sample(samples, "hyperbun_log_errors_total", code="QUERY_TIMEOUT") == counts[504]
    assert len([r for r in instance.records() if r["code"] == "QUERY_TIMEOUT" and r["level"] == "ERROR"]) == counts[504]


def test_memory_growth_fault_shows_in_memory_usage(service):
    instance = service("memory_growth_mb_per_min=1800")
    before = sample(instance.metrics(), "memory_usage_bytes")
    time.sleep(1.5)
    after = sample(instance.metrics(), "memory_usage_bytes")
    assert after - before >= 20 * 1024 * 1024


def test_per_instance_faults_override_the_release(service, tmp_path):
    assert build_release("5.0.0", tmp_path, faults="error_rate=1").returncode == 0
    faulty = extract(tmp_path / "hyperbun-demo-5.0.0.tar.gz", tmp_path / "x")
    assert service(release_dir=faulty).get("/api/markets")[0] == 500
    assert service("none", release_dir=faulty).get("/api/markets")[0] == 200


@pytest.mark.parametrize(
    ("config_text", "env", "message"),
    [
        ("---\nrate_limit: [5000\n", {}, "YAML parse error (line 3, column 1)"),
        ("---\nrate_limit:\n  burst: -1\n", {}, "rate_limit.burst must be > 0"),
        ("---\n", {"HYPERBUN_FAULTS": "error_rate"}, "HYPERBUN_FAULTS='error_rate': fault spec item 'error_rate'"),
    ],
)
def test_refuses_to_start_on_bad_config_with_one_clear_line(service, tmp_path, config_text, env, message):
    config = tmp_path / "bad.yaml"
    config.write_text(config_text)
    instance = service(HYPERBUN_CONFIG=str(config), **env)
    returncode, stderr = instance.stop()
    assert returncode == 2
    assert len(stderr.strip().splitlines()) == 1
    assert message in stderr
    if not env:
        assert str(config) in stderr
    assert "Traceback" not in stderr


def test_log_lines_are_json_with_level_and_code_filtered_by_log_level(service):
    quiet = service("error_rate=0.5", LOG_LEVEL="ERROR")
    statuses(quiet, "/api/markets", 4)
    records = quiet.records()
    assert [r["level"] for r in records] == ["ERROR", "ERROR"]
    chatty = service(LOG_LEVEL="DEBUG")
    chatty.get("/api/markets")
    chatty.stop()
    records = chatty.records()
    for record in records:
        assert {"ts", "level", "code", "msg", "version", "instance"} <= set(record)
        assert record["ts"].endswith("Z") and record["version"] == "9.8.7" and record["instance"] == "canary"
    codes = [r["code"] for r in records]
    assert codes[0] == "STARTED" and codes[-1] == "SHUTDOWN" and "REQUEST" in codes
    assert {path.name for path in chatty.log_dir.iterdir()} == {time.strftime("hyper-bun-%Y-%m-%d.log", time.gmtime())}


def test_sigterm_finishes_in_flight_requests_and_exits_0(service):
    instance = service("latency_ms=400")
    answers = []
    clients = [threading.Thread(target=lambda: answers.append(instance.get("/api/markets")[0])) for _client in range(3)]
    for client in clients:
        client.start()
    time.sleep(0.15)
    instance.proc.send_signal(signal.SIGTERM)
    for client in clients:
        client.join(10)
    returncode, stderr = instance.stop()
    assert answers == [200, 200, 200]
    assert returncode == 0
    assert "Traceback" not in stderr
    assert instance.records()[-1]["code"] == "SHUTDOWN"
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", instance.port), timeout=2):
        pass
