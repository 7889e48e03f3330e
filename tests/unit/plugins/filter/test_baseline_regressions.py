"""Production's numbers against the baseline recorded at promotion."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.hyperbun.canary.plugins.filter.baseline_regressions import baseline_regressions

CRITERIA = {
    "error_rate": {"baseline": {"max_increase": 0.5}},
    "graph_build_p95": {"baseline": {"max_increase_percent": 50}},
    "memory_usage": {},
}


def result(name, value, outcome="pass"):
    return {"name": name, "outcome": outcome, "value": value}


def test_an_error_rate_half_a_point_above_the_baseline_regresses():
    found = baseline_regressions([result("error_rate", 0.8)], {"error_rate": 0.05}, CRITERIA)
    assert [r["name"] for r in found] == ["error_rate"]
    assert found[0]["allowed"] == pytest.approx(0.55)
    assert "0.8 against 0.05" in found[0]["message"]


def test_within_the_margins_nothing_regresses():
    results = [result("error_rate", 0.5), result("graph_build_p95", 2.9)]
    assert baseline_regressions(results, {"error_rate": 0.05, "graph_build_p95": 2.0}, CRITERIA) == []


def test_a_relative_margin_applies():
    found = baseline_regressions([result("graph_build_p95", 3.1)], {"graph_build_p95": 2.0}, CRITERIA)
    assert found[0]["allowed"] == pytest.approx(3.0)


def test_a_zero_baseline_is_not_compared_relatively():
    assert baseline_regressions([result("graph_build_p95", 9.0)], {"graph_build_p95": 0}, CRITERIA) == []


@pytest.mark.parametrize("outcome", ["no_data", "error", "inconclusive"])
def test_what_was_not_measured_is_not_compared(outcome):
    assert baseline_regressions([result("error_rate", None, outcome)], {"error_rate": 0.0}, CRITERIA) == []


def test_criteria_without_margins_or_a_recorded_value_are_not_compared():
    results = [result("memory_usage", 90.0), result("error_rate", 5.0)]
    assert baseline_regressions(results, {"memory_usage": 10.0}, CRITERIA) == []


@pytest.mark.parametrize("recorded", ["0.1", float("nan"), float("inf"), True, [1]])
def test_a_recorded_value_that_is_not_a_finite_number_is_refused_by_name(recorded):
    with pytest.raises(AnsibleFilterError, match="recorded value of error_rate"):
        baseline_regressions([result("error_rate", 0.8)], {"error_rate": recorded}, CRITERIA)
