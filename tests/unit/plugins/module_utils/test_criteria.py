# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import (
    DEFAULT_CRITERIA,
    CriteriaError,
    build_criteria,
)


def test_the_defaults_are_the_guides_numbers():
    criteria = {c.name: c for c in build_criteria()}
    assert (criteria["error_rate"].threshold, criteria["error_rate"].success_threshold) == (1.0, 0.5)
    assert criteria["memory_usage"].threshold == 80.0
    assert (criteria["rate_limit_rejections"].threshold, criteria["rate_limit_rejections"].success_threshold) == (10, 1)
    assert criteria["circuit_breaker_tripped"].threshold == 300
    assert (criteria["graph_build_p95"].threshold, criteria["graph_build_p95"].unit) == (5.0, "milliseconds")
    assert criteria["query_timeout_rate"].threshold == 0.1
    assert criteria["critical_alerts"].measures.matchers == {"severity": "critical"}
    assert [s.name for s in criteria["rate_limit_rejections"].measures.denominator] == [
        "rate_limit_rejected_total", "rate_limit_allowed_total"]
    leak = criteria["memory_growth"]
    assert (leak.kind, leak.threshold, leak.unit, leak.measures.horizon) == ("projection", 100, "percent", 7 * 86400)


def test_override_changes_only_the_fields_given_and_leaves_the_defaults_alone():
    criteria = {c.name: c for c in build_criteria({"error_rate": {"threshold": 2}})}
    assert criteria["error_rate"].threshold == 2.0
    assert criteria["error_rate"].success_threshold == 0.5
    assert DEFAULT_CRITERIA[0]["threshold"] == 1.0


def test_list_form_disable_and_a_new_criterion():
    criteria = build_criteria([
        {"name": "critical_alerts", "enabled": False},
        {"name": "p99", "query": "histogram_quantile(0.99, x)", "threshold": 0.25, "unit": "seconds"},
    ])
    names = [c.name for c in criteria]
    assert "critical_alerts" not in names
    assert criteria[-1].source == "prometheus" and criteria[-1].kind == "query"


def test_moving_a_default_to_prometheus_drops_its_scrape_kind():
    criteria = {c.name: c for c in build_criteria({"error_rate": {"source": "prometheus", "query": "vector(0)"}})}
    assert criteria["error_rate"].kind == "query"


@pytest.mark.parametrize("overrides, words", [
    ({"error_rate": {"threshold": "one"}}, "threshold must be a number"),
    ({"error_rate": {"threshold": True}}, "threshold must be a number"),
    ({"error_rate": {"threshold": "nan"}}, "finite"),
    ({"error_rate": {"comparison": "=>"}}, "unknown comparison '=>'"),
    ({"error_rate": {"threshold": 150}}, "percentage and must be within 0-100"),
    ({"error_rate": {"success_threshold": -1}}, "percentage and must be within 0-100"),
    ({"graph_build_p95": {"quantile": 1.5}}, "quantile must be within 0-1"),
    ({"error_rate": {"thresold": 2}}, "unknown field(s) thresold"),
    ({"error_rate": {"numerator": 'x{a=b}'}}, "invalid label matcher"),
    ({"error_rate": {"severity": "fatal"}}, "unknown severity"),
    ({"error_rate": {"range": 0}}, "range must be a positive"),
    ({"error_rate": {"min_requests": -5}}, "min_requests must be 0 or more"),
    ({"error_rate": {"baseline": {"max_pct": 3}}}, "baseline takes only"),
    ({"error_rate": {"kind": "median"}}, "kind 'median' is not one of"),
    ({"mine": {"source": "prometheus", "threshold": 1}}, "needs a PromQL query"),
    ({"mine": {"kind": "value", "threshold": 1}}, "metric is required"),
    ({"memory_growth": {"horizon": 0}}, "horizon must be a positive"),
    ({"query_timeout_rate": {"share": "yes"}}, "share must be true or false"),
    ({"error_rate": "off"}, "must be a dictionary"),
    ({"error_rate": {"unit": "furlongs"}}, "unknown unit"),
    ({"memory_usage": {"comparison": "==", "success_threshold": 1}}, "success_threshold needs an ordering"),
])
def test_argument_errors_name_the_criterion_and_the_problem(overrides, words):
    with pytest.raises(CriteriaError) as caught:
        build_criteria(overrides)
    assert words in str(caught.value)


def test_disabling_everything_is_refused():
    with pytest.raises(CriteriaError, match="nothing would be measured"):
        build_criteria({}, use_defaults=False)
