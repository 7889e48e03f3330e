# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    Snapshot,
    SourceError,
    parse_exposition,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Evaluator, Policy
from hypothesis import given, settings
from hypothesis import strategies as st

NO_PROMETHEUS = {"critical_alerts": {"enabled": False}}


def exposition(requests=0, errors=None, rejected=0, allowed=0, memory=400, limit=1000, tripped=None,
               queries=0, timeouts=0, buckets=(0, 0, 0), extra=""):
    """The demo service's metric names, with the values given."""
    lines = [
        "# TYPE hyperbun_http_requests_total counter",
        f'hyperbun_http_requests_total{{method="GET",path="/api",status="200"}} {requests}',
        "# TYPE hyperbun_log_errors_total counter",
    ]
    for code, count in (errors or {}).items():
        lines.append(f'hyperbun_log_errors_total{{code="{code}"}} {count}')
    lines += [
        "# TYPE rate_limit_rejected_total counter", f"rate_limit_rejected_total {rejected}",
        "# TYPE rate_limit_allowed_total counter", f"rate_limit_allowed_total {allowed}",
        "# TYPE memory_usage_bytes gauge", f"memory_usage_bytes {memory}",
        "# TYPE memory_limit_bytes gauge", f"memory_limit_bytes {limit}",
        "# TYPE circuit_breaker_tripped gauge",
    ]
    for breaker, value in (tripped or {"db": 0}).items():
        lines.append(f'circuit_breaker_tripped{{breaker="{breaker}"}} {value}')
    lines += [
        "# TYPE queries_total counter", f"queries_total {queries}",
        "# TYPE query_timeouts_total counter", f"query_timeouts_total {timeouts}",
        "# TYPE graph_build_duration_seconds histogram",
        f'graph_build_duration_seconds_bucket{{le="0.001"}} {buckets[0]}',
        f'graph_build_duration_seconds_bucket{{le="0.005"}} {buckets[1]}',
        f'graph_build_duration_seconds_bucket{{le="+Inf"}} {buckets[2]}',
        f"graph_build_duration_seconds_count {buckets[2]}",
        "graph_build_duration_seconds_sum 0",
    ]
    return "\n".join(lines) + "\n" + extra


def snap(base=None, **changes):
    values = dict(base or {})
    values.update(changes)
    return parse_exposition(exposition(**values), "text/plain", source="canary")


GOOD_1 = dict(requests=10000, errors={"QUERY_TIMEOUT": 1}, rejected=0, allowed=10000, queries=10000,
              buckets=(900, 1000, 1000))
GOOD_2 = dict(requests=20000, errors={"QUERY_TIMEOUT": 3}, rejected=10, allowed=19990, queries=20000, timeouts=5,
              buckets=(1800, 1990, 2000))


def by_name(results):
    return {r.criterion.name: r for r in results}


def evaluator(overrides=None, **kwargs):
    settings = dict(NO_PROMETHEUS)
    settings.update(overrides or {})
    return Evaluator(build_criteria(settings), **kwargs)


def test_a_good_release_passes_every_criterion():
    ev = evaluator({"memory_growth": {"enabled": False}})
    ev.observe(0, snap(GOOD_1))
    results = by_name(ev.observe(30, snap(GOOD_2)))
    assert {name: r.outcome for name, r in results.items()} == {
        "error_rate": "pass", "memory_usage": "pass", "rate_limit_rejections": "pass",
        "circuit_breaker_tripped": "pass", "graph_build_p95": "pass", "query_timeout_rate": "pass"}
    assert results["error_rate"].value == pytest.approx(0.02)  # 2 errors in 10000 requests, in percent
    # 900 of 1000 builds under 1 ms, 990 under 5 ms: rank 950 interpolated in the 1-5 ms bucket.
    assert results["graph_build_p95"].value == pytest.approx(1 + 4 * 50 / 90)
    verdict = ev.finish()
    assert verdict.outcome == "pass" and verdict.failed == []


def test_rates_need_two_samples():
    ev = evaluator()
    results = by_name(ev.observe(0, snap(GOOD_1)))
    assert results["error_rate"].outcome == "inconclusive"
    assert "needs two samples" in results["error_rate"].message
    assert ev.decision is None


@pytest.mark.parametrize("fault, second, failing", [
    ("errors", dict(GOOD_2, errors={"QUERY_TIMEOUT": 301}), "error_rate"),
    ("memory", dict(GOOD_2, memory=900), "memory_usage"),
    ("rate limit", dict(GOOD_2, rejected=3000, allowed=17000), "rate_limit_rejections"),
    ("slow graph", dict(GOOD_2, buckets=(900, 1000, 2000)), "graph_build_p95"),
    ("timeouts", dict(GOOD_2, timeouts=100), "query_timeout_rate"),
])
def test_each_fault_fails_its_criterion_and_no_other(fault, second, failing):
    ev = evaluator({"memory_growth": {"enabled": False}})
    ev.observe(0, snap(GOOD_1))
    results = by_name(ev.observe(30, snap(second)))
    failed = sorted(name for name, r in results.items() if r.outcome == "fail")
    assert failed == [failing], fault
    message = results[failing].message
    assert failing in message and "threshold" in message and "source:" in message
    assert ev.finish().outcome == "fail"


def test_a_counter_reset_is_not_a_negative_rate():
    ev = evaluator({"memory_growth": {"enabled": False}})
    ev.observe(0, snap(GOOD_1, errors={"QUERY_TIMEOUT": 150}))
    # The canary restarted: counters start again from zero.
    restarted = snap(GOOD_1, requests=5000, errors={"QUERY_TIMEOUT": 100}, allowed=5000, queries=5000,
                     buckets=(450, 500, 500))
    results = by_name(ev.observe(30, restarted))
    assert results["error_rate"].outcome == "fail"
    assert results["error_rate"].value == pytest.approx(100 / 5000 * 100)


def test_an_error_code_first_seen_between_samples_counts_from_zero():
    ev = evaluator({"memory_growth": {"enabled": False}})
    ev.observe(0, snap(GOOD_1, errors={}))
    results = by_name(ev.observe(30, snap(GOOD_2, errors={"DB_DOWN": 150})))
    assert results["error_rate"].value == pytest.approx(1.5)
    assert results["error_rate"].outcome == "fail"


def test_too_few_requests_is_inconclusive_not_a_pass():
    ev = evaluator()
    ev.observe(0, snap(GOOD_1, requests=10))
    results = by_name(ev.observe(30, snap(GOOD_1, requests=40)))
    assert results["error_rate"].outcome == "inconclusive"
    assert "min_requests 100" in results["error_rate"].message
    assert ev.finish().outcome != "pass"


def test_a_misnamed_metric_is_no_data_and_never_zero():
    ev = evaluator({"error_rate": {"numerator": "hyperbun_log_error_total"}})
    ev.observe(0, snap(GOOD_1))
    result = by_name(ev.observe(30, snap(GOOD_2)))["error_rate"]
    assert result.outcome == "no_data"
    assert "no metric named hyperbun_log_error_total" in result.message


def test_a_declared_counter_without_series_counts_as_zero():
    ev = evaluator()
    ev.observe(0, snap(GOOD_1, errors={}))
    assert by_name(ev.observe(30, snap(GOOD_2, errors={})))["error_rate"].outcome == "pass"


def test_several_series_where_one_was_expected_is_an_error():
    ev = evaluator()
    extra = 'memory_usage_bytes{pool="old"} 5\n'
    result = by_name(ev.observe(0, parse_exposition(exposition(**GOOD_1) + extra, "text/plain")))["memory_usage"]
    assert result.outcome == "error"
    assert "matched 2 series where one was expected" in result.message


def _hosts(*memory_and_limit, extra=""):
    """Production on several app hosts, as the watch merges their scrapes: one target each."""
    return Snapshot.merge([
        parse_exposition(exposition(**dict(GOOD_1, memory=memory, limit=limit)) + (extra if index == 0 else ""),
                         "text/plain", source=f"http://app{index + 1}:3000/metrics")
        for index, (memory, limit) in enumerate(memory_and_limit)
    ])


def test_several_hosts_are_each_judged_on_their_own_limit_and_the_worst_counts():
    # 900 of 1000 is 90 %: over 80 %, although the largest use over the largest limit would be 45 %.
    result = by_name(evaluator().observe(0, _hosts((400, 1000), (900, 1000), (300, 2000))))["memory_usage"]
    assert (result.outcome, result.value) == ("fail", 90.0)
    healthy = by_name(evaluator().observe(0, _hosts((400, 1000), (500, 1000), (300, 2000))))["memory_usage"]
    assert (healthy.outcome, healthy.value) == ("pass", 50.0)


def test_several_series_on_one_of_several_hosts_is_still_an_error_naming_that_host():
    extra = 'memory_usage_bytes{pool="old"} 5\n'
    result = by_name(evaluator().observe(0, _hosts((400, 1000), (500, 1000), extra=extra)))["memory_usage"]
    assert result.outcome == "error"
    assert "matched 2 series where one was expected" in result.message and "app1" in result.message


@pytest.mark.parametrize("memory, outcome, words", [("NaN", "no_data", "is NaN"), ("+Inf", "error", "+Inf")])
def test_nan_and_inf_gauges(memory, outcome, words):
    ev = evaluator()
    result = by_name(ev.observe(0, snap(GOOD_1, memory=memory)))["memory_usage"]
    assert (result.outcome, words in result.message) == (outcome, True)


def test_a_zero_limit_is_an_error_not_an_infinite_ratio():
    result = by_name(evaluator().observe(0, snap(GOOD_1, limit=0)))["memory_usage"]
    assert result.outcome == "error" and "is 0" in result.message


def test_a_p95_beyond_the_highest_finite_bucket_is_not_read_as_that_bound():
    # Prometheus returns the highest finite bound (5 ms) for a rank in the +Inf bucket: equal to the
    # threshold, it would pass; the true p95 is at least that bound, so the canary fails.
    ev = evaluator()
    ev.observe(0, snap(GOOD_1))
    result = by_name(ev.observe(30, snap(GOOD_2, buckets=(900, 1000, 2000))))["graph_build_p95"]
    assert result.outcome == "fail" and "highest finite bucket" in result.message


def test_a_p95_beyond_buckets_that_end_below_the_threshold_cannot_be_judged():
    ev = evaluator({"graph_build_p95": {"threshold": 50}})
    ev.observe(0, snap(GOOD_1))
    result = by_name(ev.observe(30, snap(GOOD_2, buckets=(900, 1000, 2000))))["graph_build_p95"]
    assert result.outcome == "error" and "buckets end at 5" in result.message


def test_a_histogram_without_inf_bucket_is_an_error():
    inf_bucket = 'graph_build_duration_seconds_bucket{le="+Inf"}'
    ten_bucket = 'graph_build_duration_seconds_bucket{le="10"}'
    text = exposition(**GOOD_1).replace(inf_bucket, ten_bucket)
    text2 = exposition(**GOOD_2).replace(inf_bucket, ten_bucket)
    ev = evaluator()
    observe_text(ev, 0, text)
    result = observe_text(ev, 30, text2)["graph_build_p95"]
    # The exposition itself is refused, naming the line.
    assert result.outcome == "error" and "no le=\"+Inf\" bucket" in result.message and "line " in result.message


def test_a_failed_scrape_is_an_error_for_every_scrape_criterion_and_fails_after_n():
    ev = evaluator(policy=Policy(error_after=2))
    down = SourceError("http://127.0.0.1:3001/metrics is unreachable: connection refused")
    results = ev.observe(0, down)
    assert {r.outcome for r in results} == {"error"}
    assert "connection refused" in results[0].message
    assert ev.decision is None
    ev.observe(10, down)
    assert ev.decision == "error"
    assert ev.finish().outcome == "error"


def test_no_data_fails_after_n_consecutive_and_a_good_sample_resets_the_count():
    ev = evaluator(policy=Policy(no_data_after=3))
    missing = SourceError("nothing", "no_data")
    ev.observe(0, missing)
    ev.observe(10, missing)
    ev.observe(20, snap(GOOD_1))
    ev.observe(30, missing)
    ev.observe(40, missing)
    assert ev.decision is None
    ev.observe(50, missing)
    assert ev.decision == "no_data"


def test_a_warning_breach_fails_after_n_consecutive_a_critical_one_at_once():
    ev = evaluator({"memory_growth": {"enabled": False}}, policy=Policy(warning_fail_after=2))
    ev.observe(0, snap(GOOD_1, memory=900))
    assert ev.decision is None  # memory_usage is a warning: one breach does not end the window
    ev.observe(10, snap(GOOD_1, memory=900))
    assert ev.decision == "fail" and list(ev.tripped) == ["memory_usage"]

    ev = evaluator({"memory_growth": {"enabled": False}})
    ev.observe(0, snap(GOOD_1))
    ev.observe(30, snap(GOOD_2, errors={"X": 500}))
    assert ev.decision == "fail" and "error_rate" in ev.tripped


def test_inconclusive_waits_and_ends_the_window_not_passed():
    ev = evaluator({"memory_growth": {"enabled": False}}, policy=Policy(no_data_after=1, error_after=1))
    for at in range(0, 100, 10):
        ev.observe(at, snap(requests=at, allowed=at, queries=at))
    assert ev.decision is None
    verdict = ev.finish()
    assert verdict.outcome == "inconclusive"
    assert "error_rate" in verdict.failed


def test_the_failed_criteria_are_those_that_decided_not_those_still_waiting():
    # A breach ends the window while the leak's fit still waits for samples: the failure is the
    # error rate's, and the inconclusive fit is not named as a reason.
    ev = evaluator()
    ev.observe(0, snap(GOOD_1))
    ev.observe(30, snap(GOOD_2, errors={"X": 500}))
    verdict = ev.finish()
    assert verdict.outcome == "fail"
    assert "memory_growth" in [r.criterion.name for r in verdict.results if r.outcome == "inconclusive"]
    assert verdict.failed == ["error_rate"]


def test_the_success_threshold_is_judged_over_the_whole_window_at_the_end():
    # 0.7 % errors: below the 1 % alert threshold, above the 0.5 % success threshold.
    ev = evaluator({"memory_growth": {"enabled": False}})
    ev.observe(0, snap(GOOD_1))
    during = by_name(ev.observe(30, snap(GOOD_2, errors={"X": 71})))["error_rate"]
    assert during.outcome == "pass"
    final = {r.criterion.name: r for r in ev.finish().results}["error_rate"]
    assert final.outcome == "fail" and "success criterion < 0.5" in final.message
    assert {r.criterion.name: r for r in ev.finish(success_thresholds=False).results}["error_rate"].outcome == "pass"


def test_the_rate_range_is_a_sliding_window_and_the_final_covers_everything():
    ev = evaluator({"error_rate": {"range": 60}, "memory_growth": {"enabled": False}})
    # A burst of errors early on (0.8 %, under the alert threshold), then clean traffic.
    ev.observe(0, snap(requests=0, errors={"X": 0}))
    burst = by_name(ev.observe(30, snap(requests=1000, errors={"X": 8})))["error_rate"]
    assert burst.value == pytest.approx(0.8)
    for i, at in enumerate(range(60, 400, 30)):
        result = by_name(ev.observe(at, snap(requests=2000 + 1000 * i, errors={"X": 8})))["error_rate"]
    assert result.outcome == "pass" and result.value == 0
    final = {r.criterion.name: r for r in ev.finish().results}["error_rate"]
    assert final.value == pytest.approx(8 / 13000 * 100)
    assert final.outcome == "pass"


def test_memory_leak_is_judged_from_the_line_through_many_samples():
    ev = evaluator({"memory_growth": {"min_samples": 10}})
    results = None
    for i in range(9):
        results = by_name(ev.observe(i * 60, snap(GOOD_1, memory=400 + i * 2)))
    assert results["memory_growth"].outcome == "inconclusive"
    results = by_name(ev.observe(9 * 60, snap(GOOD_1, memory=418)))
    # 2 bytes a minute of a 1000-byte limit: 12 % of the limit an hour, from 41.8 % now, a week ahead.
    assert results["memory_growth"].value == pytest.approx(41.8 + 12.0 * 168)
    assert "12 percent an hour" in results["memory_growth"].message
    assert results["memory_growth"].outcome == "fail"
    assert results["memory_usage"].outcome == "pass"


def test_stable_memory_with_noise_is_no_leak():
    ev = evaluator({"memory_growth": {"min_samples": 10}})
    for i in range(30):
        results = by_name(ev.observe(i * 60, snap(GOOD_1, memory=400 + (30 if i % 2 else -30))))
    assert results["memory_growth"].outcome == "pass"


def test_a_breaker_fails_only_after_staying_tripped_longer_than_the_threshold():
    ev = evaluator({"circuit_breaker_tripped": {"threshold": 20}})
    breaker = "circuit_breaker_tripped"
    assert by_name(ev.observe(0, snap(tripped={"db": 1, "cache": 0})))[breaker].outcome == "inconclusive"
    assert by_name(ev.observe(10, snap(tripped={"db": 1, "cache": 0})))[breaker].outcome == "inconclusive"
    # The db breaker closed; the cache one has just tripped: its clock starts now.
    assert by_name(ev.observe(15, snap(tripped={"db": 0, "cache": 1})))["circuit_breaker_tripped"].value == 0
    result = by_name(ev.observe(40, snap(tripped={"db": 0, "cache": 1})))["circuit_breaker_tripped"]
    assert result.outcome == "fail" and 'breaker="cache"' in result.message and result.value == 25
    assert by_name(ev.observe(50, snap(tripped={"db": 0, "cache": 0})))["circuit_breaker_tripped"].outcome == "pass"


def test_baseline_relative_thresholds():
    ev = evaluator({"memory_growth": {"enabled": False}}, baseline=True)
    prod_1 = snap(GOOD_1)
    prod_2 = snap(GOOD_2)  # production: 0.02 % errors
    ev.observe(0, snap(GOOD_1), baseline=prod_1)
    # The canary: 0.6 % errors, under the 1 % threshold but 0.58 points above production.
    results = by_name(ev.observe(30, snap(GOOD_2, errors={"X": 61}), baseline=prod_2))
    assert results["error_rate"].outcome == "fail"
    assert "max_increase 0.5" in results["error_rate"].message
    assert results["error_rate"].baseline_value == pytest.approx(0.02)
    assert results["memory_usage"].outcome == "pass"


def test_baseline_p95_may_exceed_production_by_at_most_y_percent():
    ev = evaluator({"memory_growth": {"enabled": False}}, baseline=True)
    ev.observe(0, snap(GOOD_1), baseline=snap(GOOD_1))
    # Both under 5 ms; the canary's p95 is 4.5 ms against production's 1 ms.
    canary = snap(GOOD_2, buckets=(1800, 1990, 2000))
    prod = snap(GOOD_2, buckets=(1990, 2000, 2000))
    result = by_name(ev.observe(30, canary, baseline=prod))["graph_build_p95"]
    assert result.outcome == "fail" and "max_increase_percent 50" in result.message


def test_an_unreachable_baseline_is_an_error_not_a_pass():
    ev = evaluator({"memory_growth": {"enabled": False}}, baseline=True)
    ev.observe(0, snap(GOOD_1), baseline=SourceError("prod down"))
    results = by_name(ev.observe(30, snap(GOOD_2), baseline=SourceError("prod down")))
    assert results["error_rate"].outcome == "error" and "baseline unmeasurable" in results["error_rate"].message
    assert results["memory_usage"].outcome == "pass"  # no baseline setting: absolute only


def test_prometheus_criterion_without_a_server_is_no_data():
    ev = Evaluator(build_criteria())
    assert by_name(ev.observe(0, snap(GOOD_1)))["critical_alerts"].outcome == "no_data"


def test_nothing_observed_is_no_data():
    assert Evaluator(build_criteria(NO_PROMETHEUS)).finish().outcome == "no_data"


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_policy_limits_must_be_whole_numbers(bad):
    with pytest.raises(ValueError):
        Policy(no_data_after=bad)


def test_long_windows_keep_bounded_state():
    ev = evaluator({"memory_growth": {"enabled": False}})
    for i in range(2000):
        ev.observe(i, snap(requests=i * 100, queries=i * 100, allowed=i * 100, buckets=(i, i, i)))
    counter_track = ev.canary.tracks["error_rate"][1]
    assert len(counter_track.times) <= 303
    assert ev.finish().outcome == "pass"


_traffic = st.lists(
    st.tuples(st.integers(min_value=0, max_value=5000), st.integers(min_value=0, max_value=50), st.booleans()),
    min_size=1, max_size=15,
)


@settings(max_examples=60, deadline=None)
@given(_traffic, st.integers(min_value=1, max_value=120))
def test_window_error_rate_counts_every_request_and_error_across_restarts(steps, spacing):
    """Whatever the restarts, the whole-window error rate is every error over every request."""
    criteria = build_criteria({"error_rate": {"min_requests": 1, "threshold": 100, "success_threshold": None}},
                              use_defaults=True)
    ev = Evaluator([c for c in criteria if c.name == "error_rate"])
    requests = errors = 0
    true_requests = true_errors = 0
    ev.observe(0, snap(requests=0, errors={"X": 0}))
    for index, (new_requests, error_share, restart) in enumerate(steps, start=1):
        new_errors = new_requests * error_share // 100  # at most one error a request
        # A restart is only visible when the counter drops, as in Prometheus.
        if restart and new_requests < requests and new_errors < errors:
            requests, errors = new_requests, new_errors
        else:
            requests, errors = requests + new_requests, errors + new_errors
        true_requests += new_requests
        true_errors += new_errors
        ev.observe(index * spacing, snap(requests=requests, errors={"X": errors}))
    final = {r.criterion.name: r for r in ev.finish().results}["error_rate"]
    if true_requests == 0:
        assert final.outcome == "inconclusive"
    else:
        assert final.value == pytest.approx(true_errors / true_requests * 100)
        assert final.outcome == "pass"


@pytest.mark.parametrize("requests", ["NaN", "+Inf"])
def test_a_counter_that_is_not_a_number_is_an_error(requests):
    ev = evaluator()
    ev.observe(0, snap(GOOD_1))
    result = by_name(ev.observe(30, snap(GOOD_2, requests=requests)))["error_rate"]
    assert result.outcome == "error" and "counter hyperbun_http_requests_total" in result.message


# A canary's /metrics is untrusted input: odd values are errors, never numbers.

def observe_text(ev, at, text):
    """Observe an exposition as the modules do: a body the parser rejects is the scrape's error."""
    try:
        canary = parse_exposition(text, "text/plain", source="canary")
    except SourceError as exc:
        canary = exc
    return by_name(ev.observe(at, canary))


@pytest.mark.parametrize("memory, limit", [(-900, 1000), (400, -1000), (-400, -1000)])
def test_a_memory_usage_or_limit_below_zero_is_an_error_never_a_share(memory, limit):
    result = by_name(evaluator().observe(0, snap(GOOD_1, memory=memory, limit=limit)))["memory_usage"]
    assert result.outcome == "error" and "below zero" in result.message and result.value is None


def test_an_error_counter_that_goes_negative_and_keeps_falling_is_an_error():
    ev = evaluator({"memory_growth": {"enabled": False}})
    outcomes = [observe_text(ev, i * 30, exposition(**{**GOOD_1, "errors": {"X": -10 * i}}))["error_rate"].outcome
                for i in range(1, 4)]
    assert outcomes == ["error"] * 3
    assert ev.finish().outcome == "error"


def test_a_series_exposed_twice_is_an_error_and_never_counted_twice():
    twice = 'hyperbun_http_requests_total{method="GET",path="/api",status="200"} %d\n'
    ev = evaluator({"memory_growth": {"enabled": False}})
    first = observe_text(ev, 0, exposition(**{**GOOD_1, "errors": {"X": 100}}) + twice % 10000)
    second = observe_text(ev, 30, exposition(**{**GOOD_2, "errors": {"X": 250}}) + twice % 20000)
    assert first["error_rate"].outcome == second["error_rate"].outcome == "error"
    assert "twice" in second["error_rate"].message or "duplicate" in second["error_rate"].message.lower()


ERRORS_AS_GAUGE = ('# TYPE hyperbun_log_errors gauge\nhyperbun_log_errors{code="X"} %d\n')


def test_errors_exported_as_a_gauge_are_an_error_not_zero_errors():
    ev = evaluator({"memory_growth": {"enabled": False}})
    for at, base, errors in ((0, GOOD_1, 0), (30, GOOD_2, 150)):
        counter = "# TYPE hyperbun_log_errors_total counter\n"
        text = exposition(**{**base, "errors": {}}).replace(counter, ERRORS_AS_GAUGE % errors)
        result = observe_text(ev, at, text)["error_rate"]
    assert result.outcome == "error" and result.value is None
    assert "hyperbun_log_errors as a gauge" in result.message and "needs a counter" in result.message


def test_a_total_typed_as_a_gauge_that_goes_up_and_down_is_an_error_not_resets():
    ev = evaluator({"memory_growth": {"enabled": False}})
    for at, errors in enumerate((50, 10, 60, 5)):
        text = exposition(**GOOD_1).replace(
            "# TYPE hyperbun_log_errors_total counter\n",
            f'# TYPE hyperbun_log_errors_total gauge\nhyperbun_log_errors_total{{code="X"}} {errors}\n')
        result = observe_text(ev, at * 30, text)["error_rate"]
        assert result.outcome == "error" and "declared gauge" in result.message and "needs a counter" in result.message


def test_a_share_above_one_is_an_error():
    ev = evaluator({"memory_growth": {"enabled": False}})
    ev.observe(0, snap(GOOD_1))
    result = by_name(ev.observe(30, snap(GOOD_2, queries=20000, timeouts=15000)))["query_timeout_rate"]
    assert result.outcome == "error" and "cannot be above one" in result.message


@pytest.mark.parametrize("overrides, criterion, needs", [
    ({"graph_build_p95": {"metric": "hyperbun_http_requests"}}, "graph_build_p95", "needs a histogram"),
    ({"circuit_breaker_tripped": {"metric": "queries_total"}}, "circuit_breaker_tripped", "needs a gauge"),
    ({"memory_usage": {"numerator": "queries_total"}}, "memory_usage", "needs a gauge"),
    ({"error_rate": {"numerator": "memory_usage_bytes"}}, "error_rate", "needs a counter"),
])
def test_a_family_whose_type_is_not_what_the_criterion_needs_is_an_error(overrides, criterion, needs):
    ev = evaluator(dict(overrides, memory_growth={"enabled": False}))
    ev.observe(0, snap(GOOD_1))
    result = by_name(ev.observe(30, snap(GOOD_2)))[criterion]
    assert result.outcome == "error" and needs in result.message


def memory_only(samples, usage):
    """Judge only the leak over `samples` scrapes 30 s apart, memory usage (of a 1000-byte limit) from usage(i)."""
    ev = Evaluator([c for c in build_criteria(NO_PROMETHEUS) if c.name == "memory_growth"])
    lines = ("# TYPE memory_usage_bytes gauge\nmemory_usage_bytes {}\n"
             "# TYPE memory_limit_bytes gauge\nmemory_limit_bytes 1000\n")
    start = 1_764_000_000
    for i in range(samples):
        result = by_name(ev.observe(start + 30 * i, parse_exposition(lines.format(usage(i)), "text/plain")))
    return ev, result["memory_growth"]


def test_a_slow_steady_climb_over_a_day_is_a_leak():
    """40 % to 60 % of the limit over 24 h is 0.83 %/h, which a 5 %/h slope never flags."""
    ev, result = memory_only(2880, lambda i: 400 + 200 * i / 2879)
    assert result.outcome == "fail"
    # The fitted line reaches 60 % now and climbs 0.83 % an hour: a week ahead it stands near 200 %.
    assert result.value == pytest.approx(60 + 200 / 24 * 168 / 10, rel=0.01)
    assert ev.finish().outcome == "fail"


def test_a_day_of_flat_memory_with_a_sawtooth_is_no_leak():
    _ev, result = memory_only(2880, lambda i: 600 + (50 if i % 40 < 20 else -50))
    assert result.outcome == "pass" and result.value == pytest.approx(60, abs=1)


def test_the_leak_needs_its_samples_and_keeps_bounded_state():
    ev, result = memory_only(9, lambda i: 400)
    assert result.outcome == "inconclusive" and "9 sample(s) of 10" in result.message
    assert ev.finish().outcome == "inconclusive"
    ev, result = memory_only(3000, lambda i: 400 + i % 7)
    fit = ev.canary.tracks["memory_growth"].fit
    assert all(isinstance(value, (int, float)) for value in vars(fit).values())


def test_a_new_kind_is_one_registered_class():
    from ansible_collections.hyperbun.canary.plugins.module_utils import _kinds

    @_kinds.register
    class Highest(_kinds.Value):
        """The highest series of a gauge."""

        name = "test_highest"

        def read_value(self, snapshot):
            return _kinds.gauge_value(snapshot, self.numerator[0], "max", "the test")

    try:
        criteria = build_criteria({"breakers_open": {"kind": "test_highest", "metric": "circuit_breaker_tripped",
                                                     "threshold": 0}}, use_defaults=False)
        result = by_name(Evaluator(criteria).observe(0, snap(tripped={"db": 0, "cache": 1})))["breakers_open"]
        assert result.outcome == "fail" and result.value == 1
    finally:
        del _kinds.KINDS["test_highest"]


def test_alerts_that_fired_before_this_canary_started_are_not_counted():
    class Prometheus:
        def alerts(self):
            return [{"labels": {"alertname": "CanaryHighErrorRate", "severity": "critical"}, "state": "firing",
                     "activeAt": "2026-11-27T10:00:00.123456789Z"},
                    {"labels": {"alertname": "CanaryCircuitBreakerTripped", "severity": "critical"},
                     "state": "firing", "activeAt": "2026-11-27T10:05:00Z"},
                    {"labels": {"alertname": "NoStart", "severity": "critical"}, "state": "firing"}]

    criteria = [c for c in build_criteria() if c.name == "critical_alerts"]
    started = 1_795_773_660.0  # 2026-11-27T10:01:00Z
    result = Evaluator(criteria, alerts_not_before=started).observe(started + 5, prometheus=Prometheus())[0]
    assert result.outcome == "fail" and result.value == 2
    assert "firing: CanaryCircuitBreakerTripped, NoStart" in result.message
    assert "1 firing since before this canary started, not counted (CanaryHighErrorRate)" in result.message
    assert Evaluator(criteria).observe(started + 5, prometheus=Prometheus())[0].value == 3


@pytest.mark.parametrize("text", ["2026-11-27T10:01:00+00:00", "2026-11-27T10:01:00Z", "2026-11-27T10:01:00",
                                  "2026-11-27T11:01:00+01:00", "2026-11-27T10:01:00.000000001Z", "1795773660"])
def test_alerts_since_takes_the_times_playbooks_and_prometheus_write(text):
    from ansible_collections.hyperbun.canary.plugins.module_utils._judge_params import parse_time

    # now(utc=true).isoformat() in a playbook has no offset: it is UTC.
    assert parse_time(text, "alerts_since") == pytest.approx(1_795_773_660.0)


def test_a_line_fit_that_overflows_is_an_error_never_a_nan_that_passes():
    # One absurd sample (a huge usage over a tiny limit) takes the fit's sums to NaN, which no
    # threshold catches: the leak is unmeasurable from then on, and the window ends in error.
    ev = evaluator({"memory_growth": {"min_samples": 3}}, policy=Policy(error_after=3))
    for i in range(12):
        absurd = dict(memory="1e308", limit="1e-300") if i == 5 else {}
        result = by_name(ev.observe(i * 30, snap(GOOD_1, **absurd)))["memory_growth"]
    assert result.outcome == "error" and result.value is None and "not a number (NaN)" in result.message
    assert ev.decision == "error"
    assert {r.criterion.name: r for r in ev.finish().results}["memory_growth"].outcome == "error"


def test_a_baseline_that_is_not_a_number_is_an_error_not_a_pass():
    # Each sum of two huge gauges overflows to infinity, and infinity over infinity is NaN.
    twice = {"numerator": ["memory_usage_bytes"] * 2, "denominator": ["memory_limit_bytes"] * 2,
             "baseline": {"max_increase": 5}}
    ev = evaluator({"memory_growth": {"enabled": False}, "memory_usage": twice}, baseline=True)
    production = snap(GOOD_1, memory="1e308", limit="1e308")
    result = by_name(ev.observe(0, snap(GOOD_1), baseline=production))["memory_usage"]
    assert result.outcome == "error" and "baseline unmeasurable" in result.message and "NaN" in result.message
