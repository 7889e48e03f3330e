# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The judgements over time that the watch keeps for the report: bounded, breaches kept, resumed from a checkpoint."""

from __future__ import annotations

import copy
import json

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils import _checkpoint
from ansible_collections.hyperbun.canary.plugins.module_utils._checkpoint import CheckpointError
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Evaluator, Result
from ansible_collections.hyperbun.canary.plugins.module_utils._series import MAX_POINTS, Series
from ansible_collections.hyperbun.canary.tests.unit.plugins.module_utils.test_judge import GOOD_1, GOOD_2, snap

START = 1_764_000_000
ERROR_RATE = next(c for c in build_criteria() if c.name == "error_rate")


def roundtrip(checkpoint):
    return json.loads(json.dumps(checkpoint, allow_nan=False))


def day(breach_at=None, samples=2880):
    """A series of `samples` judgements 30 s apart of error_rate, a pass of 0.1 % to 0.7 %, and one breach."""
    series = Series([ERROR_RATE])
    for i in range(samples):
        failing = i == breach_at
        value = 4.2 if failing else 0.1 * (1 + i % 7)
        series.add([Result(ERROR_RATE, "fail" if failing else "pass", value, baseline_value=0.2, at=START + 30 * i)])
    return series.points["error_rate"]


def test_a_day_at_30_seconds_keeps_at_most_its_bound_and_every_sample_is_counted():
    points = day()
    assert MAX_POINTS // 2 <= len(points) <= MAX_POINTS
    assert sum(p[4] for p in points) == 2880
    times = [p[0] for p in points]
    assert times == sorted(times) and times[0] <= START + 30 * 16 and times[-1] == START + 30 * 2879
    # Older points stand for more samples than the newest, which are single samples.
    assert points[0][4] >= 8 and points[-1][4] == 1


def test_a_merged_group_keeps_its_worst_value():
    points = day()
    # Each group of 7 samples or more has seen the week's worst value, 0.7 %.
    assert all(p[1] == pytest.approx(0.7) for p in points if p[4] >= 7)


@pytest.mark.parametrize("breach_at", [3, 1000, 2870])
def test_a_breach_survives_the_downsampling_with_its_time_and_value(breach_at):
    points = day(breach_at)
    breaches = [p for p in points if p[3] == "fail"]
    assert breaches == [[START + 30 * breach_at, 4.2, 0.2, "fail", breaches[0][4]]]


def test_the_series_goes_on_from_a_checkpoint_as_if_nothing_had_stopped():
    criteria = build_criteria()

    def observe(ev, i):
        traffic = dict(GOOD_2, requests=20000 * i, allowed=20000 * i - 10, queries=20000 * i)
        ev.observe(START + 30 * i, snap(traffic), snap(GOOD_1))
        ev.series.note_share(START + 30 * i, 5.0 if i < 400 else 25.0)

    whole = Evaluator(criteria, baseline=True)
    for i in range(1, 700):
        observe(whole, i)
    resumed = Evaluator(criteria, baseline=True)
    for i in range(1, 700):
        if i % 97 == 0:
            text = _checkpoint.dumps(resumed.checkpoint())
            resumed = Evaluator.restore(_checkpoint.loads(text), criteria, baseline=True)
        observe(resumed, i)
    assert resumed.series_dict() == whole.series_dict()
    series = whole.series_dict()
    assert series["shares"] == [{"at": START + 30, "share": 5.0}, {"at": START + 30 * 400, "share": 25.0}]
    error_rate = next(s for s in series["criteria"] if s["name"] == "error_rate")
    assert error_rate["compares_with_production"] and error_rate["threshold"] == 1
    assert len(error_rate["at"]) == len(error_rate["value"]) == len(error_rate["outcome"]) <= MAX_POINTS
    assert sum(error_rate["samples"]) == 699
    memory = next(s for s in series["criteria"] if s["name"] == "memory_usage")
    assert not memory["compares_with_production"] and set(memory["baseline_value"]) == {None}


def test_a_checkpoint_of_version_1_goes_on_with_an_empty_series():
    criteria = build_criteria()
    ev = Evaluator(criteria)
    ev.observe(START, snap(GOOD_1))
    old = roundtrip(ev.checkpoint())
    old.pop("series")
    old["version"] = 1
    restored = Evaluator.restore(old, criteria)
    assert restored.samples == 1 and all(points == [] for points in restored.series.points.values())
    restored.observe(START + 30, snap(GOOD_2))
    assert all(len(points) == 1 for points in restored.series.points.values())


def good():
    ev = Evaluator(build_criteria(), baseline=True)
    ev.observe(START, snap(GOOD_1), snap(GOOD_1))
    ev.series.note_share(START, 5)
    ev.observe(START + 30, snap(GOOD_2), snap(GOOD_2))
    return roundtrip(ev.checkpoint())


def points(checkpoint, name="error_rate"):
    return checkpoint["series"]["criteria"][name]


MALFORMED = {
    "no series in version 2": (lambda c: c.pop("series"), "checkpoint: missing series"),
    "a series in version 1": (lambda c: c.update(version=1), "checkpoint: unexpected series"),
    "a criterion missing": (lambda c: c["series"]["criteria"].pop("memory_usage"), "criteria: missing memory_usage"),
    "a criterion of another judge": (lambda c: c["series"]["criteria"].update(other=[]), "criteria: unexpected other"),
    "a point of four fields": (lambda c: points(c)[0].pop(), "error_rate[0]: expected 5 item(s), got 4"),
    "an unknown outcome": (lambda c: points(c)[0].__setitem__(3, "<script>"),
                           "error_rate[0][3]: '<script>' is not one of"),
    "a value as text": (lambda c: points(c)[0].__setitem__(1, "0.5"), "error_rate[0][1]: expected a number"),
    "a bare NaN time": (lambda c: points(c)[0].__setitem__(0, float("nan")), "nan is not a finite number"),
    "a point of no sample": (lambda c: points(c)[0].__setitem__(4, 0), "a point stands for 1 sample or more"),
    "more samples than judged": (lambda c: points(c)[0].__setitem__(4, 5),
                                 "series.criteria.error_rate: points for 6 samples, but the judge took 2"),
    "times out of order": (lambda c: points(c).reverse(), "a point earlier than the one before it"),
    "a point after the last sample": (lambda c: points(c)[1].__setitem__(0, START + 3600),
                                      "a point outside the observations' times"),
    "too many points": (lambda c: points(c).extend([copy.deepcopy(points(c)[-1])] * MAX_POINTS),
                        f"more than the {MAX_POINTS} a series keeps"),
    "a share above 100": (lambda c: c["series"]["shares"][0].__setitem__(1, 500), "500 is more than 100 (percent)"),
    "a negative share": (lambda c: c["series"]["shares"][0].__setitem__(1, -1), "-1 is below 0"),
    "a share without its time": (lambda c: c["series"]["shares"][0].pop(0), "shares[0]: expected 2 item(s), got 1"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_series_is_refused_naming_the_problem(case):
    change, expected = MALFORMED[case]
    checkpoint = good()
    change(checkpoint)
    with pytest.raises(CheckpointError) as refused:
        Evaluator.restore(checkpoint, build_criteria(), baseline=True)
    assert expected in str(refused.value)


def test_the_good_checkpoint_those_cases_change_is_read():
    restored = Evaluator.restore(good(), build_criteria(), baseline=True)
    assert restored.series.shares == [[START, 5]]
    assert [len(p) for p in restored.series.points.values()] == [2] * len(build_criteria())
