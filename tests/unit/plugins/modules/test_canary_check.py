# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils import _judge_params
from ansible_collections.hyperbun.canary.plugins.modules import canary_check

# Two scrapes of the demo service's names: 0.02 % errors, nothing else wrong.
FIRST = """# TYPE hyperbun_http_requests_total counter
hyperbun_http_requests_total{method="GET",path="/api",status="200"} 10000
# TYPE hyperbun_log_errors_total counter
hyperbun_log_errors_total{code="QUERY_TIMEOUT"} %(errors_1)s
# TYPE rate_limit_rejected_total counter
rate_limit_rejected_total 0
# TYPE rate_limit_allowed_total counter
rate_limit_allowed_total 10000
# TYPE memory_usage_bytes gauge
memory_usage_bytes %(memory)s
# TYPE memory_limit_bytes gauge
memory_limit_bytes 1000
# TYPE circuit_breaker_tripped gauge
circuit_breaker_tripped{breaker="db"} 0
# TYPE queries_total counter
queries_total 10000
# TYPE query_timeouts_total counter
query_timeouts_total 0
# TYPE graph_build_duration_seconds histogram
graph_build_duration_seconds_bucket{le="0.001"} 900
graph_build_duration_seconds_bucket{le="0.005"} 1000
graph_build_duration_seconds_bucket{le="+Inf"} 1000
"""
SECOND = """# TYPE hyperbun_http_requests_total counter
hyperbun_http_requests_total{method="GET",path="/api",status="200"} 20000
# TYPE hyperbun_log_errors_total counter
hyperbun_log_errors_total{code="QUERY_TIMEOUT"} %(errors_2)s
# TYPE rate_limit_rejected_total counter
rate_limit_rejected_total 10
# TYPE rate_limit_allowed_total counter
rate_limit_allowed_total 19990
# TYPE memory_usage_bytes gauge
memory_usage_bytes %(memory)s
# TYPE memory_limit_bytes gauge
memory_limit_bytes 1000
# TYPE circuit_breaker_tripped gauge
circuit_breaker_tripped{breaker="db"} 0
# TYPE queries_total counter
queries_total 20000
# TYPE query_timeouts_total counter
query_timeouts_total 5
# TYPE graph_build_duration_seconds histogram
graph_build_duration_seconds_bucket{le="0.001"} 1800
graph_build_duration_seconds_bucket{le="0.005"} 1990
graph_build_duration_seconds_bucket{le="+Inf"} 2000
"""


def serve_two_scrapes(server, path="/metrics", errors=(1, 3), memory=400):
    values = dict(errors_1=errors[0], errors_2=errors[1], memory=memory)
    answers = [FIRST % values, SECOND % values]
    server.serve(path, lambda handler: answers.pop(0) if len(answers) > 1 else answers[0])


def args(server, **extra):
    result = dict(metrics_url=server.url(), interval=0.05, retries=0, criteria=ONE_SHOT)
    result.update(extra)
    return result


# A one-shot check of two samples cannot fit the leak's line, and has no Prometheus here.
ONE_SHOT = {"critical_alerts": {"enabled": False}, "memory_growth": {"enabled": False}}


def test_a_good_canary_passes_and_returns_every_value(server, run_module):
    serve_two_scrapes(server)
    failed, result = run_module(canary_check, args(server))
    assert not failed, result["msg"]
    assert result["verdict"] == "pass" and result["changed"] is False
    values = {r["name"]: (r["outcome"], r["value"]) for r in result["results"]}
    assert values["error_rate"] == ("pass", pytest.approx(0.02))
    assert values["memory_usage"] == ("pass", pytest.approx(40.0))
    assert set(values) == {"error_rate", "memory_usage", "rate_limit_rejections",
                           "circuit_breaker_tripped", "graph_build_p95", "query_timeout_rate"}
    assert len(server.requests) == 2


def test_two_samples_leave_the_leak_inconclusive_and_the_check_does_not_pass(server, run_module):
    serve_two_scrapes(server)
    failed, result = run_module(canary_check, args(server, criteria={"critical_alerts": {"enabled": False}}))
    growth = next(r for r in result["results"] if r["name"] == "memory_growth")
    assert failed and result["verdict"] == "inconclusive" and result["failed_criteria"] == ["memory_growth"]
    assert growth["outcome"] == "inconclusive" and "2 sample(s) of 10 needed" in growth["message"]


def test_enough_samples_judge_the_memory_leak(server, run_module):
    scrapes = iter(range(100))

    def growing(handler):
        i = next(scrapes)
        return (SECOND % dict(errors_2=3, memory=400 + 20 * i)).replace(" 20000\n", f" {20000 + 1000 * i}\n")

    server.serve("/metrics", growing)
    criteria = {"critical_alerts": {"enabled": False}}
    failed, result = run_module(canary_check, args(server, samples=10, interval="0.02s", criteria=criteria))
    growth = next(r for r in result["results"] if r["name"] == "memory_growth")
    # 2 % of the limit every 0.02 s or so: projected a week ahead, far beyond the limit.
    assert growth["outcome"] == "fail" and failed and growth["value"] > 100
    assert len(server.requests) == 10


def test_a_breach_fails_the_task_naming_criterion_value_threshold_and_source(server, run_module):
    serve_two_scrapes(server, errors=(1, 251))
    failed, result = run_module(canary_check, args(server))
    assert failed and result["verdict"] == "fail" and result["failed_criteria"] == ["error_rate"]
    assert "error_rate = 2.5 percent > threshold 1" in result["msg"]
    assert "hyperbun_log_errors_total" in result["msg"]


def test_between_alert_and_success_thresholds(server, run_module):
    serve_two_scrapes(server, errors=(1, 71))  # 0.7 %
    failed, result = run_module(canary_check, args(server))
    assert failed and "success criterion < 0.5" in result["msg"]
    serve_two_scrapes(server, errors=(1, 71))
    failed, result = run_module(canary_check, args(server, success_thresholds=False))
    assert not failed


def test_relative_to_the_production_baseline(server, run_module):
    serve_two_scrapes(server, errors=(1, 61))  # canary 0.6 %
    serve_two_scrapes(server, "/prod", errors=(1, 3))  # production 0.02 %
    baseline_urls = [server.url("/prod")]
    failed, result = run_module(canary_check, args(server, baseline_urls=baseline_urls, success_thresholds=False))
    assert failed and result["failed_criteria"] == ["error_rate"]
    error_rate = next(r for r in result["results"] if r["name"] == "error_rate")
    assert error_rate["baseline_value"] == pytest.approx(0.02) and "baseline.max_increase" in error_rate["message"]


def test_unreachable_canary_is_an_error_never_a_pass(free_port, run_module, server):
    failed, result = run_module(canary_check, dict(args(server), metrics_url=f"http://127.0.0.1:{free_port}/metrics"))
    assert failed and result["verdict"] == "error"
    # The canary's own scrape is named as the canary's, not as production's.
    assert f"canary http://127.0.0.1:{free_port}/metrics is unreachable" in result["msg"]
    assert "baseline" not in result["msg"]


def test_html_page_is_an_error(server, run_module):
    server.serve("/metrics", "<html><body>login</body></html>", content_type="text/html")
    failed, result = run_module(canary_check, args(server))
    assert failed and result["verdict"] == "error" and "HTML page" in result["msg"]


def test_too_little_traffic_is_inconclusive_and_fails_unless_allowed(server, run_module):
    server.serve("/metrics", FIRST % dict(errors_1=0, errors_2=0, memory=400))
    failed, result = run_module(canary_check, args(server, criteria={
        "critical_alerts": {"enabled": False}, "memory_growth": {"enabled": False}}))
    assert failed and result["verdict"] == "inconclusive"
    failed, result = run_module(canary_check, args(server, allow_inconclusive=True))
    assert not failed and result["verdict"] == "inconclusive"


@pytest.mark.parametrize("criteria, words", [
    ({"error_rate": {"threshold": "abc"}}, "threshold must be a number"),
    ({"error_rate": {"comparison": "~"}}, "unknown comparison"),
    ({"error_rate": {"threshold": 101}}, "within 0-100"),
    ({"critical_alerts": {"enabled": True}}, "prometheus_url is not set"),
    ("error_rate", "must be a dictionary of name"),
])
def test_argument_errors_fail_before_any_request(server, run_module, criteria, words):
    serve_two_scrapes(server)
    failed, result = run_module(canary_check, dict(args(server), criteria=criteria))
    assert failed and words in result["msg"]
    assert server.requests == []


@pytest.mark.parametrize("extra, words", [
    (dict(timeout=0), "timeout must be a positive"),
    (dict(interval=-1), "interval must be 0 or more"),
    # The same words as canary_watch's (tests/unit/plugins/action/test_canary_watch.py): one setup for both.
    (dict(interval="soon"), "interval must be a duration such as 90, 90s, 5m, 24h or 1h30m"),
    (dict(alerts_since="yesterday"), "alerts_since must be a time such as 2026-11-27T10:00:00+00:00"),
    (dict(max_bytes=10), "max_bytes must be at least 1024"),
])
def test_connection_argument_errors(server, run_module, extra, words):
    failed, result = run_module(canary_check, args(server, **extra))
    assert failed and words in result["msg"] and server.requests == []


def test_prometheus_alerts_and_scrapes_together(server, run_module):
    serve_two_scrapes(server)
    server.serve("/api/v1/alerts", {"status": "success", "data": {"alerts": [
        {"labels": {"alertname": "CanaryCircuitBreakerTripped", "severity": "critical"}, "annotations": {},
         "state": "firing", "activeAt": "2026-11-27T10:00:00Z", "value": "1e+00"}]}},
        content_type="application/json")
    prometheus = dict(prometheus_url=server.url(""), bearer_token="t0ken")
    failed, result = run_module(canary_check, args(server, criteria={"memory_growth": {"enabled": False}},
                                                   **prometheus))
    assert failed and result["failed_criteria"] == ["critical_alerts"]
    assert "CanaryCircuitBreakerTripped" in result["msg"]
    assert "t0ken" not in str(result)


def test_check_mode_runs_the_same_read_only_judgement(server, run_module):
    serve_two_scrapes(server, errors=(1, 251))
    failed, result = run_module(canary_check, dict(args(server), _ansible_check_mode=True))
    assert failed and result["verdict"] == "fail" and result["changed"] is False


def test_without_prometheus_client(monkeypatch, server, run_module):
    monkeypatch.setattr(_judge_params, "HAS_PROMETHEUS_CLIENT", False)
    failed, result = run_module(canary_check, args(server))
    assert failed and "prometheus-client" in result["msg"] and server.requests == []


def test_what_prometheus_client_exports_is_read_as_it_means_it(server, run_module):
    """Its text format writes each counter's x_created as a gauge family of its own, beside counter x."""
    from prometheus_client import CollectorRegistry, Counter, generate_latest

    registry = CollectorRegistry()
    requests = Counter("hyperbun_http_requests", "Requests.", ["path"], registry=registry)
    errors = Counter("hyperbun_log_errors", "Errors.", ["code"], registry=registry)

    def scrape(handler):
        requests.labels("/api").inc(1000)
        errors.labels("X").inc(2)
        return generate_latest(registry).decode()

    server.serve("/metrics", scrape)
    failed, result = run_module(canary_check, args(server, use_default_criteria=False, criteria={"error_rate": {
        "kind": "rate_ratio", "numerator": "hyperbun_log_errors_total", "denominator": "hyperbun_http_requests_total",
        "unit": "percent", "threshold": 1}}))
    assert not failed and result["verdict"] == "pass", result["msg"]
    assert result["results"][0]["value"] == pytest.approx(0.2)
