# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP side against real servers on 127.0.0.1 (see conftest.py), never mocks."""

from __future__ import annotations

import base64
import http.server
import threading
import time

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import Snapshot, SourceError
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Evaluator
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
    HttpSettings,
    PrometheusClient,
    scrape,
    scrape_all,
    scrape_or_error,
    single_value,
)

FAST = HttpSettings(timeout=2, retries=0, retry_delay=0)
METRICS = "# TYPE memory_usage_bytes gauge\nmemory_usage_bytes 42\n"


def vector(*values):
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"instance": f"i{i}"}, "value": [1764153600.0, str(v)]} for i, v in enumerate(values)]}}


def test_scrape_text_format(server):
    server.serve("/metrics", METRICS)
    snapshot = scrape(server.url(), FAST)
    assert snapshot.samples["memory_usage_bytes"] == [({}, 42.0)]
    assert snapshot.source == server.url()
    assert "openmetrics" in server.requests[0][1]["Accept"]


def test_scrape_openmetrics_by_content_type(server):
    server.serve("/metrics", "# TYPE q counter\nq_total 3.0\n# EOF\n",
                 content_type="application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert scrape(server.url(), FAST).samples["q_total"] == [({}, 3.0)]


def test_http_500_is_an_error_after_the_retries(server):
    server.serve("/metrics", "boom", status=500)
    with pytest.raises(SourceError) as caught:
        scrape(server.url(), HttpSettings(timeout=2, retries=2, retry_delay=0))
    assert caught.value.outcome == "error"
    assert "answered HTTP 500" in caught.value.message and "after 3 attempts" in caught.value.message
    assert len(server.requests) == 3


def test_a_404_is_not_retried(server):
    with pytest.raises(SourceError, match="HTTP 404"):
        scrape(server.url("/wrong"), HttpSettings(timeout=2, retries=3, retry_delay=0))
    assert len(server.requests) == 1


def test_a_transient_500_recovers_on_retry(server):
    answers = [server.Route("busy", status=503), server.Route(METRICS)]
    server.serve("/metrics", lambda handler: answers.pop(0))
    assert scrape(server.url(), HttpSettings(timeout=2, retries=1, retry_delay=0)).samples["memory_usage_bytes"]


def test_unreachable_endpoint_is_an_error(free_port):
    result = scrape_or_error(f"http://127.0.0.1:{free_port}/metrics", FAST)
    assert isinstance(result, SourceError) and result.outcome == "error"
    assert "is unreachable" in result.message


def test_a_slow_endpoint_times_out(server):
    def slow(handler):
        time.sleep(1.5)
        return METRICS

    server.serve("/metrics", slow)
    started = time.monotonic()
    result = scrape_or_error(server.url(), HttpSettings(timeout=0.3, retries=0))
    assert isinstance(result, SourceError) and "unreachable" in result.message and "timed out" in result.message
    assert time.monotonic() - started < 1.4


def test_html_instead_of_metrics(server):
    server.serve("/metrics", "<!DOCTYPE html><html><body>Sign in</body></html>", content_type="text/html")
    result = scrape_or_error(server.url(), FAST)
    assert result.outcome == "error" and "HTML page" in result.message


def test_a_payload_larger_than_max_bytes_is_refused_from_its_length(server):
    server.serve("/metrics", b"x 1\n" * 300000)
    result = scrape_or_error(server.url(), HttpSettings(timeout=2, retries=0, max_bytes=1024 * 1024))
    assert result.outcome == "error" and "more than max_bytes (1048576)" in result.message


def test_hundreds_of_megabytes_streamed_without_length_stop_at_max_bytes(server):
    sent = []

    def endless(handler):
        def chunks():
            line = b'big_series{shard="0000000000"} 1\n' * 32768  # about 1 MiB
            for _dummy in range(300):  # 300 MiB if nobody stops reading
                sent.append(len(line))
                yield line
        return chunks()

    server.serve("/metrics", endless)
    result = scrape_or_error(server.url(), HttpSettings(timeout=5, retries=0))
    assert result.outcome == "error" and "sent more than max_bytes (67108864" in result.message
    assert sum(sent) < 100 * 1024 * 1024


def test_production_merges_instances_and_names_the_one_that_failed(server, free_port):
    server.serve("/metrics", METRICS)
    merged = scrape_all([server.url(), server.url()], FAST)
    assert isinstance(merged, Snapshot) and len(merged.samples["memory_usage_bytes"]) == 2
    bad = f"http://127.0.0.1:{free_port}/metrics"
    failed = scrape_all([server.url(), bad], FAST)
    assert isinstance(failed, SourceError) and failed.message.startswith(f"production {bad} is unreachable")


def test_instances_that_declare_one_family_with_two_types_are_an_error_not_a_merge(server):
    server.serve("/one", "# TYPE queries gauge\nqueries 5\n")
    server.serve("/two", "# TYPE queries untyped\nqueries 5\n")
    failed = scrape_all([server.url("/one"), server.url("/two")], FAST)
    assert isinstance(failed, SourceError) and failed.outcome == "error"
    assert failed.message.startswith("production ") and "the targets run different code" in failed.message


def test_a_failed_scrape_is_named_after_the_role_of_its_targets(server, free_port):
    server.serve("/metrics", METRICS)
    bad = f"http://127.0.0.1:{free_port}/metrics"
    failed = scrape_all([bad], FAST, role="canary")
    assert isinstance(failed, SourceError) and failed.outcome == "error"
    assert failed.message.startswith(f"canary {bad} is unreachable") and "baseline" not in failed.message
    server.serve("/metrics", "<html>login</html>", content_type="text/html")
    failed = scrape_all([server.url()], FAST, None, role="production")
    assert failed.message.startswith(f"production {server.url()} ") and "HTML page" in failed.message


def test_credentials_go_to_prometheus_and_never_to_the_scraped_endpoint(server):
    server.serve("/metrics", METRICS)
    server.serve("/api/v1/query", vector(1), content_type="application/json")
    settings = HttpSettings(timeout=2, retries=0, bearer_token="s3cret")
    scrape(server.url(), settings)
    PrometheusClient(server.url(""), settings).instant("up")
    assert "Authorization" not in server.requests[0][1]
    assert server.requests[1][1]["Authorization"] == "Bearer s3cret"


def test_basic_auth_to_prometheus_and_not_to_the_scraped_endpoint(server):
    server.serve("/api/v1/query", vector(1), content_type="application/json")
    server.serve("/metrics", METRICS)
    settings = HttpSettings(retries=0, url_username="ops", url_password="pw")
    PrometheusClient(server.url(""), settings).instant("up")
    scrape(server.url(), settings)
    assert server.requests[0][1]["Authorization"] == "Basic " + base64.b64encode(b"ops:pw").decode()
    assert "Authorization" not in server.requests[1][1]


def test_instant_query_sends_the_query_and_returns_the_value(server):
    server.serve("/api/v1/query", vector(0.25), content_type="application/json")
    result_type, result = PrometheusClient(server.url("/"), FAST).instant('sum(rate(x{a="b"}[5m]))', at=1764153600)
    assert single_value(result_type, result, "q") == 0.25
    assert "query=sum%28rate%28x%7Ba%3D%22b%22%7D%5B5m%5D%29%29" in server.requests[0][0]
    assert "time=1764153600" in server.requests[0][0]


@pytest.mark.parametrize("document, outcome, words", [
    (vector(), "no_data", "empty vector"),
    (vector(1, 2, 3), "error", "returned 3 series where one was expected"),
    (vector("NaN"), "no_data", "is NaN"),
    (vector("+Inf"), "error", "+Inf"),
    ({"status": "success", "data": {"resultType": "matrix", "result": []}}, "error", "returned a matrix"),
])
def test_query_results_that_cannot_be_judged(server, document, outcome, words):
    server.serve("/api/v1/query", document, content_type="application/json")
    result_type, result = PrometheusClient(server.url(""), FAST).instant("q")
    with pytest.raises(SourceError) as caught:
        single_value(result_type, result, "q")
    assert caught.value.outcome == outcome and words in caught.value.message


def test_scalar_result(server):
    scalar = {"status": "success", "data": {"resultType": "scalar", "result": [1764153600, "7"]}}
    server.serve("/api/v1/query", scalar, content_type="application/json")
    assert single_value(*PrometheusClient(server.url(""), FAST).instant("vector(7)"), "q") == 7.0


def test_promql_syntax_error_names_the_cause(server):
    server.serve("/api/v1/query",
                 {"status": "error", "errorType": "bad_data",
                  "error": 'invalid parameter "query": 1:6: parse error: unexpected end of input'},
                 status=400, content_type="application/json")
    with pytest.raises(SourceError) as caught:
        PrometheusClient(server.url(""), HttpSettings(retries=2, retry_delay=0)).instant("rate(")
    assert caught.value.outcome == "error"
    assert "bad_data" in caught.value.message and "parse error" in caught.value.message
    assert len(server.requests) == 1  # a bad query is not retried


def test_prometheus_url_pointing_at_a_web_page(server):
    server.serve("/api/v1/query", "<html>Grafana</html>", content_type="text/html")
    with pytest.raises(SourceError, match="something other than JSON"):
        PrometheusClient(server.url(""), FAST).instant("up")


def test_critical_alerts_criterion_counts_only_firing_critical_alerts(server):
    alerts = [
        {"labels": {"alertname": "CanaryHighErrorRate", "severity": "critical"}, "state": "firing"},
        {"labels": {"alertname": "CanaryCircuitBreakerTripped", "severity": "critical"}, "state": "pending"},
        {"labels": {"alertname": "CanaryHighMemoryUsage", "severity": "warning"}, "state": "firing"},
    ]
    server.serve("/api/v1/alerts", {"status": "success", "data": {"alerts": alerts}}, content_type="application/json")
    ev = Evaluator(build_criteria([{"name": "critical_alerts"}], use_defaults=True)[-1:])
    result = ev.observe(0, prometheus=PrometheusClient(server.url(""), FAST))[0]
    assert result.outcome == "fail" and result.value == 1
    assert "CanaryHighErrorRate" in result.message and "CanaryCircuitBreakerTripped" not in result.message
    alerts.pop(0)
    assert ev.observe(1, prometheus=PrometheusClient(server.url(""), FAST))[0].outcome == "pass"


def test_a_promql_criterion_with_baseline_query(server):
    answers = {"canary_q": vector(0.9), "prod_q": vector(0.2)}

    def answer(handler):
        from urllib.parse import parse_qs, urlsplit

        return answers[parse_qs(urlsplit(handler.path).query)["query"][0]]

    server.serve("/api/v1/query", answer, content_type="application/json")
    criteria = build_criteria([{"name": "err", "query": "canary_q", "baseline_query": "prod_q", "threshold": 1,
                                "baseline": {"max_increase": 0.5}}], use_defaults=False)
    ev = Evaluator(criteria, baseline=True)
    result = ev.observe(0, prometheus=PrometheusClient(server.url(""), FAST))[0]
    assert result.outcome == "fail" and result.baseline_value == 0.2 and "max_increase 0.5" in result.message


def test_tls_is_verified_by_default_and_a_ca_path_makes_it_pass(tls_server):
    server, cert = tls_server
    server.serve("/metrics", METRICS)
    url = server.url().replace("http://", "https://")
    refused = scrape_or_error(url, FAST)
    assert isinstance(refused, SourceError) and refused.outcome == "error"
    assert "certificate" in refused.message.lower() or "tls" in refused.message.lower()
    assert scrape(url, HttpSettings(timeout=2, retries=0, ca_path=cert)).samples["memory_usage_bytes"]


def test_the_settings_build_one_tls_context_and_it_still_verifies(tls_server):
    # A scrape uses a copy of the settings without the Prometheus credentials: both share one
    # context, built once (loading the system's CA certificates took 20-100 ms of CPU a request).
    server, cert = tls_server
    server.serve("/metrics", METRICS)
    url = server.url().replace("http://", "https://")
    trusting = HttpSettings(timeout=2, retries=0, ca_path=cert)
    scrapes = [scrape(url, trusting.without_auth()) for _attempt in range(3)]
    assert all(result.samples["memory_usage_bytes"] for result in scrapes)
    assert trusting.without_auth().ssl_context() is trusting.ssl_context()
    # Other settings have their own context: the default one still refuses the self-signed server.
    default = HttpSettings(timeout=2, retries=0)
    assert default.ssl_context() is not trusting.ssl_context()
    refused = scrape_or_error(url, default.without_auth())
    assert isinstance(refused, SourceError) and "certificate verify failed" in refused.message


class TrickleServer:
    """A real HTTP server on 127.0.0.1 that sends its status line and headers at once (Content-Length
    announcing the whole body), then the body one byte every `interval` seconds."""

    def __init__(self, body=b"x" * 40, interval=0.3):
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(outer.body)))
                self.end_headers()
                self.wfile.flush()
                try:
                    for index in range(len(outer.body)):
                        self.wfile.write(outer.body[index:index + 1])
                        self.wfile.flush()
                        time.sleep(outer.interval)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.body, self.interval = body, interval
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def url(self):
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/metrics"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def trickle_server():
    instance = TrickleServer()
    yield instance
    instance.close()


def one_byte_every(interval, seconds):
    def answer(handler):
        def trickle():
            for _dummy in range(int(seconds / interval)):
                yield b"#"
                time.sleep(interval)
        return trickle()
    return answer


def test_timeout_bounds_a_body_that_trickles_in_with_a_length(trickle_server):
    started = time.monotonic()
    result = scrape_or_error(trickle_server.url(), HttpSettings(timeout=1, retries=0))
    elapsed = time.monotonic() - started
    assert isinstance(result, SourceError) and result.outcome == "error"
    assert result.message == f"{trickle_server.url()} did not finish within timeout 1 s"
    assert elapsed < 1.5


def test_timeout_bounds_a_chunked_body_that_trickles_in(server):
    server.serve("/metrics", one_byte_every(0.3, 10))
    started = time.monotonic()
    result = scrape_or_error(server.url(), HttpSettings(timeout=1, retries=0))
    assert isinstance(result, SourceError) and "did not finish within timeout 1 s" in result.message
    assert time.monotonic() - started < 1.5


def test_each_attempt_has_a_deadline_of_its_own(server):
    server.serve("/metrics", one_byte_every(0.3, 10))
    started = time.monotonic()
    result = scrape_or_error(server.url(), HttpSettings(timeout=0.7, retries=1, retry_delay=0.1))
    elapsed = time.monotonic() - started
    assert result.message == f"{server.url()} did not finish within timeout 0.7 s (after 2 attempts)"
    assert len(server.requests) == 2 and 1.4 < elapsed < 2.2


def test_a_body_that_trickles_in_within_the_timeout_is_read(server):
    def answer(handler):
        def trickle():
            for line in METRICS.splitlines(keepends=True):
                time.sleep(0.2)
                yield line.encode()
        return trickle()

    server.serve("/metrics", answer)
    assert scrape(server.url(), HttpSettings(timeout=3, retries=0)).samples["memory_usage_bytes"] == [({}, 42.0)]


def test_a_tls_verification_failure_is_named_and_not_retried(tls_server):
    server, _cert = tls_server
    server.serve("/metrics", METRICS)
    url = server.url().replace("http://", "https://")
    started = time.monotonic()
    refused = scrape_or_error(url, HttpSettings(timeout=2, retries=2, retry_delay=1))
    assert isinstance(refused, SourceError) and refused.outcome == "error"
    assert refused.message.startswith(f"TLS verification of {url} failed: certificate verify failed")
    assert refused.message.endswith("(set ca_path, or validate_certs: false)")
    assert "unreachable" not in refused.message and "attempts" not in refused.message
    assert time.monotonic() - started < 1
    assert scrape(url, HttpSettings(timeout=2, retries=0, validate_certs=False)).samples["memory_usage_bytes"]


def test_a_tls_verification_failure_of_prometheus_is_named(tls_server):
    server, _cert = tls_server
    server.serve("/api/v1/query", vector(1), content_type="application/json")
    base = server.url("").replace("http://", "https://")
    with pytest.raises(SourceError, match=r"^TLS verification of https://127\.0\.0\.1:\d+/api/v1/query\?query=up "):
        PrometheusClient(base, HttpSettings(timeout=2, retries=3, retry_delay=1)).instant("up")


WELL_FORMED_ALERT = {"labels": {"alertname": "A", "severity": "critical"}, "annotations": {}, "state": "firing",
                     "activeAt": "2025-11-26T10:00:00Z", "value": "1e+00"}


def success(data):
    return {"status": "success", "data": data}


def one_series(item):
    return success({"resultType": "vector", "result": [item]})


@pytest.mark.parametrize("document, words", [
    ({"status": "success"}, "data is missing"),
    (success(None), "data is null, not an object"),
    (success({"result": []}), "data.resultType is missing"),
    (success({"resultType": "vector"}), "data.result is missing"),
    (success({"resultType": "vector", "result": {}}), "data.result is an object, not a list"),
    (success({"resultType": "histogram", "result": []}), "data.resultType is 'histogram', not one of vector, scalar"),
    (one_series({"metric": {}}), "data.result[0] has no value"),
    (one_series({"value": [1, "1"]}), "data.result[0] has no metric"),
    (one_series(["up", 1]), "data.result[0] is a list, not an object"),
    (one_series({"metric": {"job": 1}, "value": [1, "1"]}), "data.result[0].metric['job'] is a number, not a string"),
    (one_series({"metric": {}, "value": "1"}), 'data.result[0].value is a string, not a [time, "value"] pair'),
    (one_series({"metric": {}, "value": [1]}), 'data.result[0].value is a list of 1, not a [time, "value"] pair'),
    (one_series({"metric": {}, "value": ["now", "1"]}), "data.result[0].value[0] is a string, not a time"),
    (one_series({"metric": {}, "value": [True, "1"]}), "data.result[0].value[0] is a boolean, not a time"),
    (one_series({"metric": {}, "value": [1, 1]}), "data.result[0].value[1] is a number, not a string"),
    (one_series({"metric": {}, "value": [1, "12 ms"]}), "data.result[0].value[1] is '12 ms', not a number"),
    (one_series({"metric": {}, "value": [1, "1"], "histogram": [1, {}]}), "has both a value and a histogram"),
    (success({"resultType": "scalar", "result": "7"}), "data.result is a string, not a [time"),
    (success({"resultType": "scalar", "result": [1, None]}), "data.result[1] is null, not a string"),
    (success({"resultType": "string", "result": [1, 2]}), "data.result[1] is a number, not a string"),
    (success({"resultType": "matrix", "result": [{"metric": {}}]}), "data.result[0] has no values"),
    (success({"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "1"], [2]]}]}),
     "data.result[0].values[1] is a list of 1, not a [time"),
    ({"status": "ok", "data": {}}, "status is 'ok', not success or error"),
    ({"status": "success", "data": {"resultType": "vector", "result": []}, "warnings": "slow"},
     "warnings is a string, not a list"),
])
def test_an_answer_not_in_the_documented_shape_is_an_error_naming_the_place(server, document, words):
    server.serve("/api/v1/query", document, content_type="application/json")
    with pytest.raises(SourceError) as caught:
        PrometheusClient(server.url(""), FAST).instant("q")
    assert caught.value.outcome == "error"
    assert caught.value.message.startswith(server.url("/api/v1/query") + ": ")
    assert words in caught.value.message


def test_a_series_without_value_is_reported_as_such(server):
    server.serve("/api/v1/query", one_series({"metric": {"job": "api"}}), content_type="application/json")
    with pytest.raises(SourceError) as caught:
        PrometheusClient(server.url(""), FAST).instant("q")
    assert caught.value.message == server.url("/api/v1/query") + ": data.result[0] has no value"


@pytest.mark.parametrize("document, words", [
    ({"status": "success"}, "data is missing"),
    (success({}), "data.alerts is missing"),
    (success({"alerts": None}), "data.alerts is null, not a list"),
    (success({"alerts": ["CanaryHighErrorRate"]}), "data.alerts[0] is a string, not an object"),
    (success({"alerts": [{"labels": {"alertname": "A"}}]}), "data.alerts[0] has no state"),
    (success({"alerts": [{"state": "firing"}]}), "data.alerts[0] has no labels"),
    (success({"alerts": [dict(WELL_FORMED_ALERT, labels=None)]}), "data.alerts[0].labels is null, not an object"),
    (success({"alerts": [dict(WELL_FORMED_ALERT, state="resolved")]}),
     "data.alerts[0].state is 'resolved', not one of firing, pending, inactive"),
    (success({"alerts": [dict(WELL_FORMED_ALERT, annotations={"summary": 3})]}),
     "data.alerts[0].annotations['summary'] is a number, not a string"),
    (success({"alerts": [dict(WELL_FORMED_ALERT, activeAt=1764153600)]}),
     "data.alerts[0].activeAt is a number, not a string"),
    (success({"alerts": [dict(WELL_FORMED_ALERT, value=1)]}), "data.alerts[0].value is a number, not a string"),
])
def test_an_alerts_answer_not_in_the_documented_shape_is_an_error(server, document, words):
    server.serve("/api/v1/alerts", document, content_type="application/json")
    with pytest.raises(SourceError) as caught:
        PrometheusClient(server.url(""), FAST).alerts()
    assert caught.value.outcome == "error"
    assert caught.value.message.startswith(server.url("/api/v1/alerts") + ": ") and words in caught.value.message


def test_a_well_formed_alerts_answer_is_returned_as_it_came(server):
    alerts = [WELL_FORMED_ALERT, {"labels": {}, "state": "pending"}]
    server.serve("/api/v1/alerts", success({"alerts": alerts}), content_type="application/json")
    assert PrometheusClient(server.url(""), FAST).alerts() == alerts


def test_a_range_query_must_answer_a_matrix(server):
    server.serve("/api/v1/query_range", vector(1), content_type="application/json")
    with pytest.raises(SourceError, match=r"data.resultType is 'vector'; a range query answers a matrix"):
        PrometheusClient(server.url(""), FAST).range("q", 1, 2, "1s")


def test_json_nested_too_deep_is_not_json_to_us(server):
    server.serve("/api/v1/query", "[" * 200000, content_type="application/json")
    with pytest.raises(SourceError, match="something other than JSON"):
        PrometheusClient(server.url(""), FAST).instant("q")


def test_status_error_without_its_fields_is_still_a_rejection(server):
    server.serve("/api/v1/query", {"status": "error", "error": ["not", "a", "string"]}, status=422,
                 content_type="application/json")
    with pytest.raises(SourceError, match=r"rejected the request to .*/api/v1/query \(HTTP 422, error\): no message"):
        PrometheusClient(server.url(""), FAST).instant("q")


def test_an_odd_answer_is_an_error_outcome_of_the_criterion_not_a_crash(server):
    server.serve("/api/v1/query", {"status": "success"}, content_type="application/json")
    server.serve("/api/v1/alerts", success({"alerts": ["firing"]}), content_type="application/json")
    criteria = build_criteria([{"name": "q", "query": "up", "threshold": 1}, {"name": "critical_alerts"}],
                              use_defaults=True)
    criteria = [c for c in criteria if c.name in ("q", "critical_alerts")]
    results = {r.criterion.name: r for r in Evaluator(criteria).observe(
        0, prometheus=PrometheusClient(server.url(""), FAST))}
    assert results["q"].outcome == "error" and "data is missing" in results["q"].message
    assert results["critical_alerts"].outcome == "error"
    assert "data.alerts[0] is a string, not an object" in results["critical_alerts"].message


@pytest.mark.parametrize("value, outcome, words", [
    ("NaN", "no_data", "is NaN"), ("+Inf", "error", "is +Inf"), ("-Inf", "error", "is -Inf"),
])
def test_nan_and_infinities_are_numbers_the_judge_decides_about(server, value, outcome, words):
    scalar = success({"resultType": "scalar", "result": [1764153600, value]})
    server.serve("/api/v1/query", scalar, content_type="application/json")
    result_type, result = PrometheusClient(server.url(""), FAST).instant("q")
    with pytest.raises(SourceError) as caught:
        single_value(result_type, result, "q")
    assert (caught.value.outcome, result) == (outcome, [1764153600, value]) and words in caught.value.message


def test_a_native_histogram_is_not_a_number(server):
    item = {"metric": {"job": "api"}, "histogram": [1764153600, {"count": "3", "sum": "1.5", "buckets": []}]}
    server.serve("/api/v1/query", one_series(item), content_type="application/json")
    result_type, result = PrometheusClient(server.url(""), FAST).instant("rpc_latency")
    assert result == [item]
    with pytest.raises(SourceError) as caught:
        single_value(result_type, result, "rpc_latency")
    assert caught.value.outcome == "error"
    assert "returned a native histogram {job=\"api\"}, not a number" in caught.value.message


@pytest.mark.parametrize("result_type, result", [
    ("vector", [{"metric": {}}]), ("vector", [{}]), ("vector", None), ("vector", [None, None]),
    ("scalar", None), ("scalar", []), ("scalar", [1, "x"]), ("vector", [{"metric": {}, "value": None}]),
    (None, None), ("vector", [{"metric": None, "value": [1, "1"]}]),
])
def test_single_value_raises_only_source_errors(result_type, result):
    with pytest.raises(SourceError) as caught:
        single_value(result_type, result, "q")
    assert caught.value.outcome == "error"
