from __future__ import annotations

from fractions import Fraction

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.hyperbun.canary.plugins.filter.split_weights import FilterModule, split_weights
from hypothesis import given, settings
from hypothesis import strategies as st


def canary_share(result):
    total = sum(result["weights"].values())
    return Fraction(sum(result["canary_weights"]), total) * 100


@pytest.mark.parametrize(
    ("production", "canary", "percentage", "lb_type", "expected"),
    [
        (["p:3000"], ["c:3001"], 5, "nginx", {"p:3000": 19, "c:3001": 1}),
        (
            ["a:3000", "b:3000", "c:3000"],
            ["a:3001"],
            5,
            "nginx",
            {"a:3000": 19, "b:3000": 19, "c:3000": 19, "a:3001": 3},
        ),
        (["p"], ["c"], 25, "haproxy", {"p": 3, "c": 1}),
        (["p"], ["c"], 50, "nginx", {"p": 1, "c": 1}),
        (["p"], ["c"], 0, "nginx", {"p": 1, "c": 0}),
        (["p"], ["c"], 100, "haproxy", {"p": 0, "c": 1}),
        (["p1", "p2"], [], 0, "nginx", {"p1": 1, "p2": 1}),
    ],
)
def test_known_splits(production, canary, percentage, lb_type, expected):
    result = split_weights(production, canary, percentage, lb_type=lb_type)
    assert result["weights"] == expected
    assert result["exact"] is True
    assert result["achieved"] == pytest.approx(percentage)
    assert result["error"] == 0


def test_decimal_percentage_is_exact_when_range_allows():
    result = split_weights(1, 1, "33.3")
    assert result["weights"] == {"production_1": 667, "canary_1": 333}
    assert result["exact"] is True


def test_closest_split_when_haproxy_range_is_too_small():
    result = split_weights(1, 1, 33.3, lb_type="haproxy")
    assert result["exact"] is False
    assert max(result["weights"].values()) <= 256
    best = min(abs(Fraction(c, c + p) - Fraction(333, 1000)) for c in range(1, 257) for p in range(1, 257))
    assert abs(canary_share(result) / 100 - Fraction(333, 1000)) == best
    assert result["error"] == pytest.approx(result["achieved"] - 33.3)


def test_the_alb_splits_between_two_target_groups_within_999():
    assert split_weights(["production"], ["canary"], 33.3, lb_type="alb")["weights"] == {"production": 667,
                                                                                         "canary": 333}
    # 0.05 % needs 1 against 1999: beyond the ALB's range, so the closest split within 999 (1 against 999).
    result = split_weights(["production"], ["canary"], 0.05, lb_type="alb")
    assert result["weights"] == {"production": 999, "canary": 1}
    assert not result["exact"] and result["error"] == pytest.approx(0.05)
    assert split_weights(["production"], ["canary"], 5, lb_type="alb")["weights"] == {"production": 19, "canary": 1}
    assert split_weights(["production"], ["canary"], 0, lb_type="alb")["weights"] == {"production": 1, "canary": 0}


def test_uneven_weights_when_no_even_split_is_exact():
    # 60 % with weights up to 3: canary total 3 over two servers is the only exact split.
    result = split_weights(1, 2, 60, max_weight=3)
    assert result["exact"] is True
    assert sorted(result["canary_weights"]) == [1, 2]
    assert canary_share(result) == 60


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"percentage": 101}, "from 0 to 100"),
        ({"percentage": -1}, "from 0 to 100"),
        ({"percentage": "five"}, "must be a number"),
        ({"percentage": True}, "must be a number"),
        ({"percentage": None}, "must be a number"),
        ({"percentage": float("nan")}, "must be a number"),
        ({"percentage": 5, "lb_type": "f5"}, "unknown load balancer type 'f5'"),
        ({"percentage": 5, "max_weight": 300, "lb_type": "haproxy"}, "max_weight must be an integer from 1 to 256"),
        ({"percentage": 5, "max_weight": 0}, "max_weight"),
    ],
)
def test_bad_input_is_refused_with_a_message(kwargs, message):
    with pytest.raises(AnsibleFilterError, match=message):
        split_weights(["p"], ["c"], **kwargs)


def test_share_without_canary_is_refused():
    with pytest.raises(AnsibleFilterError, match="needs at least one canary server"):
        split_weights(["p"], [], 5)


def test_production_share_without_production_is_refused():
    with pytest.raises(AnsibleFilterError, match="no production server"):
        split_weights([], ["c"], 50)


def test_server_in_both_groups_is_refused():
    with pytest.raises(AnsibleFilterError, match="both production and canary"):
        split_weights(["a:3000"], ["a:3000"], 5)


def test_registered_as_filter():
    assert FilterModule().filters()["split_weights"] is split_weights


@settings(deadline=None)
@given(
    production=st.integers(min_value=1, max_value=6),
    canary=st.integers(min_value=1, max_value=3),
    percentage=st.integers(min_value=0, max_value=10000).map(lambda hundredths: Fraction(hundredths, 100)),
    lb_type=st.sampled_from(["nginx", "haproxy", "alb"]),
)
def test_weights_are_valid_and_never_worse_than_even_weights(production, canary, percentage, lb_type):
    as_text = f"{float(percentage):.2f}"
    result = split_weights(production, canary, as_text, lb_type=lb_type)
    limit = {"haproxy": 256, "alb": 999}.get(lb_type, 1000)
    weights = list(result["weights"].values())
    assert all(0 <= w <= limit for w in weights)
    assert len(weights) == production + canary
    # within a group weights differ by at most one
    for group in (result["production_weights"], result["canary_weights"]):
        assert max(group) - min(group) <= 1
    achieved = canary_share(result)
    assert result["achieved"] == pytest.approx(float(achieved))
    assert result["exact"] == (achieved == percentage)
    assert result["error"] == pytest.approx(float(achieved - percentage))
    if 0 < percentage < 100:
        assert min(weights) >= 1
        # no pair of equal per-group weights in range does better
        best_even = min(
            abs(Fraction(canary * c, canary * c + production * p) * 100 - percentage)
            for c in range(1, limit + 1, max(1, limit // 64))
            for p in range(1, limit + 1, max(1, limit // 64))
        )
        assert abs(achieved - percentage) <= best_even
    else:
        assert result["exact"] is True


@given(
    production=st.integers(min_value=1, max_value=5),
    canary=st.integers(min_value=1, max_value=5),
    percentage=st.integers(min_value=1, max_value=99),
)
def test_integer_percentages_are_exact_on_nginx(production, canary, percentage):
    result = split_weights(production, canary, percentage)
    assert result["exact"] is True
    assert canary_share(result) == percentage
