# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import itertools
import math

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_math import (
    LineFit,
    counter_increase,
    histogram_quantile,
    least_squares_slope,
)
from hypothesis import assume, given
from hypothesis import strategies as st

INF = math.inf
# Prometheus's own test data (promql/promqltest/testdata/histograms.test), at 50m: bucket counts
# are ten times the per-step increments.
POSITIVE = [(0.1, 50), (0.2, 70), (1.0, 110), (INF, 120)]
NEGATIVE = [(-0.2, 10), (-0.1, 20), (0.3, 20), (INF, 30)]


@pytest.mark.parametrize("q, buckets, expected", [
    (0.2, POSITIVE, 0.048),  # lowest bucket, positive bound: interpolated from 0
    (0.5, POSITIVE, 0.15),
    (0.8, POSITIVE, 0.72),
    (1.0, POSITIVE, 1.0),  # rank in the +Inf bucket: the highest finite bound
    (0.0, POSITIVE, 0.0),
    (0.0, NEGATIVE, -0.2),  # lowest bucket with a bound <= 0: the bound itself
    (0.2, NEGATIVE, -0.2),
    (0.5, NEGATIVE, -0.15),
    (0.8, NEGATIVE, 0.3),
    (1.0, NEGATIVE, 0.3),
    # Non-monotonic buckets are made monotonic first (same file: 8.5).
    (0.5, [(0.1, 2), (1, 1), (10, 5), (100, 4), (1000, 9), (INF, 8)], 8.5),
    # Buckets of equal bound (two series summed without `by (le)` care) are added together.
    (0.25, [(1.0, 5), (1.0, 5), (INF, 10), (INF, 10)], 0.5),
])
def test_histogram_quantile_matches_prometheus(q, buckets, expected):
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


@pytest.mark.parametrize("q, expected", [(-0.1, -INF), (1.01, INF)])
def test_quantile_out_of_range_is_infinite(q, expected):
    assert histogram_quantile(q, POSITIVE) == expected


@pytest.mark.parametrize("buckets", [
    [(0.1, 5), (0.2, 7)],  # no +Inf bucket
    [(INF, 5)],  # fewer than two buckets
    [(0.1, 0), (INF, 0)],  # no observation
    [],
])
def test_quantile_is_nan_when_prometheus_gives_nan(buckets):
    assert math.isnan(histogram_quantile(0.95, buckets))


def test_the_zero_quantile_of_an_empty_lowest_bucket_is_nan_as_in_prometheus():
    assert math.isnan(histogram_quantile(0, [(0.1, 0), (1.0, 5), (INF, 5)]))
    assert histogram_quantile(0, [(0.1, 2), (1.0, 5), (INF, 5)]) == 0


def test_quantile_of_nan_is_nan():
    assert math.isnan(histogram_quantile(math.nan, POSITIVE))


_bounds = st.lists(st.floats(min_value=0.0001, max_value=1000), min_size=1, max_size=12, unique=True)
_counts = st.lists(st.integers(min_value=0, max_value=10000), min_size=13, max_size=13)


@given(_bounds, _counts, st.floats(min_value=0, max_value=1), st.floats(min_value=0, max_value=1))
def test_quantile_is_monotonic_in_q_and_within_the_buckets(bounds, counts, q1, q2):
    bounds = sorted(bounds)
    cumulative = []
    running = 0
    for bound, count in zip([*bounds, INF], counts[: len(bounds) + 1], strict=True):
        running += count
        cumulative.append((bound, running))
    assume(running > 0)
    low, high = sorted((q1, q2))
    assume(low > 0 or cumulative[0][1] > 0)
    a, b = histogram_quantile(low, cumulative), histogram_quantile(high, cumulative)
    assert 0 <= a <= b <= bounds[-1]


@given(st.lists(st.tuples(st.integers(min_value=0, max_value=10**6), st.booleans()), max_size=40))
def test_counter_increase_counts_every_increment_across_resets(steps):
    values = [0.0]
    for increment, reset in steps:
        if reset and increment < values[-1]:
            values.append(float(increment))  # the process restarted and counted `increment` since
        else:
            values.append(values[-1] + increment)
    expected = sum(b if b < a else b - a for a, b in itertools.pairwise(values))
    assert counter_increase(values) == pytest.approx(expected)
    assert counter_increase(values) >= 0


def test_counter_increase_with_a_reset():
    assert counter_increase([100, 150, 20, 30]) == 50 + 20 + 10


@given(st.floats(min_value=-1e6, max_value=1e6), st.floats(min_value=-1e3, max_value=1e3),
       st.integers(min_value=2, max_value=60))
def test_slope_of_a_line_is_its_slope(intercept, slope, count):
    points = [(t * 30.0, intercept + slope * t * 30.0) for t in range(count)]
    assert least_squares_slope(points) == pytest.approx(slope, rel=1e-6, abs=1e-6)


def test_slope_sees_a_leak_under_noise_that_one_sample_would_miss():
    # A sawtooth (garbage collection) around a slow climb of 1 byte a second.
    points = [(t, 1000 + t + (50 if t % 20 < 10 else -50)) for t in range(0, 600, 5)]
    assert least_squares_slope(points) == pytest.approx(1.0, rel=0.1)


def test_slope_is_undefined_without_spread():
    assert least_squares_slope([(5, 1), (5, 2)]) is None
    assert least_squares_slope([(5, 1)]) is None


@given(st.floats(min_value=0, max_value=1), st.floats(min_value=-1e-4, max_value=1e-4),
       st.integers(min_value=2, max_value=3000))
def test_the_running_fit_agrees_with_the_least_squares_line_over_a_day_of_unix_times(intercept, slope, count):
    start = 1_764_000_000.0
    points = [(start + t * 30.0, intercept + slope * t * 30.0 + (0.01 if t % 2 else -0.01)) for t in range(count)]
    fit = LineFit()
    for at, value in points:
        fit.add(at, value)
    assert fit.slope() == pytest.approx(least_squares_slope(points), rel=1e-6, abs=1e-12)
    assert fit.span == points[-1][0] - points[0][0]


def test_the_running_fit_needs_two_times():
    fit = LineFit()
    fit.add(5, 1)
    assert fit.slope() is None and fit.value_at(10) is None
    fit.add(5, 2)
    assert fit.slope() is None
    fit.add(15, 3)
    assert fit.slope() == pytest.approx(0.15) and fit.value_at(15) == pytest.approx(3.0)


def test_the_slope_error_is_small_for_a_steady_climb_and_large_for_short_noise():
    steady, noisy = LineFit(), LineFit()
    for i in range(2880):
        steady.add(i * 30.0, 0.4 + 0.2 * i / 2879 + (0.005 if i % 2 else -0.005))
    for i in range(30):
        noisy.add(i * 60.0, 0.4 + (0.03 if i % 2 else -0.03))
    assert steady.slope_error() < steady.slope() / 100
    assert noisy.slope_error() > abs(noisy.slope())
    two = LineFit()
    two.add(0, 1)
    two.add(1, 2)
    assert two.slope_error() == math.inf
