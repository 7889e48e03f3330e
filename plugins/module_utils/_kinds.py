# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kinds of criterion: what a criterion tracks across samples and how it measures it.

A kind is one class registered by name with @register; a criterion's `kind` field picks it. The
class validates the fields it reads, names the metrics it needs (and of which `# TYPE`), keeps
its state across samples in a track, and turns that state into a Measure. How a value is judged
against thresholds and against production lives in _judge.py, the same for every kind.

Adding a kind of criterion: one class here, its tests, and its line in docs/criteria.md.

Everything read from an exposition is untrusted (the release under test wrote it): a metric of
the wrong type, a negative input to a share, a share above one, a NaN or an infinity is an
`error` (or `no_data`), never a number.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import bisect
import datetime
import math
import re

from ansible_collections.hyperbun.canary.plugins.module_utils._checkpoint import (
    dump_number,
    dump_problem,
    load_problem,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    OUTCOME_NO_DATA,
    Selector,
    SelectorError,
    SourceError,
    check_finite,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import single_value
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_math import (
    LineFit,
    counter_step,
    histogram_quantile,
)

SOURCE_SCRAPE = "scrape"
SOURCE_PROMETHEUS = "prometheus"
AGGREGATES = ("single", "sum", "max", "min", "avg")

# The `# TYPE` a kind needs of the families it reads. `unknown` (no `# TYPE` line) is read as a
# gauge, which makes no claim about history; a rate is never computed from anything but a counter.
COUNTER = ("counter",)
HISTOGRAM = ("histogram",)
GAUGE = ("gauge", "unknown")

KINDS = {}


def register(cls):
    """Class decorator: make a kind available to criteria under its `name`."""
    KINDS[cls.name] = cls
    return cls


class CriteriaError(ValueError):
    """An argument error in a criterion: reported before any request is made."""


def number(criterion, field, value, allow_none=True):
    if value is None:
        if allow_none:
            return None
        raise CriteriaError(f"criterion {criterion!r}: {field} is required")
    if isinstance(value, bool):
        raise CriteriaError(f"criterion {criterion!r}: {field} must be a number, got {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise CriteriaError(f"criterion {criterion!r}: {field} must be a number, got {value!r}") from None
    if math.isnan(result) or math.isinf(result):
        raise CriteriaError(f"criterion {criterion!r}: {field} must be a finite number, got {value!r}")
    return result


def selectors(criterion, field, value, required):
    if value is None or value == []:
        if required:
            raise CriteriaError(f"criterion {criterion!r}: {field} is required for this kind")
        return []
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)):
        raise CriteriaError(f"criterion {criterion!r}: {field} must be a selector or a list of selectors")
    try:
        return [Selector(item) for item in items]
    except SelectorError as exc:
        raise CriteriaError(f"criterion {criterion!r}: {field}: {exc}") from None


def fmt_number(value):
    """A value as messages show it: six significant digits, or "none"."""
    return "none" if value is None else f"{value:.6g}"


def _where(snapshot):
    return snapshot.source or "the scrape"


def _joined(items):
    return " + ".join(str(s) for s in items)


def series_text(name, labels):
    shown = {k: v for k, v in labels.items() if k != "__target__"}
    return name + ("{" + ", ".join('{}="{}"'.format(*kv) for kv in sorted(shown.items())) + "}" if shown else "")


class Measure:
    """What a kind measured at one time.

    value: a number in the criterion's unit, or None. problem: the SourceError that says why
    nothing could be measured. waiting: why there is not enough yet to judge (`inconclusive`).
    note: how the value was obtained. at_least: the true value is at least `value` (a quantile
    beyond the highest finite bucket). pending: within the threshold so far, but not passable yet
    (a breaker still tripped).
    """

    __slots__ = ("at_least", "note", "pending", "problem", "value", "waiting")

    def __init__(self, value=None, note="", problem=None, waiting=None, at_least=False, pending=False):
        self.value = value
        self.note = note
        self.problem = problem
        self.waiting = waiting
        self.at_least = at_least
        self.pending = pending


def read_series(snapshot, selector, types, purpose):
    """The series of `selector` in a snapshot, once the family's `# TYPE` is what `purpose` needs.

    A name the exposition does not declare at all is `no_data` (misnamed, or not exported); a
    name declared under another type (errors exported as a gauge where a rate needs a counter) is
    an `error`: it must never read as zero.
    """
    where = _where(snapshot)
    family = snapshot.family_of(selector.name)
    if family is None:
        declared = snapshot.declared_as(selector.name)
        if declared is None:
            raise SourceError(f"no metric named {selector.name} in {where} (misnamed, or not exported by this release)",
                              OUTCOME_NO_DATA)
        raise SourceError(f"{selector.name} is not a sample of {where}: it declares {declared[0]} as a {declared[1]}, "
                          f"and {purpose} needs a {' or '.join(types)}")
    if family[1] not in types:
        raise SourceError(f"{selector.name} in {where} belongs to {family[0]}, declared {family[1]}; "
                          f"{purpose} needs a {' or '.join(types)}")
    return snapshot.select(selector)


def gauge_value(snapshot, selector, aggregate, purpose, non_negative=False):
    """One number from the series of a gauge selector: `single` or an aggregate over them."""
    series = read_series(snapshot, selector, GAUGE, purpose)
    if not series:
        where = _where(snapshot)
        raise SourceError(f"no series of {selector.name} match {selector} in {where}", OUTCOME_NO_DATA)
    if aggregate == "single" and len(series) > 1:
        shown = ", ".join(series_text(selector.name, labels) for labels, value in series[:5])
        more = ", ..." if len(series) > 5 else ""
        raise SourceError(f"{selector} matched {len(series)} series where one was expected ({shown}{more}) "
                          f"in {_where(snapshot)}: narrow the selector or set aggregate")
    values = []
    for labels, value in series:
        text = series_text(selector.name, labels)
        check_finite(value, text)
        if non_negative and value < 0:
            raise SourceError(f"{text} is {fmt_number(value)} in {_where(snapshot)}: "
                              f"below zero, outside the domain of {purpose}")
        values.append(value)
    if aggregate == "max":
        return max(values)
    if aggregate == "min":
        return min(values)
    if aggregate == "avg":
        return sum(values) / len(values)
    return sum(values)


def gauge_ratio(snapshot, numerator, denominator, aggregate, purpose, share=False):
    """sum(numerator) or sum(numerator) / sum(denominator); a ratio's inputs must be 0 or more."""
    ratio = bool(denominator)
    value = sum(gauge_value(snapshot, s, aggregate, purpose, non_negative=ratio) for s in numerator)
    if not ratio:
        return value
    divisor = sum(gauge_value(snapshot, s, aggregate, purpose, non_negative=True) for s in denominator)
    if divisor == 0:
        where = _where(snapshot)
        raise SourceError(f"{_joined(denominator)} is 0 in {where}: the ratio is undefined")
    value /= divisor
    if share and value > 1:
        raise SourceError(f"{_joined(numerator)} is {fmt_number(value)} times {_joined(denominator)} in "
                          f"{_where(snapshot)}: a share cannot be above one")
    return value


class Kind:
    """The base of every kind. Subclasses set `name`, `source`, `fields` and override what they use."""

    name = None
    source = SOURCE_SCRAPE
    # The fields of a criterion this kind reads, beyond the ones every criterion has.
    fields = ()

    def __init__(self, criterion, spec):
        self.criterion = criterion

    def metric_names(self):
        return set()

    def describe(self):
        """What the value is computed from, for messages and reports."""
        raise NotImplementedError

    def new_track(self):
        """The state kept across samples for one role (the canary, or production)."""
        return None

    def measure(self, track, whole_window):
        """A Measure from the track: over the criterion's range, or the whole window."""
        raise NotImplementedError

    def query(self, prometheus, baseline, context):
        """A Measure from Prometheus (kinds with source prometheus).

        context: a dictionary shared by the criteria of one observation: answers already fetched,
        and `not_before`, the Unix time before which an alert is about an earlier canary (or None).
        """
        raise NotImplementedError

    def _metric(self, spec, required=True):
        """The one selector of the `metric` field, or None when it is absent and not required."""
        metrics = selectors(self.criterion.name, "metric", spec.get("metric"), required)
        if len(metrics) > 1:
            raise CriteriaError(f"criterion {self.criterion.name!r}: metric must be one selector")
        return metrics[0] if metrics else None

    def _range(self, spec):
        value = number(self.criterion.name, "range", spec.get("range"))
        if value is not None and value <= 0:
            raise CriteriaError(f"criterion {self.criterion.name!r}: range must be a positive number of seconds, "
                                f"got {value:g}")
        return value

    def _minimum(self, spec, field, default):
        value = number(self.criterion.name, field, spec.get(field))
        if value is not None and value < 0:
            raise CriteriaError(f"criterion {self.criterion.name!r}: {field} must be 0 or more, got {value:g}")
        return default if value is None else value

    def _aggregate(self, spec):
        aggregate = spec.get("aggregate") or "single"
        if aggregate not in AGGREGATES:
            raise CriteriaError(f"criterion {self.criterion.name!r}: unknown aggregate {aggregate!r} "
                                f"(use one of {', '.join(AGGREGATES)})")
        return aggregate

    def _share(self, spec):
        share = spec.get("share", False)
        if not isinstance(share, bool):
            raise CriteriaError(f"criterion {self.criterion.name!r}: share must be true or false, got {share!r}")
        return share

    def _window_text(self):
        return f"over {self.range:g}s" if self.range else "over the window"


class Track:
    """State of one criterion for one role across samples. `problem` is why it cannot be measured now.

    dump() gives the state (not the settings, which come from the criterion) as JSON values for a
    checkpoint; load() takes it back from a _checkpoint.Node, checking every value (CheckpointError).
    A subclass names the keys it adds in `state` and reads them in load_state().
    """

    state = ()

    def __init__(self):
        self.problem = SourceError("no sample yet", OUTCOME_NO_DATA)

    def add(self, at, snapshot):
        try:
            self.read(at, snapshot)
        except SourceError as exc:
            self.problem = exc
        else:
            self.problem = None

    def read(self, at, snapshot):
        raise NotImplementedError

    def dump(self):
        return {"problem": dump_problem(self.problem)}

    def load(self, node, samples):
        """Take the state dump() wrote; `samples` is how many observations the checkpoint counts."""
        fields = node.mapping(("problem", *self.state))
        self.problem = load_problem(fields["problem"])
        self.load_state(fields, samples)

    def load_state(self, fields, samples):
        """Read the subclass's keys ({key: Node}) of a checkpoint into the track."""


class CounterTrack(Track):
    """Reset-adjusted running totals of counters, one per group (e.g. per `le` bucket).

    Only the first point (whole-window figures) and the points a range can reach are kept.
    """

    state = ("times", "totals", "last_raw")

    def __init__(self, selectors_, window, types, purpose, group_label=None):
        super().__init__()
        self.selectors = selectors_
        self.window = window
        self.types = types
        self.purpose = purpose
        self.group_label = group_label
        self.last_raw = {}
        self.times = []
        self.totals = []

    def read(self, at, snapshot):
        first = not self.times
        running = dict(self.totals[-1]) if self.totals else {}
        updates = []
        for selector in self.selectors:
            for labels, value in read_series(snapshot, selector, self.types, self.purpose):
                text = series_text(selector.name, labels)
                if math.isnan(value) or math.isinf(value):
                    raise SourceError(f"counter {text} is {value} in {_where(snapshot)}")
                if value < 0:
                    raise SourceError(f"counter {text} is {fmt_number(value)} in {_where(snapshot)}: "
                                      "a counter is never below zero")
                key = (selector.text, tuple(sorted(labels.items())))
                previous = self.last_raw.get(key)
                if previous is None:
                    # A series born between two samples counted from zero: its first value happened in the window.
                    increment = 0.0 if first else value
                else:
                    increment = counter_step(previous, value)
                group = labels.get(self.group_label, "") if self.group_label else ""
                updates.append((key, value, group, increment))
        for key, value, group, increment in updates:
            self.last_raw[key] = value
            running[group] = running.get(group, 0.0) + increment
        self.times.append(at)
        self.totals.append(running)
        if len(self.times) > 2:
            if self.window is None:
                keep_from = len(self.times) - 1
            else:
                keep_from = max(1, bisect.bisect_right(self.times, self.times[-1] - self.window) - 1)
            if keep_from > 1:
                del self.times[1:keep_from]
                del self.totals[1:keep_from]

    def dump(self):
        last_raw = {}
        for (selector, labels), value in self.last_raw.items():
            last_raw.setdefault(selector, []).append([dict(labels), value])
        return dict(super().dump(), times=list(self.times), last_raw=last_raw,
                    totals=[{group: dump_number(total) for group, total in point.items()} for point in self.totals])

    def load_state(self, fields, samples):
        times = [node.number() for node in fields["times"].items()]
        if len(times) > samples:
            fields["times"].fail(f"{len(times)} points, more than the {samples} sample(s) observed")
        totals = []
        for node in fields["totals"].items(len(times)):
            point = {}
            for group, total in node.entries():
                if group and not self.group_label:
                    total.fail("a group in the totals of a counter that is not grouped")
                point[group] = total.number(finite=False)
            totals.append(point)
        texts = {selector.text for selector in self.selectors}
        last_raw = {}
        for text, series in fields["last_raw"].entries():
            if text not in texts:
                series.fail(f"not a selector of this criterion (it reads {', '.join(sorted(texts))})")
            for item in series.items():
                labels, value = item.items(2)
                key = (text, tuple(sorted((name, label.text()) for name, label in labels.entries())))
                if key in last_raw:
                    item.fail("a series listed twice")
                last_raw[key] = value.number(minimum=0)
        if last_raw and not times:
            fields["last_raw"].fail("counter values without a point they were read at")
        self.times, self.totals, self.last_raw = times, totals, last_raw

    def increase(self, whole_window=False):
        """({group: increase}, seconds covered), or None with fewer than two samples."""
        if len(self.times) < 2:
            return None
        last = len(self.times) - 1
        if whole_window or self.window is None:
            start = 0
        else:
            start = max(0, bisect.bisect_right(self.times, self.times[last] - self.window) - 1)
        start = min(start, last - 1)
        end_totals, start_totals = self.totals[last], self.totals[start]
        groups = {g: end_totals[g] - start_totals.get(g, 0.0) for g in end_totals}
        return groups, self.times[last] - self.times[start]


class LatestTrack(Track):
    """The latest value of a gauge expression."""

    state = ("value",)

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.value = None

    def read(self, at, snapshot):
        self.value = self.kind.read_value(snapshot)

    def dump(self):
        return dict(super().dump(), value=dump_number(self.value))

    def load_state(self, fields, samples):
        self.value = fields["value"].number(finite=False, optional=True)
        if self.value is None and self.problem is None:
            fields["value"].fail("no value, yet the track has no problem")


class FitTrack(Track):
    """A straight line fitted through every value of a gauge expression over the window."""

    state = ("fit",)

    def __init__(self, kind):
        super().__init__()
        self.kind = kind
        self.fit = LineFit()

    def read(self, at, snapshot):
        self.fit.add(at, self.kind.read_value(snapshot))

    def dump(self):
        return dict(super().dump(), fit=self.fit.dump())

    def load_state(self, fields, samples):
        self.fit.load(fields["fit"], samples)


class DurationTrack(Track):
    """How long each series of a gauge has stayed above zero, across samples."""

    state = ("since", "at")

    def __init__(self, selector, purpose):
        super().__init__()
        self.selector = selector
        self.purpose = purpose
        self.since = {}
        self.at = None

    def read(self, at, snapshot):
        active = {}
        for labels, value in read_series(snapshot, self.selector, GAUGE, self.purpose):
            key = series_text(self.selector.name, labels)
            if check_finite(value, key) < 0:
                raise SourceError(f"{key} is {fmt_number(value)} in {_where(snapshot)}: "
                                  f"below zero, outside the domain of {self.purpose}")
            if value > 0:
                active[key] = self.since.get(key, at)
        self.since = active
        self.at = at

    def dump(self):
        return dict(super().dump(), since=dict(self.since), at=self.at)

    def load_state(self, fields, samples):
        since = {series: node.number() for series, node in fields["since"].entries()}
        at = fields["at"].number(optional=True)
        if since and at is None:
            fields["at"].fail("series active since a time, yet no sample time")
        self.since, self.at = since, at

    def longest(self):
        """(seconds, series) of the longest active series, or (0.0, None) when none is active."""
        if not self.since:
            return 0.0, None
        key = min(self.since, key=lambda k: self.since[k])
        return self.at - self.since[key], key


@register
class RateRatio(Kind):
    """increase(numerator) / increase(denominator) of counters, over the last `range` seconds."""

    name = "rate_ratio"
    fields = ("numerator", "denominator", "range", "min_requests", "share")

    def __init__(self, criterion, spec):
        super().__init__(criterion, spec)
        self.numerator = selectors(criterion.name, "numerator", spec.get("numerator"), True)
        self.denominator = selectors(criterion.name, "denominator", spec.get("denominator"), True)
        self.range = self._range(spec)
        self.min_requests = self._minimum(spec, "min_requests", 0.0)
        self.share = self._share(spec)

    def metric_names(self):
        return {s.name for s in self.numerator + self.denominator}

    def describe(self):
        return f"increase({_joined(self.numerator)}) / increase({_joined(self.denominator)}) {self._window_text()}"

    def new_track(self):
        purpose = f"the rate {self.criterion.name}"
        return (CounterTrack(self.numerator, self.range, COUNTER, purpose),
                CounterTrack(self.denominator, self.range, COUNTER, purpose))

    def measure(self, track, whole_window):
        numerator, denominator = (t.increase(whole_window) for t in track)
        if numerator is None or denominator is None:
            return Measure(waiting="needs two samples to compute a rate; has one")
        requests = sum(denominator[0].values())
        seconds = denominator[1]
        if requests <= 0 or requests < self.min_requests:
            return Measure(waiting=f"only {fmt_number(requests)} in the denominator over {seconds:g}s "
                                   f"(min_requests {fmt_number(self.min_requests)})")
        ratio = sum(numerator[0].values()) / requests
        if self.share and ratio > 1:
            return Measure(problem=SourceError(
                f"{_joined(self.numerator)} grew {fmt_number(ratio)} times as much as {_joined(self.denominator)} over "
                f"{seconds:g}s: a share cannot be above one"))
        return Measure(ratio * self.criterion.scale, f"over {seconds:g}s, {fmt_number(requests)} counted")


@register
class Quantile(Kind):
    """histogram_quantile(q) over the bucket increases of the last `range` seconds."""

    name = "quantile"
    fields = ("metric", "quantile", "range", "min_requests")

    def __init__(self, criterion, spec):
        super().__init__(criterion, spec)
        self.metric = self._metric(spec)
        self.quantile = number(criterion.name, "quantile", spec.get("quantile"), allow_none=False)
        if not 0 <= self.quantile <= 1:
            raise CriteriaError(f"criterion {criterion.name!r}: quantile must be within 0-1, got {self.quantile:g}")
        self.range = self._range(spec)
        self.min_requests = self._minimum(spec, "min_requests", 0.0)
        self.buckets = Selector(self.metric.text.replace(self.metric.name, self.metric.name + "_bucket", 1))

    def metric_names(self):
        return {self.metric.name}

    def describe(self):
        return f"histogram_quantile({self.quantile:g}, {self.metric}_bucket) {self._window_text()}"

    def new_track(self):
        return CounterTrack([self.buckets], self.range, HISTOGRAM, f"the quantile {self.criterion.name}",
                            group_label="le")

    def measure(self, track, whole_window):
        increase = track.increase(whole_window)
        if increase is None:
            return Measure(waiting="needs two samples to compute a quantile; has one")
        buckets = []
        for bound, count in increase[0].items():
            try:
                buckets.append((float(bound), count))
            except ValueError:
                return Measure(problem=SourceError(f"bucket of {self.metric} has an le label that is not a number: "
                                                   f"{bound!r}"))
        if not any(math.isinf(bound) and bound > 0 for bound, count in buckets):
            return Measure(problem=SourceError(f"histogram {self.metric} has no le=\"+Inf\" bucket: "
                                               "no quantile can be computed"))
        observations = max((count for bound, count in buckets if math.isinf(bound)), default=0.0)
        if observations <= 0 or observations < self.min_requests:
            return Measure(waiting=f"only {fmt_number(observations)} observations over {increase[1]:g}s "
                                   f"(min_requests {fmt_number(self.min_requests)})")
        value = histogram_quantile(self.quantile, buckets)
        finite = [(bound, count) for bound, count in buckets if not math.isinf(bound)]
        # The rank lies in the +Inf bucket: the true quantile is at least the highest finite bound.
        beyond = bool(finite) and max(count for bound, count in finite) < self.quantile * observations
        try:
            value = check_finite(value, f"histogram_quantile({self.quantile:g}, {self.metric})")
        except SourceError as exc:
            return Measure(problem=exc)
        return Measure(value * self.criterion.scale, f"over {increase[1]:g}s, {fmt_number(observations)} observations",
                       at_least=beyond)


class _GaugeKind(Kind):
    """A kind that reads a gauge expression: metric, or numerator (over denominator)."""

    ratio_required = False

    def __init__(self, criterion, spec):
        super().__init__(criterion, spec)
        name = criterion.name
        metric = self._metric(spec, required=False)
        if not metric and not spec.get("numerator") and not self.ratio_required:
            raise CriteriaError(f"criterion {name!r}: metric is required for this kind (or numerator)")
        self.numerator = [metric] if metric else selectors(name, "numerator", spec.get("numerator"), True)
        self.denominator = selectors(name, "denominator", spec.get("denominator"), self.ratio_required)
        self.aggregate = self._aggregate(spec)
        self.share = self._share(spec)

    def metric_names(self):
        return {s.name for s in self.numerator + self.denominator}

    def expression(self):
        return _joined(self.numerator) + (" / " + _joined(self.denominator) if self.denominator else "")

    def read_value(self, snapshot):
        purpose = f"the criterion {self.criterion.name}"
        if self.aggregate != "single":
            return gauge_ratio(snapshot, self.numerator, self.denominator, self.aggregate, purpose, self.share)
        # Several targets (production on every app host): one series each, each host judged on its
        # own numbers, and the worst of them counts (memory over each host's own limit).
        values = [gauge_ratio(target, self.numerator, self.denominator, "single", purpose, self.share)
                  for target in snapshot.per_target()]
        return min(values) if self.criterion.comparison in ("<", "<=") else max(values)


@register
class Value(_GaugeKind):
    """The latest value of a gauge (or a sum of gauges)."""

    name = "value"
    fields = ("metric", "numerator", "aggregate")

    def describe(self):
        return self.expression()

    def new_track(self):
        return LatestTrack(self)

    def measure(self, track, whole_window):
        return Measure(track.value * self.criterion.scale)


@register
class ValueRatio(Value):
    """The latest value of one gauge over another (memory usage over its limit)."""

    name = "value_ratio"
    fields = ("numerator", "denominator", "aggregate", "share")
    ratio_required = True


class _FitKind(_GaugeKind):
    fields = ("metric", "numerator", "denominator", "aggregate", "min_samples")

    def __init__(self, criterion, spec):
        super().__init__(criterion, spec)
        self.min_samples = max(2, int(self._minimum(spec, "min_samples", 3)))

    def new_track(self):
        return FitTrack(self)

    def fitted(self, track):
        """(fit, None) when the line can be judged, else (None, Measure saying why not)."""
        fit = track.fit
        if fit.count < self.min_samples:
            return None, Measure(waiting=f"{fit.count} sample(s) of {self.min_samples} needed to fit a line")
        if fit.slope() is None:
            return None, Measure(waiting="all samples at the same time: no line")
        return fit, None


@register
class Slope(_FitKind):
    """The least-squares slope of a gauge expression over the whole window, per second times the unit's scale."""

    name = "slope"

    def describe(self):
        return f"least-squares slope of {self.expression()} over the window"

    def measure(self, track, whole_window):
        fit, unfit = self.fitted(track)
        if unfit:
            return unfit
        return Measure(fit.slope() * self.criterion.scale, f"from {fit.count} samples over {fit.span:g}s")


@register
class Projection(_FitKind):
    """Where memory (or any gauge expression) is heading: the window's line followed `horizon` ahead.

    A least-squares line through every value of the window, whatever its length, is followed
    `horizon` seconds past the latest sample, climbing at the slope's lower bound (the slope less two
    standard errors, never below zero): a slow steady climb over a day is caught, while the noise of
    a short window, whose slope is uncertain, is not read as a leak.
    """

    name = "projection"
    fields = (*_FitKind.fields, "horizon")

    def __init__(self, criterion, spec):
        super().__init__(criterion, spec)
        self.horizon = number(criterion.name, "horizon", spec.get("horizon"), allow_none=False)
        if self.horizon <= 0:
            raise CriteriaError(f"criterion {criterion.name!r}: horizon must be a positive number of seconds")

    def describe(self):
        return (f"{self.expression()} {self.horizon:g}s ahead along its least-squares line over the window, "
                "at the slope's lower bound")

    def measure(self, track, whole_window):
        fit, unfit = self.fitted(track)
        if unfit:
            return unfit
        slope = fit.slope()
        climb = max(0.0, slope - 2 * fit.slope_error())
        projected = fit.value_at(fit.last_t) + climb * self.horizon
        hourly = 3600 * self.criterion.scale
        return Measure(projected * self.criterion.scale,
                       f"climbing {fmt_number(slope * hourly)} {self.criterion.unit} an hour, at least "
                       f"{fmt_number(climb * hourly)}, from {fit.count} samples over {fit.span:g}s")


@register
class Duration(Kind):
    """The longest time any series of a gauge has stayed above zero, across samples."""

    name = "duration"
    fields = ("metric",)

    def __init__(self, criterion, spec):
        super().__init__(criterion, spec)
        self.metric = self._metric(spec)

    def metric_names(self):
        return {self.metric.name}

    def describe(self):
        return f"time {self.metric} has stayed above 0"

    def new_track(self):
        return DurationTrack(self.metric, f"the criterion {self.criterion.name}")

    def measure(self, track, whole_window):
        seconds, series = track.longest()
        return Measure(seconds * self.criterion.scale, f"{series} active" if series else "none active",
                       pending=bool(track.since))


@register
class Query(Kind):
    """A PromQL expression that returns one number (and its twin for production, for the baseline)."""

    name = "query"
    source = SOURCE_PROMETHEUS
    fields = ("query", "baseline_query")

    def __init__(self, criterion, spec):
        super().__init__(criterion, spec)
        self.query_text = spec.get("query")
        self.baseline_query = spec.get("baseline_query")
        if not (isinstance(self.query_text, str) and self.query_text.strip()):
            raise CriteriaError(f"criterion {criterion.name!r}: a prometheus criterion needs a PromQL query")
        if self.baseline_query is not None and not (isinstance(self.baseline_query, str)
                                                    and self.baseline_query.strip()):
            raise CriteriaError(f"criterion {criterion.name!r}: baseline_query must be a PromQL query")

    def describe(self):
        return f"PromQL: {self.query_text}"

    def query(self, prometheus, baseline, context):
        query = self.baseline_query if baseline else self.query_text
        result_type, result = prometheus.instant(query)
        return Measure(single_value(result_type, result, query) * self.criterion.scale)


@register
class Alerts(Kind):
    """The number of alerts firing in Prometheus whose labels match `alert_matchers`."""

    name = "alerts"
    source = SOURCE_PROMETHEUS
    fields = ("alert_matchers",)

    def __init__(self, criterion, spec):
        super().__init__(criterion, spec)
        matchers = spec.get("alert_matchers")
        if matchers is not None and not isinstance(matchers, dict):
            raise CriteriaError(f"criterion {criterion.name!r}: alert_matchers must be a dictionary of label: value")
        self.matchers = {str(k): str(v) for k, v in (matchers or {}).items()}

    def describe(self):
        matchers = ", ".join(f'{k}="{v}"' for k, v in sorted(self.matchers.items()))
        return f"firing alerts matching {{{matchers}}} in /api/v1/alerts"

    def query(self, prometheus, baseline, context):
        if "alerts" not in context:
            try:
                context["alerts"] = prometheus.alerts()
            except SourceError as exc:
                context["alerts"] = exc
        alerts = context["alerts"]
        if isinstance(alerts, SourceError):
            raise alerts
        firing = [a for a in alerts if a.get("state") == "firing"
                  and all((a.get("labels") or {}).get(k) == v for k, v in self.matchers.items())]
        not_before = context.get("not_before")
        # An alert that fired before this canary started is about an earlier one (its rate window
        # outlives it); one whose start cannot be read is counted.
        earlier = [a for a in firing if not_before is not None and (alert_start(a) or not_before) < not_before]
        firing = [a for a in firing if a not in earlier]
        names = sorted({(a.get("labels") or {}).get("alertname", "?") for a in firing})
        note = ("firing: " + ", ".join(names)) if names else "none firing"
        if earlier:
            older = sorted({(a.get("labels") or {}).get("alertname", "?") for a in earlier})
            note += f"; {len(earlier)} firing since before this canary started, not counted ({', '.join(older)})"
        return Measure(float(len(firing)), note)


_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$")


def alert_start(alert):
    """Unix time of an alert's activeAt (RFC 3339, as Prometheus writes it; UTC without an offset), or None."""
    match = _RFC3339.match(str(alert.get("activeAt") or ""))
    if not match:
        return None
    zone = "+00:00" if match.group(3) in (None, "Z") else match.group(3)
    fraction = float("0." + match.group(2)) if match.group(2) else 0.0
    try:
        return datetime.datetime.fromisoformat(match.group(1) + zone).timestamp() + fraction
    except ValueError:
        return None


KIND_FIELDS = frozenset(field for kind in KINDS.values() for field in kind.fields)
