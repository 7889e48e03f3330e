# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import math

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    Selector,
    SelectorError,
    Snapshot,
    SourceError,
    check_finite,
    parse_exposition,
    wanted_names,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

OPENMETRICS = "application/openmetrics-text; version=1.0.0; charset=utf-8"

DEMO = """# HELP hyperbun_http_requests_total HTTP requests.
# TYPE hyperbun_http_requests_total counter
hyperbun_http_requests_total{method="GET",path="/api",status="200"} 120.0
hyperbun_http_requests_total{method="GET",path="/api",status="500"} 3.0
# HELP hyperbun_log_errors_total ERROR log lines, by code.
# TYPE hyperbun_log_errors_total counter
# HELP memory_usage_bytes Resident memory.
# TYPE memory_usage_bytes gauge
memory_usage_bytes 5.24288e+07
# TYPE graph_build_duration_seconds histogram
graph_build_duration_seconds_bucket{le="0.005"} 9.0
graph_build_duration_seconds_bucket{le="+Inf"} 10.0
graph_build_duration_seconds_count 10.0
graph_build_duration_seconds_sum 0.03
# TYPE unrelated_total counter
unrelated_total{shard="1"} 7.0
"""


def test_text_format_is_indexed_by_sample_name():
    snapshot = parse_exposition(DEMO, "text/plain; version=0.0.4", source="canary")
    requests = snapshot.select(Selector("hyperbun_http_requests_total"))
    assert sorted(value for labels, value in requests) == [3.0, 120.0]
    assert snapshot.select(Selector('hyperbun_http_requests_total{status=~"5.."}'))[0][1] == 3.0
    assert snapshot.select(Selector("graph_build_duration_seconds_bucket"))[1] == ({"le": "+Inf"}, 10.0)


def test_a_declared_family_without_series_exists_but_a_misnamed_one_does_not():
    snapshot = parse_exposition(DEMO, "text/plain")
    assert snapshot.has_metric("hyperbun_log_errors_total")
    assert snapshot.select(Selector("hyperbun_log_errors_total")) == []
    assert not snapshot.has_metric("hyperbun_log_error_total")


def test_openmetrics_is_chosen_by_content_type():
    text = '# TYPE q counter\nq_total{a="1"} 4.0\nq_created{a="1"} 1.7e9\n# EOF\n'
    snapshot = parse_exposition(text, OPENMETRICS)
    assert snapshot.select(Selector("q_total")) == [({"a": "1"}, 4.0)]


def test_openmetrics_without_eof_is_malformed():
    with pytest.raises(SourceError) as caught:
        parse_exposition("# TYPE q counter\nq_total 4.0\n", OPENMETRICS, source="http://x/metrics")
    assert caught.value.outcome == "error"
    assert "malformed OpenMetrics exposition from http://x/metrics" in caught.value.message


@pytest.mark.parametrize("body, content_type", [
    ("<!DOCTYPE html><html><body>Login</body></html>", "text/html; charset=utf-8"),
    ("<html><head></head></html>", "text/plain"),
    ("  <!doctype html>\n<p>proxy error</p>", ""),
])
def test_html_is_an_error_naming_the_cause(body, content_type):
    with pytest.raises(SourceError) as caught:
        parse_exposition(body, content_type, source="http://127.0.0.1:3001/metrics")
    assert caught.value.outcome == "error"
    assert "returned an HTML page, not Prometheus metrics" in caught.value.message


@pytest.mark.parametrize("line", [
    'hyperbun_http_requests_total{method="GET" 1',
    "hyperbun_http_requests_total one",
    'hyperbun_http_requests_total{status="200"}',
    'hyperbun_http_requests_total{="200"} 1',
])
def test_malformed_lines_of_a_read_family_are_errors(line):
    wanted = wanted_names(["hyperbun_http_requests_total"])
    with pytest.raises(SourceError) as caught:
        parse_exposition(DEMO + line + "\n", "text/plain", wanted=wanted, source="canary")
    assert caught.value.outcome == "error"
    assert "malformed Prometheus text exposition from canary" in caught.value.message


def test_empty_body_is_no_data():
    with pytest.raises(SourceError) as caught:
        parse_exposition("\n \n", "text/plain", source="canary")
    assert caught.value.outcome == "no_data"


def test_wanted_keeps_the_families_a_criterion_reads_and_still_knows_the_others():
    wanted = wanted_names(["hyperbun_http_requests_total", "graph_build_duration_seconds"])
    full = parse_exposition(DEMO, "text/plain")
    filtered = parse_exposition(DEMO, "text/plain", wanted=wanted)
    for name in ("hyperbun_http_requests_total", "graph_build_duration_seconds_bucket",
                 "graph_build_duration_seconds_count", "graph_build_duration_seconds_sum"):
        assert filtered.samples[name] == full.samples[name]
    assert "unrelated_total" not in filtered.samples and "memory_usage_bytes" not in filtered.samples
    assert filtered.types == full.types
    assert filtered.has_metric("memory_usage_bytes") and filtered.types["unrelated"] == "counter"


def test_nan_is_no_data_and_inf_is_an_error():
    snapshot = parse_exposition('g{a="1"} NaN\ng{a="2"} +Inf\ng{a="3"} -Inf\n', "text/plain")
    values = {labels["a"]: value for labels, value in snapshot.select(Selector("g"))}
    assert math.isnan(values["1"])
    with pytest.raises(SourceError) as nan:
        check_finite(values["1"], "g")
    with pytest.raises(SourceError) as inf:
        check_finite(values["2"], "g")
    assert (nan.value.outcome, inf.value.outcome) == ("no_data", "error")
    assert "+Inf" in inf.value.message


@pytest.mark.parametrize("text, labels, expected", [
    ('m{a="x"}', {"a": "x"}, True),
    ('m{a="x"}', {"a": "y"}, False),
    ('m{a!="x"}', {}, True),
    ('m{a=~"5.."}', {"a": "503"}, True),
    ('m{a=~"5.."}', {"a": "5030"}, False),  # anchored, as in PromQL
    ('m{a!~"2.*", b="1"}', {"a": "500", "b": "1"}, True),
    ('m{a=""}', {}, True),  # an absent label is the empty string
    ('m{path="/a\\"b"}', {"path": '/a"b'}, True),
])
def test_selector_matching(text, labels, expected):
    assert Selector(text).matches(labels) is expected


@pytest.mark.parametrize("text", ["", "9metric", "m{a=x}", 'm{a~"x"}', 'm{a="x"', 'm{a=~"("}', 'm{a="x" b="y"}', 3])
def test_invalid_selectors_are_refused(text):
    with pytest.raises(SelectorError):
        Selector(text)


def test_merge_keeps_the_series_of_every_target_apart():
    one = parse_exposition("c_total 1\n", "text/plain", source="a")
    two = parse_exposition("c_total 2\n", "text/plain", source="b")
    merged = Snapshot.merge([one, two])
    assert sorted(v for labels, v in merged.select(Selector("c_total"))) == [1.0, 2.0]
    assert len({labels["__target__"] for labels, value in merged.select(Selector("c_total"))}) == 2


# Label values with the characters the format must escape.
_label_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
_names = st.sampled_from(["hyperbun_http_requests", "queries", "memory_usage_bytes", "rate_limit_rejected", "other"])


class _Families:
    def __init__(self, families):
        self.families = families

    def collect(self):
        return self.families


def _families(draw_data):
    families = []
    for name, kind, series in draw_data:
        family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(name, "help", labels=["path"])
        for path, value in series.items():
            family.add_metric([path], value)
        families.append(family)
    return families


_family_data = st.lists(
    st.tuples(_names, st.sampled_from(["counter", "gauge"]),
              st.dictionaries(_label_values, st.floats(min_value=0, max_value=1e12), min_size=1, max_size=4)),
    min_size=1, max_size=5, unique_by=lambda item: item[0],
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_family_data, st.booleans(), st.sets(_names, max_size=3))
def test_parsing_what_prometheus_client_renders_gives_back_every_sample(data, openmetrics, read):
    registry = CollectorRegistry()
    registry.register(_Families(_families(data)))
    if openmetrics:
        text, content_type = generate_openmetrics(registry).decode(), OPENMETRICS
    else:
        text, content_type = generate_latest(registry).decode(), "text/plain; version=0.0.4"
    full = parse_exposition(text, content_type)
    for name, kind, series in data:
        sample_name = name + "_total" if kind == "counter" else name
        got = {labels["path"]: value for labels, value in full.select(Selector(sample_name))}
        assert got == pytest.approx(series)
    wanted_metrics = {n + "_total" if k == "counter" else n for n, k, series in data if n in read}
    filtered = parse_exposition(text, content_type, wanted=wanted_names(wanted_metrics))
    for name in wanted_metrics:
        assert filtered.samples.get(name) == full.samples.get(name)


@settings(max_examples=300)
@given(st.text(max_size=300), st.sampled_from(["text/plain", OPENMETRICS, "text/html", ""]))
def test_any_text_parses_or_ends_in_a_source_error(text, content_type):
    try:
        parse_exposition(text, content_type, source="fuzz")
    except SourceError as exc:
        assert exc.outcome in ("error", "no_data")


TYPED = """# TYPE hyperbun_log_errors gauge
hyperbun_log_errors 3
# TYPE requests_total counter
requests_total 10
# TYPE latency_seconds histogram
latency_seconds_bucket{le="+Inf"} 2
latency_seconds_count 2
latency_seconds_sum 0.5
# TYPE rpc summary
rpc_count 1
# TYPE bare_total untyped
bare_total 1
"""


def test_types_of_every_family_as_prometheus_client_names_them():
    snapshot = parse_exposition(TYPED, "text/plain", wanted=wanted_names(["requests_total"]))
    assert snapshot.types == {"hyperbun_log_errors": "gauge", "requests": "counter", "latency_seconds": "histogram",
                              "rpc": "summary", "bare_total": "unknown"}
    assert set(snapshot.families) == set(snapshot.types) and "rpc" in snapshot.families
    assert "latency_seconds_bucket" not in snapshot.samples  # no criterion reads it


@pytest.mark.parametrize("sample_name, expected", [
    ("requests_total", ("requests", "counter")),
    ("requests_created", ("requests", "counter")),
    ("latency_seconds_bucket", ("latency_seconds", "histogram")),
    ("latency_seconds_count", ("latency_seconds", "histogram")),
    ("rpc", ("rpc", "summary")),
    ("rpc_sum", ("rpc", "summary")),
    ("hyperbun_log_errors", ("hyperbun_log_errors", "gauge")),
    ("bare_total", ("bare_total", "unknown")),
    ("hyperbun_log_errors_total", None),
    ("requests", None),
    ("latency_seconds", None),
    ("missing_total", None),
])
def test_family_of_a_sample_name(sample_name, expected):
    assert parse_exposition(TYPED, "text/plain").family_of(sample_name) == expected


@pytest.mark.parametrize("sample_name, expected", [
    ("hyperbun_log_errors_total", ("hyperbun_log_errors", "gauge")),  # "a rate needs a counter"
    ("requests", ("requests", "counter")),
    ("latency_seconds", ("latency_seconds", "histogram")),
    ("latency_seconds_total", ("latency_seconds", "histogram")),
    ("requests_total", None),  # declared right
    ("missing_total", None),  # not declared at all
    ("bare_total", None),
])
def test_declared_as_names_the_family_a_sample_name_does_not_fit(sample_name, expected):
    assert parse_exposition(TYPED, "text/plain").declared_as(sample_name) == expected


def test_a_gauge_beside_samples_without_type_is_still_named_by_declared_as():
    snapshot = parse_exposition("# TYPE x gauge\nx 1\nx_total 2\n", "text/plain")
    assert snapshot.types == {"x": "gauge", "x_total": "unknown"}
    assert snapshot.family_of("x_total") == ("x_total", "unknown")
    assert snapshot.declared_as("x_total") == ("x", "gauge")


def test_a_text_counter_declared_with_the_openmetrics_name_keeps_its_x_total_samples():
    snapshot = parse_exposition('# TYPE x counter\nx_total{a="1"} 2\n', "text/plain")
    assert snapshot.types == {"x": "counter"} and snapshot.samples == {"x_total": [({"a": "1"}, 2.0)]}
    assert snapshot.family_of("x_total") == ("x", "counter") and snapshot.declared_as("x_total") is None
    with pytest.raises(SourceError, match="is negative"):
        parse_exposition("# TYPE x counter\nx_total -2\n", "text/plain")


def test_family_of_the_openmetrics_types():
    text = ("# TYPE b info\nb_info{v=\"1\"} 1\n# TYPE s stateset\ns{s=\"a\"} 1\n# TYPE q gaugehistogram\n"
            "q_bucket{le=\"+Inf\"} 1\nq_gcount 1\nq_gsum 1\n# EOF\n")
    snapshot = parse_exposition(text, OPENMETRICS)
    assert snapshot.family_of("b_info") == ("b", "info")
    assert snapshot.family_of("s") == ("s", "stateset")
    assert [snapshot.family_of(n) for n in ("q_bucket", "q_gcount", "q_gsum")] == [("q", "gaugehistogram")] * 3
    assert snapshot.family_of("q_count") is None and snapshot.declared_as("q_count") == ("q", "gaugehistogram")
    assert snapshot.declared_as("b") == ("b", "info")


def test_merge_carries_the_types_and_refuses_a_type_that_differs_between_targets():
    one = parse_exposition("# TYPE c_total counter\nc_total 1\n", "text/plain", source="a")
    two = parse_exposition("# TYPE c_total counter\nc_total 2\n# TYPE g gauge\ng 1\n", "text/plain", source="b")
    assert Snapshot.merge([one, two]).types == {"c": "counter", "g": "gauge"}
    odd = parse_exposition("# TYPE c gauge\nc 2\n", "text/plain", source="http://b/metrics")
    with pytest.raises(SourceError) as caught:
        Snapshot.merge([one, odd])
    assert caught.value.outcome == "error"
    assert "c is a counter in a but a gauge in http://b/metrics" in caught.value.message


def test_a_snapshot_built_from_family_names_knows_them():
    snapshot = Snapshot({"x_total": [({}, 1.0)]}, {"x"}, "here")
    assert snapshot.types == {"x": "unknown"} and snapshot.has_metric("x_total") and snapshot.source == "here"
