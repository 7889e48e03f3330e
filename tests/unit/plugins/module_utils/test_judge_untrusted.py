# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the judge over untrusted input: whatever a release exposes or Prometheus answers,
nothing raises, and a criterion whose series is absent, duplicated, negative or of the wrong type
never passes."""

from __future__ import annotations

import json

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import SourceError, parse_exposition
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import OUTCOMES, Evaluator
from ansible_collections.hyperbun.canary.plugins.modules import canary_check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

# The families each default scrape criterion reads, as (family, type, sample lines for given values).
FAMILIES = {
    "requests": ("hyperbun_http_requests", "counter",
                 lambda v: [f'hyperbun_http_requests_total{{path="/api",status="200"}} {v * 100}']),
    "errors": ("hyperbun_log_errors", "counter", lambda v: [f'hyperbun_log_errors_total{{code="X"}} {v // 10}']),
    "memory": ("memory_usage_bytes", "gauge", lambda v: [f"memory_usage_bytes {400 + v}"]),
    "limit": ("memory_limit_bytes", "gauge", lambda v: ["memory_limit_bytes 1000"]),
    "breaker": ("circuit_breaker_tripped", "gauge", lambda v: ['circuit_breaker_tripped{breaker="db"} 0']),
    "graph": ("graph_build_duration_seconds", "histogram", lambda v: [
        f'graph_build_duration_seconds_bucket{{le="0.001"}} {v * 10}',
        f'graph_build_duration_seconds_bucket{{le="+Inf"}} {v * 10}',
        f"graph_build_duration_seconds_count {v * 10}", f"graph_build_duration_seconds_sum {v * 0.001}"]),
}
# Which criterion judges each family.
READER = {"errors": "error_rate", "requests": "error_rate", "memory": "memory_usage", "limit": "memory_usage",
          "breaker": "circuit_breaker_tripped", "graph": "graph_build_p95"}
OTHER_TYPES = ("counter", "gauge", "histogram", "summary", "untyped")
CRITERIA = {"critical_alerts": {"enabled": False}, "memory_growth": {"enabled": False},
            "rate_limit_rejections": {"enabled": False}, "query_timeout_rate": {"enabled": False},
            "error_rate": {"min_requests": 1}, "graph_build_p95": {"min_requests": 1, "threshold": 1000}}


def exposition(step, defect=None, family=None, wrong_type=None, value=None):
    lines = []
    for key, (name, kind, samples) in FAMILIES.items():
        series = samples(step * 10 + 10)
        if key == family:
            if defect == "absent":
                continue
            if defect == "duplicated":
                series = [*series, series[0]]
            if defect == "negative":
                name_part, _value = series[0].rsplit(" ", 1)
                series = [f"{name_part} {-abs(value) - 1}", *series[1:]]
            if defect == "wrong type":
                kind = wrong_type
        lines.append(f"# TYPE {name} {kind}")
        lines.extend(series)
    return "\n".join(lines) + "\n"


def observe(evaluator, at, text):
    try:
        snapshot = parse_exposition(text, "text/plain; version=0.0.4", source="canary")
    except SourceError as exc:
        snapshot = exc
    return {r.criterion.name: r for r in evaluator.observe(at, snapshot)}


@settings(max_examples=150, deadline=None)
@given(family=st.sampled_from(sorted(FAMILIES)), defect=st.sampled_from(["absent", "duplicated", "negative",
                                                                        "wrong type"]),
       wrong_type=st.sampled_from(OTHER_TYPES), value=st.integers(min_value=0, max_value=10**9),
       defective_samples=st.sets(st.integers(min_value=0, max_value=3), min_size=1))
def test_a_criterion_whose_series_is_absent_duplicated_negative_or_mistyped_never_passes(
        family, defect, wrong_type, value, defective_samples):
    if defect == "wrong type" and (wrong_type == FAMILIES[family][1]
                                   or (FAMILIES[family][1] == "gauge" and wrong_type == "untyped")):
        # A family without a type is read as a gauge (docs/criteria.md): not a defect for a gauge.
        wrong_type = "summary"
    evaluator = Evaluator(build_criteria(CRITERIA))
    reader = READER[family]
    for step in range(4):
        broken = step in defective_samples
        results = observe(evaluator, step * 30.0, exposition(step, defect if broken else None, family, wrong_type,
                                                             value))
        if broken:
            assert results[reader].outcome != "pass", results[reader].message
    final = {r.criterion.name: r for r in evaluator.finish().results}
    if defective_samples >= {0, 1, 2, 3} or 3 in defective_samples:
        assert final[reader].outcome != "pass", final[reader].message


def test_a_healthy_exposition_of_these_families_passes():
    """The property above is not vacuous: without a defect the same families pass."""
    evaluator = Evaluator(build_criteria(CRITERIA))
    for step in range(4):
        results = observe(evaluator, step * 30.0, exposition(step))
    assert {name: r.outcome for name, r in results.items()} == dict.fromkeys(results, "pass")
    assert evaluator.finish().outcome == "pass"


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.text(max_size=300),
    st.builds(lambda body, cut, junk: body[:cut] + junk + body[cut:], st.just(exposition(1)),
              st.integers(min_value=0, max_value=400), st.text(max_size=20)),
))
def test_no_exposition_raises_out_of_the_judge(body):
    evaluator = Evaluator(build_criteria(CRITERIA))
    for at in (0.0, 30.0):
        results = observe(evaluator, at, body)
        assert all(r.outcome in OUTCOMES for r in results.values())
    assert evaluator.finish().outcome in OUTCOMES


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
_ALERT = {"labels": {"alertname": "X", "severity": "critical"}, "annotations": {}, "state": "firing",
          "activeAt": "2026-11-27T10:00:00Z", "value": "1e+00"}
_VALID_ALERTS = {"status": "success", "data": {"alerts": [_ALERT]}}
_VALID_VECTOR = {"status": "success", "data": {"resultType": "vector",
                                               "result": [{"metric": {}, "value": [1764000000.0, "0"]}]}}


def _dropped(document, path):
    """The document with the key at the end of `path` removed, or its value replaced by a wrong type."""
    copy = json.loads(json.dumps(document))
    node = copy
    for key in path[:-1]:
        node = node[key]
    if isinstance(node, dict):
        del node[path[-1]]
    else:
        node[path[-1]] = {"not": "a value"}
    return copy


ALERTS = {"critical_alerts": {
    "source": "prometheus", "kind": "alerts", "threshold": 0, "alert_matchers": {"severity": "critical"}}}
_BROKEN = st.sampled_from([
    _dropped(_VALID_ALERTS, ["data"]), _dropped(_VALID_ALERTS, ["data", "alerts"]),
    _dropped(_VALID_ALERTS, ["data", "alerts", 0, "labels"]), _dropped(_VALID_ALERTS, ["data", "alerts", 0, "state"]),
    _dropped(_VALID_VECTOR, ["data"]), _dropped(_VALID_VECTOR, ["data", "result", 0, "value"]),
    _dropped(_VALID_VECTOR, ["data", "result", 0, "value", 1]), _dropped(_VALID_VECTOR, ["data", "resultType"]),
])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=st.one_of(_json, _BROKEN))
def test_no_prometheus_answer_raises_out_of_the_module_or_passes_when_malformed(server, run_module, answer):
    server.serve("/api/v1/alerts", answer, content_type="application/json")
    server.serve("/api/v1/query", answer, content_type="application/json")
    criteria = dict(ALERTS, canary_up={"query": "sum(up)", "comparison": "<", "threshold": 1})
    failed, result = run_module(canary_check, dict(prometheus_url=server.url(""), retries=0,
                                                   use_default_criteria=False, criteria=criteria))
    assert failed and result["verdict"] in ("error", "no_data", "fail"), result["msg"]
    assert "Traceback" not in result["msg"]


@pytest.mark.parametrize("answer", [_VALID_ALERTS])
def test_a_well_formed_prometheus_answer_is_judged(server, run_module, answer):
    server.serve("/api/v1/alerts", answer, content_type="application/json")
    failed, result = run_module(canary_check, dict(prometheus_url=server.url(""), retries=0,
                                                   use_default_criteria=False, criteria=ALERTS))
    assert failed and result["verdict"] == "fail" and "firing: X" in result["msg"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.one_of(
    st.binary(max_size=200),
    st.builds(lambda body, cut, junk: body[:cut] + junk + body[cut:], st.just(exposition(1)),
              st.integers(min_value=0, max_value=400), st.text(max_size=12)),
), content_type=st.sampled_from(["text/plain; version=0.0.4", "application/openmetrics-text; version=1.0.0",
                                 "text/html", ""]))
def test_no_exposition_raises_out_of_the_module(server, run_module, body, content_type):
    server.serve("/metrics", body, content_type=content_type)
    failed, result = run_module(canary_check, dict(metrics_urls=[server.url()], interval=0, retries=0,
                                                   criteria=CRITERIA))
    assert result["verdict"] in OUTCOMES and "Traceback" not in result["msg"]
    if result["verdict"] == "pass":
        # Only a body the text parser takes whole, with every family the criteria read, may pass.
        assert not failed and isinstance(body, str) and "hyperbun_http_requests_total" in body
