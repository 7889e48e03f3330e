# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The judgement survives the controller: a checkpoint, read back, goes on as if nothing had stopped."""

from __future__ import annotations

import copy
import json
import re

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils import _checkpoint
from ansible_collections.hyperbun.canary.plugins.module_utils._checkpoint import CheckpointError
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import SourceError, parse_exposition
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Evaluator, Policy
from ansible_collections.hyperbun.canary.plugins.module_utils._judge_params import (
    POLICY_ARGUMENT_SPEC,
    Judge,
    SetupError,
    argument_spec,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._series import MAX_POINTS
from ansible_collections.hyperbun.canary.tests.unit.plugins.module_utils.test_judge import (
    GOOD_1,
    GOOD_2,
    exposition,
    snap,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

START = 1_764_000_000
# Fast to judge: the leak needs three samples, so that short sequences reach every outcome.
OVERRIDES = {"memory_growth": {"min_samples": 3}}


def roundtrip(checkpoint):
    """What a file on a host gives back: the checkpoint through strict JSON."""
    return json.loads(json.dumps(checkpoint, allow_nan=False))


class Alerts:
    """A Prometheus server that answers /api/v1/alerts with one critical alert firing, none, or fails."""

    def __init__(self, state):
        self.state = state

    def alerts(self):
        if self.state == "down":
            raise SourceError("prometheus http://127.0.0.1:9090/api/v1/alerts is unreachable")
        if self.state == "firing":
            return [{"labels": {"alertname": "CanaryHighErrorRate", "severity": "critical"}, "state": "firing",
                     "activeAt": "2025-11-24T16:00:00Z"}]
        return []


class Service:
    """The counters and gauges of one service across samples: the events move them on."""

    def __init__(self):
        self.values = dict(requests=0, errors={"X": 0}, rejected=0, allowed=0, memory=400, limit=1000,
                           tripped={"db": 0}, queries=0, timeouts=0, buckets=(0, 0, 0))

    def step(self, event, traffic):
        """The exposition's text after `event`, or a SourceError for a failed scrape."""
        v = self.values
        if event == "scrape_error":
            return SourceError("canary http://127.0.0.1:3001/metrics is unreachable: connection refused")
        if event == "scrape_no_data":
            return SourceError("canary http://127.0.0.1:3001/metrics answered no samples", "no_data")
        if event == "reset":
            # A restart: every counter starts again from zero.
            v.update(requests=0, errors={"X": 0}, rejected=0, allowed=0, queries=0, timeouts=0, buckets=(0, 0, 0))
        errors = dict(v["errors"])
        errors["X"] += traffic // 1000
        if event == "errors":
            errors["DB_DOWN"] = errors.get("DB_DOWN", 0) + traffic // 20 + 5
        low, mid, total = v["buckets"]
        slow = event == "slow"
        v.update(requests=v["requests"] + traffic, errors=errors, allowed=v["allowed"] + traffic,
                 rejected=v["rejected"] + (traffic // 3 if event == "rate_limited" else traffic // 500),
                 queries=v["queries"] + traffic, timeouts=v["timeouts"] + traffic // 4000,
                 buckets=(low + (0 if slow else traffic * 9 // 10), mid + (0 if slow else traffic), total + traffic))
        if event == "leak":
            v["memory"] += 40
        elif event == "memory_high":
            v["memory"] = 900
        elif event == "memory_ok":
            v["memory"] = 400
        if event == "breaker":
            v["tripped"] = {"db": 1 - v["tripped"]["db"], "cache": 0}
        shown = dict(v)
        if event == "absurd":
            # Arithmetic on these overflows: the leak's sums become NaN for good.
            shown.update(memory="1e308", limit="1e-300")
        text = exposition(**shown)
        if event == "no_errors_family":
            text = "\n".join(line for line in text.splitlines() if "hyperbun_log_errors_total" not in line) + "\n"
        if event == "no_memory":
            text = "\n".join(line for line in text.splitlines() if "memory_limit_bytes" not in line) + "\n"
        return text


def observation(item):
    return item if isinstance(item, SourceError) else parse_exposition(item, "text/plain", source="canary")


CANARY_EVENTS = ("healthy", "healthy", "healthy", "errors", "slow", "rate_limited", "leak", "memory_high",
                 "memory_ok", "breaker", "reset", "no_errors_family", "no_memory", "scrape_error",
                 "scrape_no_data", "absurd")
BASELINE_EVENTS = ("healthy", "healthy", "reset", "scrape_error", "skip")

_steps = st.lists(st.tuples(
    st.sampled_from(CANARY_EVENTS), st.integers(min_value=0, max_value=4000), st.sampled_from(BASELINE_EVENTS),
    st.sampled_from(("none", "firing", "down", "absent")), st.integers(min_value=1, max_value=150),
), min_size=1, max_size=24)


def run(steps, config, interruptions=()):
    """Observe `steps`; before each index in `interruptions` the evaluator is checkpointed, the checkpoint
    written as JSON and read back, and a new evaluator made from it goes on. Returns every sample's
    results and decision, the verdicts and the final checkpoint."""

    def make(checkpoint=None):
        criteria = build_criteria(config["overrides"])
        kwargs = dict(policy=Policy(**config["policy"]), baseline=config["baseline"],
                      alerts_not_before=config["alerts_not_before"])
        if checkpoint is None:
            return Evaluator(criteria, **kwargs)
        return Evaluator.restore(checkpoint, criteria, **kwargs)

    canary, production = Service(), Service()
    ev = make()
    seen = []
    at = START
    for index, (event, traffic, baseline_event, alerts, spacing) in enumerate(steps):
        if index in interruptions:
            ev = make(roundtrip(ev.checkpoint()))
        at += spacing
        baseline = None if baseline_event == "skip" else observation(production.step(baseline_event, traffic))
        results = ev.observe(at, observation(canary.step(event, traffic)), baseline,
                             None if alerts == "absent" else Alerts(alerts))
        seen.append(([r.to_dict() for r in results], ev.decision))
    if len(steps) in interruptions:
        ev = make(roundtrip(ev.checkpoint()))
    verdicts = [ev.finish().to_dict(), ev.finish(success_thresholds=False).to_dict()]
    return seen, verdicts, _checkpoint.dumps(ev.checkpoint())


_config = st.fixed_dictionaries(dict(
    overrides=st.sampled_from([OVERRIDES, dict(OVERRIDES, error_rate={"range": 60, "min_requests": 10})]),
    policy=st.fixed_dictionaries({name: st.integers(min_value=1, max_value=3) for name in POLICY_ARGUMENT_SPEC}),
    baseline=st.booleans(),
    alerts_not_before=st.sampled_from([None, float(START)]),
))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_steps, _config, st.data())
def test_going_on_from_a_checkpoint_judges_as_if_nothing_had_stopped(steps, config, data):
    interruptions = data.draw(st.sets(st.integers(min_value=0, max_value=len(steps)), min_size=1, max_size=4),
                              label="interruptions")
    expected = run(steps, config)
    resumed = run(steps, config, interruptions)
    first = min(interruptions)
    # Every sample after the first interruption: the same results (values, messages, outcomes) and decision.
    assert resumed[0][first:] == expected[0][first:]
    assert resumed[1] == expected[1]
    # The state itself is the same: the checkpoint of the resumed evaluator is the uninterrupted one's.
    assert resumed[2] == expected[2]


def test_a_checkpoint_at_every_sample_of_a_failing_window():
    # Every kind of track, a baseline, and a breach that ends the window: interrupted before every sample.
    steps = [("healthy", 2000, "healthy", "none", 30)] * 5 + [("breaker", 2000, "healthy", "none", 30)]
    steps += [("leak", 2000, "healthy", "none", 30)] * 12 + [("errors", 3000, "healthy", "firing", 30)]
    config = dict(overrides=OVERRIDES, policy=dict(warning_fail_after=3, no_data_after=3, error_after=3),
                  baseline=True, alerts_not_before=None)
    expected = run(steps, config)
    assert expected[1][0]["verdict"] == "fail"
    assert run(steps, config, set(range(len(steps) + 1))) == expected


def test_the_checkpoint_of_an_evaluator_that_saw_nothing():
    ev = Evaluator(build_criteria(OVERRIDES))
    restored = Evaluator.restore(roundtrip(ev.checkpoint()), build_criteria(OVERRIDES))
    assert restored.finish().to_dict() == ev.finish().to_dict()
    assert restored.samples == 0 and restored.first_at is None and restored.decision is None


def test_the_first_and_last_observation_and_the_count_survive():
    ev = Evaluator(build_criteria(OVERRIDES))
    ev.observe(START, snap(GOOD_1))
    ev.observe(START + 30, snap(GOOD_2))
    restored = Evaluator.restore(roundtrip(ev.checkpoint()), build_criteria(OVERRIDES))
    assert (restored.samples, restored.first_at, restored.last_at) == (2, START, START + 30)


def test_a_sum_that_overflowed_is_written_as_json_and_read_back():
    ev = Evaluator(build_criteria(OVERRIDES))
    ev.observe(START, snap(GOOD_1, memory="1e308", limit="1e-300"))
    checkpoint = ev.checkpoint()
    text = _checkpoint.dumps(checkpoint)  # strict JSON: no bare NaN or Infinity
    assert '"NaN"' in text and '"Infinity"' in text
    restored = Evaluator.restore(_checkpoint.loads(text), build_criteria(OVERRIDES))
    assert _checkpoint.dumps(restored.checkpoint()) == text


# The size of a checkpoint does not grow with the window.

def day_of_samples(samples, checkpoints_at):
    """Judge `samples` observations 30 s apart of a steady canary and production with every default
    criterion; the checkpoints after each count in `checkpoints_at`."""
    ev = Evaluator(build_criteria(), baseline=True)
    checkpoints = {}
    for i in range(1, samples + 1):
        traffic = dict(requests=1000 * i, errors={"QUERY_TIMEOUT": i, "DB_DOWN": i // 10}, rejected=i,
                       allowed=1000 * i, queries=2000 * i, timeouts=i // 100, memory=400 + i % 2,
                       buckets=(900 * i, 995 * i, 1000 * i), tripped={"db": 0, "cache": 0})
        ev.observe(START + 30 * i, snap(traffic), snap(dict(traffic, memory=380 + i % 3)), Alerts("none"))
        if i in checkpoints_at:
            checkpoints[i] = ev.checkpoint()
    assert ev.finish().outcome == "pass"
    return checkpoints


def shape(text):
    """The checkpoint's text with every number written 0: what is left when only digits differ."""
    return re.sub(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?", "0", text)


def test_the_size_does_not_grow_from_100_to_2880_samples():
    checkpoints = day_of_samples(2880, (10, 100, 300, 2880))
    # The series for the report grows to its bound (MAX_POINTS per criterion), then keeps to it.
    series = {count: checkpoint.pop("series") for count, checkpoint in checkpoints.items()}
    points = {count: {name: len(p) for name, p in s["criteria"].items()} for count, s in series.items()}
    assert set(points[100].values()) == {100} and set(points[300].values()) == {MAX_POINTS}
    assert all(MAX_POINTS // 2 <= n <= MAX_POINTS for n in points[2880].values()), points[2880]
    assert len(_checkpoint.dumps(series[2880])) <= len(_checkpoint.dumps(series[300]))
    texts = {count: _checkpoint.dumps(checkpoint) for count, checkpoint in checkpoints.items()}
    # The 5-minute ranges fill up within the first 11 samples; from then on the checkpoint holds the
    # same keys, strings and numbers, whatever the window's length: only the numbers' digits differ
    # (running totals of a day have a digit or two more than those of 50 minutes).
    assert len(texts[10]) < len(texts[100])
    assert shape(texts[2880]) == shape(texts[100])
    assert len(texts[2880]) - len(texts[100]) <= 0.05 * len(texts[100]), {n: len(t) for n, t in texts.items()}


# A checkpoint is read back from a file on a host: anything wrong in it is refused, with where and why.

def good():
    ev = Evaluator(build_criteria(OVERRIDES), baseline=True)
    ev.observe(START, snap(GOOD_1), snap(GOOD_1))
    ev.observe(START + 30, snap(GOOD_2, tripped={"db": 1}), snap(GOOD_2))
    return roundtrip(ev.checkpoint())


def restore(checkpoint, overrides=None, **kwargs):
    kwargs.setdefault("baseline", True)
    return Evaluator.restore(checkpoint, build_criteria(overrides or OVERRIDES), **kwargs)


def mutated(change):
    checkpoint = good()
    change(checkpoint)
    return checkpoint


def canary_track(checkpoint, name, part=None):
    track = checkpoint["canary"]["tracks"][name]
    return track if part is None else track[part]


def trip_with_last(checkpoint, name):
    state = checkpoint["criteria"][name]
    state["tripped"] = state["last"]


MALFORMED = {
    "not a mapping": ([], "expected a mapping"),
    "another format": (lambda c: c.update(format="something.else"), "not a checkpoint of the canary judge"),
    "an unknown version": (lambda c: c.update(version=3), "version 3 is not one this collection reads"),
    "a version as text": (lambda c: c.update(version="1"), "version '1' is not one"),
    "a missing key": (lambda c: c.pop("samples"), "checkpoint: missing samples"),
    "an unexpected key": (lambda c: c.update(extra=1), "checkpoint: unexpected extra"),
    "a negative count": (lambda c: c.update(samples=-2), "checkpoint.samples: -2 is negative"),
    "a count as text": (lambda c: c.update(samples="2"), "checkpoint.samples: expected a whole number, got a string"),
    "a count as a boolean": (lambda c: c.update(samples=True), "expected a whole number, got a boolean"),
    "an absurd count": (lambda c: c.update(samples=10**30), "checkpoint.samples: 1000000000000000000000000000000 "
                                                            "is more than"),
    "a NaN time": (lambda c: c.update(first_at=float("nan")), "checkpoint.first_at: nan is not a finite number"),
    "an infinite time": (lambda c: canary_track(c, "circuit_breaker_tripped").update(at=float("inf")),
                         "circuit_breaker_tripped.at: inf is not a finite number"),
    "NaN as text where a time goes": (lambda c: canary_track(c, "error_rate", 0)["times"].__setitem__(0, "NaN"),
                                      "error_rate[0].times[0]: expected a number, got a string"),
    "an infinite counter value": (
        lambda c: canary_track(c, "graph_build_p95")["last_raw"]["graph_build_duration_seconds_bucket"][0]
        .__setitem__(1, float("inf")), "inf is not a finite number"),
    "a negative counter value": (
        lambda c: canary_track(c, "error_rate", 0)["last_raw"]["hyperbun_log_errors_total"][0].__setitem__(1, -5),
        "-5 is below 0"),
    "a series listed twice": (
        lambda c: canary_track(c, "error_rate", 0)["last_raw"]["hyperbun_log_errors_total"].append(
            [{"code": "QUERY_TIMEOUT"}, 3.0]), "a series listed twice"),
    "a selector the criterion does not read": (
        lambda c: canary_track(c, "error_rate", 0)["last_raw"].update(other_total=[]),
        "not a selector of this criterion"),
    "more points than samples": (lambda c: [canary_track(c, "error_rate", 1)[key].append(
        copy.deepcopy(canary_track(c, "error_rate", 1)[key][-1])) for key in ("times", "totals")],
        "3 points, more than the 2 sample(s) observed"),
    "totals that do not match the times": (lambda c: canary_track(c, "error_rate", 1)["totals"].pop(),
                                           "error_rate[1].totals: expected 2 item(s), got 1"),
    "a fit of more points than samples": (lambda c: canary_track(c, "memory_growth")["fit"].update(count=9),
                                          "memory_growth.fit.count: 9 is more than 2"),
    "a fit sum that is not a number": (lambda c: canary_track(c, "memory_growth")["fit"].update(mean_v="banana"),
                                       "memory_growth.fit.mean_v: expected a number, got a string"),
    "a bare NaN in a fit sum": (lambda c: canary_track(c, "memory_growth")["fit"].update(spread_v=float("nan")),
                                "memory_growth.fit.spread_v: nan is not a finite number"),
    "a fit without its times": (lambda c: canary_track(c, "memory_growth")["fit"].update(first_t=None),
                                "2 point(s), but the first point's time is None"),
    "a rate of one track": (lambda c: canary_track(c, "error_rate").pop(), "error_rate: expected 2 item(s), got 1"),
    "a track missing": (lambda c: c["canary"]["tracks"].pop("memory_usage"), "tracks: missing memory_usage"),
    "a problem of another outcome": (
        lambda c: canary_track(c, "memory_usage").update(problem={"message": "x", "outcome": "pass"}),
        "problem.outcome: 'pass' is not one of error, no_data"),
    "a value missing without a problem": (lambda c: canary_track(c, "memory_usage").update(value=None),
                                          "no value, yet the track has no problem"),
    "a breaker active without a time": (lambda c: canary_track(c, "circuit_breaker_tripped").update(at=None),
                                        "series active since a time, yet no sample time"),
    "an unknown outcome": (lambda c: c["criteria"]["error_rate"]["last"].update(outcome="maybe"),
                           "criteria.error_rate.last.outcome: 'maybe' is not one of"),
    "a message that is not text": (lambda c: c["criteria"]["error_rate"]["last"].update(message=["x"]),
                                   "last.message: expected a string, got a list"),
    "a judgement missing": (lambda c: c["criteria"]["memory_usage"].update(last=None),
                            "criteria.memory_usage.last: no judgement after 2 observation(s)"),
    "a policy count beyond the samples": (lambda c: c["criteria"]["memory_usage"].update(fails=3),
                                          "criteria.memory_usage.fails: 3 is more than 2"),
    "a policy count the last judgement denies": (lambda c: c["criteria"]["memory_usage"].update(fails=1),
                                                 "1 consecutive fail(s) and 0 unmeasured, yet the last judgement "
                                                 "is pass"),
    "a policy tripped by a pass": (lambda c: trip_with_last(c, "memory_usage"),
                                   "criteria.memory_usage.tripped: a policy tripped by pass, which never trips one"),
    "a baseline this judge has not": (None, "baseline: the state of a baseline this evaluator has not"),
    "an absurd list": (lambda c: canary_track(c, "error_rate", 1).update(times=[0] * 1_000_001),
                       "1000001 entries, more than the 1000000 a checkpoint may hold"),
    "an absurd string": (lambda c: c["criteria"]["error_rate"]["last"].update(message="x" * 1_000_001),
                         "a string of 1000001 characters"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_a_malformed_checkpoint_is_refused_naming_the_problem(case):
    change, words = MALFORMED[case]
    if case == "a baseline this judge has not":
        ev = Evaluator(build_criteria(OVERRIDES))
        checkpoint = roundtrip(ev.checkpoint())
        checkpoint["baseline"] = {"error": None, "tracks": {}}
        kwargs = dict(baseline=False)
    else:
        checkpoint = change if not callable(change) else mutated(change)
        kwargs = {}
    with pytest.raises(CheckpointError) as refused:
        restore(checkpoint, **kwargs)
    assert words in str(refused.value)


MISMATCHED = {
    "a threshold": (dict(OVERRIDES, error_rate={"threshold": 2}), {}, "criterion error_rate's settings differ"),
    "a selector": (dict(OVERRIDES, error_rate={"numerator": "hyperbun_errors_total"}), {},
                   "criterion error_rate's settings differ"),
    "a criterion disabled": (dict(OVERRIDES, memory_usage={"enabled": False}), {},
                             "criterion memory_usage is in the checkpoint but not among these criteria"),
    "a criterion added": (dict(OVERRIDES, canary_up={"kind": "value", "metric": "up", "threshold": 1,
                                                     "comparison": "<"}), {},
                          "criterion canary_up is not in the checkpoint"),
    "the policy": (OVERRIDES, dict(policy=Policy(error_after=2)), "policy error_after was 3, is 2"),
    "no baseline": (OVERRIDES, dict(baseline=False),
                    "the checkpoint was made with a production baseline, this judge has none"),
    "the canary's start": (OVERRIDES, dict(alerts_not_before=START),
                           "alerts counted from any time in the checkpoint, from 2025-11-24T16:00:00Z here"),
}


@pytest.mark.parametrize("case", sorted(MISMATCHED))
def test_a_checkpoint_of_another_configuration_is_refused_naming_what_differs(case):
    overrides, kwargs, words = MISMATCHED[case]
    with pytest.raises(CheckpointError) as refused:
        restore(good(), overrides, **kwargs)
    assert "made with another configuration" in str(refused.value) and words in str(refused.value)


def test_every_difference_is_named_at_once():
    with pytest.raises(CheckpointError) as refused:
        restore(good(), dict(OVERRIDES, error_rate={"threshold": 2}), baseline=False, policy=Policy(no_data_after=1))
    message = str(refused.value)
    assert "error_rate's settings differ" in message and "no_data_after was 3, is 1" in message
    assert "production baseline" in message


def test_what_does_not_bear_on_the_judgement_may_differ():
    # A description, a number written 2 or 2.0, criteria in another order: the same judgement.
    overrides = dict(OVERRIDES, error_rate={"description": "errors", "threshold": 1, "min_requests": 100.0})
    assert restore(good(), overrides).samples == 2
    criteria = list(reversed(build_criteria(OVERRIDES)))
    assert Evaluator.restore(good(), criteria, baseline=True).samples == 2


@pytest.mark.parametrize("text, words", [
    ('{"samples": NaN}', "NaN is not JSON"),
    ('{"samples": -Infinity}', "-Infinity is not JSON"),
    ("{not json", "not JSON"),
    ("[1, 2]", "expected a JSON object, got a list"),
    ("[" * 100_000 + "]" * 100_000, "checkpoint"),
    (b"\xff\xfe{}", "not UTF-8"),
    (12, "expected JSON text, got a number"),
])
def test_checkpoint_text_that_is_not_strict_json_is_refused(text, words):
    with pytest.raises(CheckpointError) as refused:
        _checkpoint.loads(text)
    assert words in str(refused.value)


def test_checkpoint_text_beyond_the_limit_is_refused(monkeypatch):
    monkeypatch.setattr(_checkpoint, "MAX_JSON_BYTES", 100)
    with pytest.raises(CheckpointError, match="more than the 100 a checkpoint may have"):
        _checkpoint.loads(json.dumps(good()))


_json = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(["NaN", "Infinity", "", "+Inf", "error"]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=6,
)


def paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from paths(item, (*prefix, index))


GOOD_PATHS = [path for path in paths(good()) if path]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(GOOD_PATHS), _json)
def test_whatever_a_checkpoint_holds_it_is_refused_cleanly_or_judged_without_a_traceback(path, replacement):
    checkpoint = good()
    parent = checkpoint
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = replacement
    try:
        ev = restore(checkpoint)
    except CheckpointError:
        return
    ev.observe(START + 60, snap(GOOD_2), snap(GOOD_2))
    verdict = ev.finish().to_dict()
    json.dumps(verdict)
    assert verdict["verdict"] in ("pass", "fail", "inconclusive", "no_data", "error")


# Judge: the entry point the watch goes on from.

def params(server, **changes):
    values = {name: spec.get("default") for name, spec in argument_spec(interval_default=30).items()}
    values.update({name: spec["default"] for name, spec in POLICY_ARGUMENT_SPEC.items()})
    values.update(metrics_urls=[server.url()], baseline_urls=[server.url("/production")], interval="30s",
                  criteria=dict(OVERRIDES, critical_alerts={"enabled": False}), retries=0)
    values.update(changes)
    return values


def test_a_judge_goes_on_from_its_checkpoint(server):
    server.serve("/production", exposition(**GOOD_1))
    uninterrupted = Judge.from_params(params(server))
    first = Judge.from_params(params(server))
    for judge in (uninterrupted, first):
        server.serve("/metrics", exposition(**GOOD_1))
        judge.observe(START)
    text = _checkpoint.dumps(first.checkpoint())
    for checkpoint in (text, text.encode(), json.loads(text)):
        resumed = Judge.from_params(params(server), checkpoint=checkpoint)
        assert resumed.evaluator.samples == 1 and resumed.evaluator.first_at == START
    server.serve("/production", exposition(**GOOD_2))
    server.serve("/metrics", exposition(**{**GOOD_2, "errors": {"X": 500}}))
    expected = [r.to_dict() for r in uninterrupted.observe(START + 30)]
    assert [r.to_dict() for r in resumed.observe(START + 30)] == expected
    assert resumed.evaluator.decision == uninterrupted.evaluator.decision == "fail"
    assert resumed.evaluator.finish().to_dict() == uninterrupted.evaluator.finish().to_dict()


@pytest.mark.parametrize("changes, checkpoint, words", [
    (dict(criteria=dict(OVERRIDES, critical_alerts={"enabled": False}, error_rate={"threshold": 2})), None,
     "criterion error_rate's settings differ"),
    (dict(error_after=5), None, "policy error_after was 3, is 5"),
    (dict(baseline_urls=[]), None, "made with a production baseline, this judge has none"),
    (dict(alerts_since="2025-11-24T16:00:00Z"), None, "alerts counted from any time"),
    ({}, '{"format": "hyperbun.canary.judge", "version": 7}', "version 7 is not one this collection reads"),
    ({}, "{", "not JSON"),
    ({}, '{"samples": NaN}', "NaN is not JSON"),
])
def test_a_judge_refuses_a_checkpoint_it_cannot_go_on_from_with_a_setup_error(server, changes, checkpoint, words):
    server.serve("/production", exposition(**GOOD_1))
    server.serve("/metrics", exposition(**GOOD_1))
    judge = Judge.from_params(params(server))
    judge.observe(START)
    with pytest.raises(SetupError) as refused:
        Judge.from_params(params(server, **changes), checkpoint=checkpoint or _checkpoint.dumps(judge.checkpoint()))
    assert str(refused.value).startswith("cannot go on from the checkpoint: ") and words in str(refused.value)
