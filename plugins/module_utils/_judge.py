# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging criteria over successive samples into one of five outcomes, and the verdict over a window.

An Evaluator takes timestamped observations (scrapes of the canary and of the production
baseline, and a Prometheus client for PromQL criteria). Each criterion's kind (_kinds.py) keeps
its state and measures; this file judges every measure the same way: against the threshold, the
success threshold at the end of the window and production's value in the same window. It applies
the outcome policies and gives the verdict.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import math
import time

from ansible_collections.hyperbun.canary.plugins.module_utils._checkpoint import (
    CheckpointError,
    Node,
    dump_number,
    dump_problem,
    load_problem,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    OUTCOME_ERROR,
    OUTCOME_NO_DATA,
    SourceError,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._kinds import SOURCE_PROMETHEUS, Measure
from ansible_collections.hyperbun.canary.plugins.module_utils._kinds import fmt_number as _fmt
from ansible_collections.hyperbun.canary.plugins.module_utils._series import Series

PASS = "pass"  # noqa: S105 an outcome, not a password
FAIL = "fail"
INCONCLUSIVE = "inconclusive"
NO_DATA = OUTCOME_NO_DATA
ERROR = OUTCOME_ERROR
OUTCOMES = (PASS, FAIL, INCONCLUSIVE, NO_DATA, ERROR)
# What Evaluator.checkpoint() writes, and the versions Evaluator.restore() reads.
CHECKPOINT_FORMAT = "hyperbun.canary.judge"
CHECKPOINT_VERSION = 2
# Version 1 is version 2 without the series (the judgements over time, for the report).
CHECKPOINT_VERSIONS = (1, 2)
# Which outcome wins when several are combined into one verdict: never a pass over anything else.
_RANK = {PASS: 0, INCONCLUSIVE: 1, NO_DATA: 2, ERROR: 3, FAIL: 4}
_COMPARE = {
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


def worst(outcomes):
    result = PASS
    for outcome in outcomes:
        if _RANK[outcome] > _RANK[result]:
            result = outcome
    return result


def breaches(value, comparison, threshold):
    return _COMPARE[comparison](value, threshold)


def _fmt_time(at):
    if at is None:
        return "any time"
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    except (OverflowError, OSError, ValueError):
        return f"{at:g}"


def _parts(track):
    """The tracks a kind keeps for one criterion: one, or a tuple (a rate's numerator and denominator)."""
    return track if isinstance(track, tuple) else (track,)


class _Role:
    """The tracks of every scrape criterion for one role: the canary, or the production baseline."""

    def __init__(self, criteria):
        self.tracks = {c.name: c.measures.new_track() for c in criteria if c.source != SOURCE_PROMETHEUS}
        self.last_error = SourceError("no sample yet", NO_DATA)

    def add(self, at, snapshot):
        if isinstance(snapshot, SourceError):
            self.last_error = snapshot
            return
        self.last_error = None
        for track in self.tracks.values():
            for part in _parts(track):
                part.add(at, snapshot)

    def dump(self):
        tracks = {name: [part.dump() for part in _parts(track)] if isinstance(track, tuple) else track.dump()
                  for name, track in self.tracks.items()}
        return {"error": dump_problem(self.last_error), "tracks": tracks}

    def load(self, node, samples):
        fields = node.mapping(("error", "tracks"))
        self.last_error = load_problem(fields["error"])
        for name, state in fields["tracks"].mapping(tuple(self.tracks)).items():
            track = self.tracks[name]
            states = state.items(len(track)) if isinstance(track, tuple) else [state]
            for index, part in enumerate(_parts(track)):
                part.load(states[index], samples)

    def measure(self, c, whole_window=False):
        if self.last_error is not None:
            return Measure(problem=self.last_error)
        track = self.tracks[c.name]
        for part in _parts(track):
            if part.problem is not None:
                return Measure(problem=part.problem)
        return c.measures.measure(track, whole_window)


class Evaluator:
    """Judges criteria over successive observations; see observe(), decision and finish().

    checkpoint() gives its whole state as JSON values, bounded however long the window; restore()
    makes an evaluator of the same configuration that goes on from it as if it had never stopped.
    `series` keeps the judgements over time for the report (_series.py), in the checkpoint too.
    """

    def __init__(self, criteria, policy=None, baseline=False, alerts_not_before=None):
        self.criteria = list(criteria)
        # Alerts that fired before this time (the canary's start) are about an earlier canary.
        self.alerts_not_before = alerts_not_before
        self.policy = policy or Policy()
        self.canary = _Role(self.criteria)
        self.baseline = _Role(self.criteria) if baseline else None
        self.samples = 0
        self.first_at = self.last_at = None
        self.last = {}
        self.tripped = {}
        self._fails = {c.name: 0 for c in self.criteria}
        self._unmeasured = {c.name: 0 for c in self.criteria}
        self.series = Series(self.criteria)

    @property
    def needs_scrape(self):
        return any(c.source != SOURCE_PROMETHEUS for c in self.criteria)

    def metric_names(self):
        names = set()
        for c in self.criteria:
            names.update(c.metric_names())
        return names

    def observe(self, at, canary=None, baseline=None, prometheus=None):
        """Add one observation and judge every criterion at time `at` (seconds).

        canary: a Snapshot or a SourceError (the scrape failed). baseline: the same for the
        production instances. prometheus: a PrometheusClient, or None.
        Returns the list of Result, one per criterion.
        """
        self.samples += 1
        if self.first_at is None:
            self.first_at = at
        self.last_at = at
        if canary is not None:
            self.canary.add(at, canary)
        if self.baseline is not None and baseline is not None:
            self.baseline.add(at, baseline)
        context = {"not_before": self.alerts_not_before}
        results = []
        for c in self.criteria:
            result = self._judge(c, at, prometheus, context)
            self._apply_policy(c, result)
            self.last[c.name] = result
            results.append(result)
        self.series.add(results)
        return results

    def configuration(self):
        """What a checkpoint must have been made with to be resumed here (JSON values)."""
        return {
            "criteria": {c.name: c.fingerprint() for c in self.criteria},
            "policy": self.policy.settings(),
            "baseline": self.baseline is not None,
            "alerts_not_before": self.alerts_not_before,
        }

    def checkpoint(self):
        """The evaluator's whole state, as JSON values (see _checkpoint.dumps()); its size is bounded
        whatever the number of observations (the series grows to its bound, then is downsampled)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "version": CHECKPOINT_VERSION,
            "configuration": self.configuration(),
            "samples": self.samples,
            "first_at": self.first_at,
            "last_at": self.last_at,
            "canary": self.canary.dump(),
            "baseline": None if self.baseline is None else self.baseline.dump(),
            "criteria": {c.name: {
                "fails": self._fails[c.name],
                "unmeasured": self._unmeasured[c.name],
                "last": self.last[c.name].dump() if c.name in self.last else None,
                "tripped": self.tripped[c.name].dump() if c.name in self.tripped else None,
            } for c in self.criteria},
            "series": self.series.dump(),
        }

    @classmethod
    def restore(cls, checkpoint, criteria, policy=None, baseline=False, alerts_not_before=None):
        """An evaluator of this configuration that goes on from `checkpoint` (a dictionary, as
        checkpoint() gave it, read back from JSON). Raises CheckpointError, naming the problem, when
        the checkpoint is malformed, of an unknown version or made with another configuration."""
        evaluator = cls(criteria, policy, baseline, alerts_not_before)
        evaluator._load(checkpoint)
        return evaluator

    def _load(self, checkpoint):
        if not isinstance(checkpoint, dict):
            raise CheckpointError(f"checkpoint: expected a mapping, got {type(checkpoint).__name__}")
        if checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"checkpoint: not a checkpoint of the canary judge (its format is "
                                  f"{str(checkpoint.get('format'))[:80]!r}, not {CHECKPOINT_FORMAT!r})")
        version = checkpoint.get("version")
        if version not in CHECKPOINT_VERSIONS or isinstance(version, bool):
            raise CheckpointError(f"checkpoint: version {repr(version)[:40]} is not one this collection reads "
                                  f"(it reads versions {', '.join(map(str, CHECKPOINT_VERSIONS))})")
        fields = Node(checkpoint).mapping(("format", "version", "configuration", "samples", "first_at", "last_at",
                                           "canary", "baseline", "criteria") + (("series",) if version >= 2 else ()))
        differences = self._differences(fields["configuration"])
        if differences:
            raise CheckpointError("checkpoint: made with another configuration: " + "; ".join(differences))
        samples = fields["samples"].count()
        first_at, last_at = fields["first_at"].number(optional=True), fields["last_at"].number(optional=True)
        if (samples == 0) != (first_at is None) or (first_at is None) != (last_at is None):
            fields["samples"].fail(f"{samples} observation(s), but the first was at {first_at} and the last at "
                                   f"{last_at}")
        self.canary.load(fields["canary"], samples)
        if self.baseline is not None:
            self.baseline.load(fields["baseline"], samples)
        elif not fields["baseline"].is_null:
            fields["baseline"].fail("the state of a baseline this evaluator has not")
        by_name = {c.name: c for c in self.criteria}
        fails, unmeasured, last, tripped = {}, {}, {}, {}
        for name, node in fields["criteria"].mapping(tuple(by_name)).items():
            state = node.mapping(("fails", "unmeasured", "last", "tripped"))
            fails[name] = state["fails"].count(maximum=samples)
            unmeasured[name] = state["unmeasured"].count(maximum=samples)
            for results, key in ((last, "last"), (tripped, "tripped")):
                if not state[key].is_null:
                    results[name] = Result.load(by_name[name], state[key])
            if samples and name not in last:
                state["last"].fail(f"no judgement after {samples} observation(s)")
            if not samples and (name in last or name in tripped):
                node.fail("a judgement, yet no observation")
            if name in tripped and tripped[name].outcome not in (FAIL, NO_DATA, ERROR):
                state["tripped"].fail(f"a policy tripped by {tripped[name].outcome}, which never trips one")
            outcome = last[name].outcome if name in last else None
            if (fails[name] > 0) != (outcome == FAIL) or (unmeasured[name] > 0) != (outcome in (NO_DATA, ERROR)):
                node.fail(f"{fails[name]} consecutive fail(s) and {unmeasured[name]} unmeasured, "
                          f"yet the last judgement is {outcome or 'none'}")
        series = Series(self.criteria)
        if "series" in fields:
            series.load(fields["series"], samples)
            # Points' times are kept to the millisecond.
            times = [p[0] for points in series.points.values() for p in points]
            if times and not first_at - 0.001 <= min(times) <= max(times) <= last_at + 0.001:
                fields["series"].fail(f"a point outside the observations' times ({first_at} to {last_at})")
        self.samples, self.first_at, self.last_at, self.series = samples, first_at, last_at, series
        self._fails, self._unmeasured, self.last, self.tripped = fails, unmeasured, last, tripped

    def _differences(self, node):
        """What differs between this evaluator's configuration and a checkpoint's (a Node): a list of phrases."""
        fields = node.mapping(("criteria", "policy", "baseline", "alerts_not_before"))
        ours = self.configuration()
        theirs = {name: digest.text() for name, digest in fields["criteria"].entries()}
        differences = [f"criterion {name} is not in the checkpoint" for name in ours["criteria"] if name not in theirs]
        differences += [f"criterion {name} is in the checkpoint but not among these criteria"
                        for name in theirs if name not in ours["criteria"]]
        differences += [f"criterion {name}'s settings differ" for name, digest in ours["criteria"].items()
                        if name in theirs and theirs[name] != digest]
        policy = fields["policy"].mapping(tuple(ours["policy"]))
        differences += [f"policy {name} was {policy[name].count()}, is {value}"
                        for name, value in ours["policy"].items() if policy[name].count() != value]
        if fields["baseline"].flag() != ours["baseline"]:
            differences.append("the checkpoint was made {} a production baseline, this judge has {}".format(
                *(("with", "none") if not ours["baseline"] else ("without", "one"))))
        alerts_not_before = fields["alerts_not_before"].number(optional=True)
        if alerts_not_before != ours["alerts_not_before"]:
            differences.append(f"alerts counted from {_fmt_time(alerts_not_before)} in the checkpoint, from "
                               f"{_fmt_time(ours['alerts_not_before'])} here (alerts_since)")
        return differences

    @property
    def decision(self):
        """None while the window may go on; otherwise the outcome that ends it (fail, error, no_data)."""
        if not self.tripped:
            return None
        return worst(r.outcome for r in self.tripped.values())

    def _apply_policy(self, c, result):
        self._fails[c.name] = self._fails[c.name] + 1 if result.outcome == FAIL else 0
        self._unmeasured[c.name] = self._unmeasured[c.name] + 1 if result.outcome in (NO_DATA, ERROR) else 0
        if c.name in self.tripped:
            return
        limit = {NO_DATA: self.policy.no_data_after, ERROR: self.policy.error_after,
                 FAIL: 1 if c.severity == "critical" else self.policy.warning_fail_after}.get(result.outcome)
        count = self._fails[c.name] if result.outcome == FAIL else self._unmeasured[c.name]
        if limit is not None and count >= limit:
            self.tripped[c.name] = result

    def _measure(self, c, role, prometheus, context, whole_window=False, baseline=False):
        if c.source != SOURCE_PROMETHEUS:
            return role.measure(c, whole_window)
        if prometheus is None:
            return Measure(problem=SourceError("criterion reads Prometheus but no Prometheus server was given",
                                               NO_DATA))
        try:
            return c.measures.query(prometheus, baseline, context)
        except SourceError as exc:
            return Measure(problem=exc)

    def _judge(self, c, at, prometheus, context, whole_window=False, final=False):
        where = c.source_text()

        def result(outcome, value, message, baseline_value=None):
            return Result(c, outcome, value, message, baseline_value=baseline_value, at=at, final=final)

        m = self._measure(c, self.canary, prometheus, context, whole_window)
        if m.problem is not None:
            return result(m.problem.outcome, None, f"{m.problem.message} (source: {where})")
        if m.waiting is not None:
            return result(INCONCLUSIVE, None, f"{m.waiting} (source: {where})")
        value = m.value
        detail = " (source: {}{})".format(where, ", " + m.note if m.note else "")
        if math.isnan(value):
            # Arithmetic on a release's absurd values (an overflowing sum, infinity over infinity):
            # NaN is beyond every threshold's reach, so it would pass.
            return result(ERROR, None, f"{c.name} is not a number (NaN): its inputs overflow{detail}")
        head = f"{c.name} = {_fmt(value)} {c.unit}"
        if m.at_least and c.higher_is_worse:
            if value >= c.threshold:
                message = f"{head} or more: beyond the highest finite bucket, at or above threshold {_fmt(c.threshold)}"
                return result(FAIL, value, message + detail)
            message = (f"{head} or more: the buckets end at {_fmt(value)} {c.unit}, below threshold "
                       f"{_fmt(c.threshold)}, so the quantile cannot be judged; add buckets above the threshold")
            return result(ERROR, value, message + detail)
        if breaches(value, c.comparison, c.threshold):
            return result(FAIL, value, f"{head} {c.comparison} threshold {_fmt(c.threshold)}{detail}")
        if final:
            unmet = self._unmet_success(c, value)
            if unmet:
                return result(FAIL, value, f"{head} {unmet}{detail}")
        if m.pending:
            return result(INCONCLUSIVE, value, f"{head}, not yet {c.comparison} threshold {_fmt(c.threshold)}{detail}")
        baseline_value = None
        if self.compares_with_baseline(c):
            b = self._measure(c, self.baseline, prometheus, context, whole_window, baseline=True)
            if b.problem is not None:
                return result(b.problem.outcome, value, f"{head}; baseline unmeasurable: {b.problem.message}")
            if b.waiting is not None:
                return result(INCONCLUSIVE, value, f"{head}; baseline: {b.waiting}")
            if math.isnan(b.value):
                nan = "production's value is not a number (NaN): its inputs overflow"
                return result(ERROR, value, f"{head}; baseline unmeasurable: {nan}")
            baseline_value = b.value
            regression = self._regression(c, value, b.value)
            if regression:
                message = f"{head} against production's {_fmt(b.value)}: {regression}{detail}"
                return result(FAIL, value, message, baseline_value=b.value)
        return result(PASS, value, f"{head} within {c.comparison} {_fmt(c.threshold)}{detail}",
                      baseline_value=baseline_value)

    def compares_with_baseline(self, c):
        """Whether criterion c is judged against production's value too."""
        return self.baseline is not None and c.has_baseline and (
            c.source != SOURCE_PROMETHEUS or bool(getattr(c.measures, "baseline_query", None)))

    def series_dict(self):
        """The judgements over time as the watch returns them (_series.Series.to_dict())."""
        return self.series.to_dict(self.compares_with_baseline)

    @staticmethod
    def _unmet_success(c, value):
        """Why `value` does not meet c's success threshold, or "" when it does (or there is none)."""
        if c.success_threshold is None:
            return ""
        met = value < c.success_threshold if c.higher_is_worse else value > c.success_threshold
        if met:
            return ""
        return f"does not meet the success criterion {'<' if c.higher_is_worse else '>'} {_fmt(c.success_threshold)}"

    @staticmethod
    def _regression(c, value, baseline_value):
        worse_by = value - baseline_value if c.higher_is_worse else baseline_value - value
        if c.max_increase is not None and worse_by > c.max_increase:
            return f"worse by {_fmt(worse_by)} {c.unit}, more than baseline.max_increase {_fmt(c.max_increase)}"
        if c.max_increase_percent is not None and baseline_value != 0:
            percent = worse_by / abs(baseline_value) * 100.0
            if percent > c.max_increase_percent:
                return (f"worse by {_fmt(percent)} %, more than baseline.max_increase_percent "
                        f"{_fmt(c.max_increase_percent)}")
        return ""

    def finish(self, success_thresholds=True):
        """The verdict over the window: a tripped policy, else each criterion's final judgement.

        Scrape criteria are judged again over the whole window (rates and quantiles against their
        success thresholds); a Prometheus criterion's last pass is held to its success threshold.
        Anything but a pass in every criterion is not a pass.
        """
        results = []
        for c in self.criteria:
            last = self.last.get(c.name)
            if c.name in self.tripped:
                results.append(self.tripped[c.name])
            elif last is None:
                results.append(Result(c, NO_DATA, message="never evaluated: no observation was made", final=True))
            elif last.outcome in (NO_DATA, ERROR) or c.source == SOURCE_PROMETHEUS:
                # A PromQL criterion is not queried again: its last pass is held to the success threshold.
                unmet = self._unmet_success(c, last.value) if success_thresholds and last.outcome == PASS else ""
                if unmet:
                    message = f"{c.name} = {_fmt(last.value)} {c.unit} {unmet} (source: {c.source_text()})"
                    last = Result(c, FAIL, last.value, message, last.baseline_value, at=last.at, final=True)
                results.append(last)
            else:
                results.append(self._judge(c, last.at, None, {}, whole_window=True, final=success_thresholds))
        outcome = worst(r.outcome for r in results) if results else NO_DATA
        return Verdict(outcome, results, self.samples)


class Result:
    """The judgement of one criterion at one time."""

    def __init__(self, criterion, outcome, value=None, message="", baseline_value=None, at=None, final=False):
        self.criterion = criterion
        self.outcome = outcome
        self.value = value
        self.message = message
        self.baseline_value = baseline_value
        self.at = at
        self.final = final

    def dump(self):
        """The judgement as a checkpoint keeps it (its criterion is known by name)."""
        return {"outcome": self.outcome, "value": dump_number(self.value), "message": self.message,
                "baseline_value": dump_number(self.baseline_value), "at": self.at}

    @classmethod
    def load(cls, criterion, node):
        """The judgement dump() wrote, from a _checkpoint.Node; raises CheckpointError."""
        fields = node.mapping(("outcome", "value", "message", "baseline_value", "at"))
        return cls(criterion, fields["outcome"].text(OUTCOMES), fields["value"].number(finite=False, optional=True),
                   fields["message"].text(), fields["baseline_value"].number(finite=False, optional=True),
                   at=fields["at"].number())

    def to_dict(self):
        c = self.criterion
        return dict(
            name=c.name, outcome=self.outcome, value=self.value, baseline_value=self.baseline_value,
            unit=c.unit, comparison=c.comparison, threshold=c.threshold, success_threshold=c.success_threshold,
            severity=c.severity, source=c.source_text(), message=self.message, at=self.at,
        )


class Policy:
    """Outcome policies. A critical breach fails at once, a warning one after `warning_fail_after`
    consecutive breaches; `no_data` and `error` fail after `no_data_after` / `error_after`
    consecutive unmeasured results (fail-closed); `inconclusive` waits."""

    def __init__(self, warning_fail_after=3, no_data_after=3, error_after=3):
        for name, value in (("warning_fail_after", warning_fail_after), ("no_data_after", no_data_after),
                            ("error_after", error_after)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a whole number of 1 or more, got {value!r}")
        self.warning_fail_after = warning_fail_after
        self.no_data_after = no_data_after
        self.error_after = error_after

    def settings(self):
        return {"warning_fail_after": self.warning_fail_after, "no_data_after": self.no_data_after,
                "error_after": self.error_after}


class Verdict:
    def __init__(self, outcome, results, samples):
        self.outcome = outcome
        self.results = results
        self.samples = samples

    @property
    def failed(self):
        """The criteria that decided a verdict other than pass: those that failed, had no data or
        errors; only when none did, those still inconclusive (too little traffic is then the reason)."""
        decided = [r.criterion.name for r in self.results if r.outcome not in (PASS, INCONCLUSIVE)]
        return decided or [r.criterion.name for r in self.results if r.outcome == INCONCLUSIVE]

    def message(self):
        if self.outcome == PASS:
            return f"canary passed: {len(self.results)} criteria met over {self.samples} sample(s)"
        bad = [r for r in self.results if r.outcome != PASS]
        bad.sort(key=lambda r: -_RANK[r.outcome])
        listed = "; ".join(f"{r.criterion.name} [{r.outcome}] {r.message}" for r in bad)
        return f"canary verdict {self.outcome}: {listed}"

    def to_dict(self):
        return dict(verdict=self.outcome, samples=self.samples, failed_criteria=self.failed,
                    results=[r.to_dict() for r in self.results], msg=self.message())
