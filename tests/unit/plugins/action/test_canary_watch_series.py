# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The series the watch returns for the report, run for real by ansible-playbook against a server on 127.0.0.1:
every sample's value, production's, the threshold and the outcome; the history kept across a resumed window."""

from __future__ import annotations

from ansible_collections.hyperbun.canary.tests.unit.plugins.action.test_canary_watch import watch
from ansible_collections.hyperbun.canary.tests.unit.plugins.action.test_canary_watch_resume import (
    CRITERIA,
    scrapes,
    serve_counters,
    settings,
)

ERRORS = {"error_rate": {"kind": "rate_ratio", "numerator": "app_errors_total", "denominator": "app_requests_total",
                         "threshold": 5, "unit": "percent", "min_requests": 1, "range": 60,
                         "baseline": {"max_increase": 50}}}


def test_the_series_holds_every_sample_and_goes_on_from_the_checkpoint(tmp_path, server):
    serve_counters(server, "/metrics")
    first, _output = watch(tmp_path, **settings(server, window="30s", max_samples=3, return_checkpoint=True,
                                                traffic_share=5))
    assert first["verdict"] == "running", first["msg"]
    series = {s["name"]: s for s in first["series"]["criteria"]}
    assert set(series) == set(CRITERIA)
    queue = series["queue_depth"]
    # The served gauge is the scrape's number modulo 4.
    assert queue["value"] == [1, 2, 3] and queue["outcome"] == ["pass"] * 3 and queue["samples"] == [1, 1, 1]
    assert queue["threshold"] == 10 and queue["comparison"] == ">" and not queue["compares_with_production"]
    assert first["series"]["shares"] == [{"at": queue["at"][0], "share": 5.0}]

    second, _output = watch(tmp_path, **settings(server, window="30s", max_samples=2, traffic_share=5,
                                                 checkpoint=first["checkpoint"],
                                                 window_started_at=first["started_at"]))
    queue = next(s for s in second["series"]["criteria"] if s["name"] == "queue_depth")
    assert second["resumed"] and queue["value"] == [1, 2, 3, 0, 1], queue
    assert queue["at"] == sorted(queue["at"]) and len(second["series"]["shares"]) == 1
    assert scrapes(server, "/metrics") == 5


def test_a_breach_and_production_s_values_are_in_the_series(tmp_path, server):
    n = {"canary": 0}

    def canary(_handler):
        n["canary"] += 1
        errors = 0 if n["canary"] < 4 else 30 * (n["canary"] - 3)
        return (f"# TYPE app_requests_total counter\napp_requests_total {100 * n['canary']}\n"
                f"# TYPE app_errors_total counter\napp_errors_total {errors}\n")

    def production(_handler):
        count = scrapes(server, "/production")
        return (f"# TYPE app_requests_total counter\napp_requests_total {100 * count}\n"
                f"# TYPE app_errors_total counter\napp_errors_total {count}\n")

    server.serve("/metrics", canary)
    server.serve("/production", production)
    result, _output = watch(tmp_path, **settings(server, window="30s", criteria=ERRORS,
                                                 baseline_urls=[server.url("/production")]))
    assert result["verdict"] == "fail" and result["stopped_early"], result["msg"]
    errors = result["series"]["criteria"][0]
    assert errors["compares_with_production"] and errors["threshold"] == 5
    assert errors["outcome"][-1] == "fail" and set(errors["outcome"][:-1]) <= {"pass", "inconclusive"}
    assert errors["value"][-1] > 5
    # Production's 1 % beside each pass (a breach of the threshold is not compared with it).
    assert {b for b, o in zip(errors["baseline_value"], errors["outcome"], strict=True) if o == "pass"} == {1}
    assert result["series"]["shares"] == []
