# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Judging criteria over successive samples: rates, quantiles, slopes, durations and outcomes.

An Evaluator takes timestamped observations (scrapes of the canary and of the production
baseline, and a Prometheus client for PromQL criteria), returns one Result per criterion per
observation, applies the outcome policies and gives a final Verdict over the window.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import bisect
import math

from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import SOURCE_PROMETHEUS
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    OUTCOME_ERROR,
    OUTCOME_NO_DATA,
    SourceError,
    check_finite,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import single_value

PASS = "pass"  # noqa: S105 an outcome, not a password
FAIL = "fail"
INCONCLUSIVE = "inconclusive"
NO_DATA = OUTCOME_NO_DATA
ERROR = OUTCOME_ERROR
OUTCOMES = (PASS, FAIL, INCONCLUSIVE, NO_DATA, ERROR)
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


def counter_step(previous, value):
    """What a counter counted between two samples: a drop is a reset, counted from zero."""
    return value - previous if value >= previous else value


def counter_increase(values):
    """Increase of a counter over successive values, resets included."""
    total = 0.0
    previous = None
    for value in values:
        if previous is not None:
            total += counter_step(previous, value)
        previous = value
    return total


def histogram_quantile(q, buckets):
    """The q-quantile of a histogram, computed as Prometheus's histogram_quantile() does.

    buckets: (upper bound, cumulative count) pairs in any order, the +Inf bucket included.
    Linear interpolation within the bucket that holds the rank; the lowest bucket starts at 0
    (unless its upper bound is 0 or less, which is returned as is); a rank that falls in the
    +Inf bucket returns the highest finite upper bound. NaN when there is no +Inf bucket, fewer
    than two buckets, or no observation.
    """
    if math.isnan(q):
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    ordered = sorted((float(bound), float(count)) for bound, count in buckets)
    if not ordered or not math.isinf(ordered[-1][0]):
        return math.nan
    coalesced = []
    for bound, count in ordered:
        if coalesced and coalesced[-1][0] == bound:
            coalesced[-1] = (bound, coalesced[-1][1] + count)
        else:
            coalesced.append((bound, count))
    monotonic = []
    highest = -math.inf
    for bound, count in coalesced:
        highest = max(highest, count)
        monotonic.append((bound, highest))
    if len(monotonic) < 2:
        return math.nan
    observations = monotonic[-1][1]
    if observations == 0 or math.isnan(observations):
        return math.nan
    rank = q * observations
    counts = [count for bound, count in monotonic[:-1]]
    index = bisect.bisect_left(counts, rank)
    if index == len(monotonic) - 1:
        return monotonic[-2][0]
    if index == 0 and monotonic[0][0] <= 0:
        return monotonic[0][0]
    start = 0.0
    end, count = monotonic[index]
    if index > 0:
        start = monotonic[index - 1][0]
        count -= monotonic[index - 1][1]
        rank -= monotonic[index - 1][1]
    return start + (end - start) * (rank / count)


def least_squares_slope(points):
    """Slope (value per second) of the least-squares line through (time, value) points; None if undefined."""
    if len(points) < 2:
        return None
    n = float(len(points))
    mean_t = sum(t for t, v in points) / n
    mean_v = sum(v for t, v in points) / n
    spread = sum((t - mean_t) ** 2 for t, v in points)
    if spread == 0:
        return None
    return sum((t - mean_t) * (v - mean_v) for t, v in points) / spread


def _fmt(value):
    if value is None:
        return "none"
    return f"{value:.6g}"


def _series_text(name, labels):
    shown = {k: v for k, v in labels.items() if k != "__target__"}
    return name + ("{" + ", ".join('{}="{}"'.format(*kv) for kv in sorted(shown.items())) + "}" if shown else "")


def _missing(snapshot, selector):
    return SourceError(
        f"no metric named {selector.name} in {snapshot.source or 'the scrape'} "
        "(misnamed, or not exported by this release)",
        NO_DATA,
    )


class _CounterTrack:
    """Reset-adjusted running totals of counters, one per group (e.g. per `le` bucket)."""

    def __init__(self, selectors, window, group_label=None):
        self.selectors = selectors
        self.window = window
        self.group_label = group_label
        self.last_raw = {}
        self.times = []
        self.totals = []
        self.problem = SourceError("no sample yet", NO_DATA)

    def add(self, at, snapshot):
        for selector in self.selectors:
            if not snapshot.has_metric(selector.name):
                self.problem = _missing(snapshot, selector)
                return
        first = not self.times
        running = dict(self.totals[-1]) if self.totals else {}
        updates = []
        for selector in self.selectors:
            for labels, value in snapshot.select(selector):
                if math.isnan(value) or math.isinf(value):
                    self.problem = SourceError("counter {} is {} in {}".format(
                        _series_text(selector.name, labels), value, snapshot.source or "the scrape"))
                    return
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
        self.problem = None
        self.times.append(at)
        self.totals.append(running)
        self._prune()

    def _prune(self):
        # Only the first point (whole-window figures) and the points that a range can reach are kept.
        if len(self.times) <= 2:
            return
        if self.window is None:
            keep_from = len(self.times) - 1
        else:
            keep_from = max(1, bisect.bisect_right(self.times, self.times[-1] - self.window) - 1)
        if keep_from > 1:
            del self.times[1:keep_from]
            del self.totals[1:keep_from]

    def increase(self, whole_window=False):
        """({group: increase}, seconds covered), or None with fewer than two samples."""
        if len(self.times) < 2:
            return None
        last = len(self.times) - 1
        if whole_window or self.window is None:
            start = 0
        else:
            start = max(0, bisect.bisect_right(self.times, self.times[last] - self.window) - 1)
        if start >= last:
            start = last - 1
        end_totals, start_totals = self.totals[last], self.totals[start]
        groups = {g: end_totals[g] - start_totals.get(g, 0.0) for g in end_totals}
        return groups, self.times[last] - self.times[start]


def _aggregate(snapshot, selector, aggregate):
    if not snapshot.has_metric(selector.name):
        raise _missing(snapshot, selector)
    series = snapshot.select(selector)
    if not series:
        where = snapshot.source or "the scrape"
        raise SourceError(f"no series of {selector.name} match {selector} in {where}", NO_DATA)
    if aggregate == "single" and len(series) > 1:
        shown = ", ".join(_series_text(selector.name, labels) for labels, value in series[:5])
        more = ", ..." if len(series) > 5 else ""
        raise SourceError(f"{selector} matched {len(series)} series where one was expected ({shown}{more}): "
                          "narrow the selector or set aggregate")
    values = [check_finite(value, _series_text(selector.name, labels)) for labels, value in series]
    if aggregate == "max":
        return max(values)
    if aggregate == "min":
        return min(values)
    if aggregate == "avg":
        return sum(values) / len(values)
    return sum(values)


class _GaugeTrack:
    """Values of a gauge expression (a sum of selectors, optionally over another) at each sample."""

    def __init__(self, numerator, denominator, aggregate, window, keep_all):
        self.numerator = numerator
        self.denominator = denominator
        self.aggregate = aggregate
        self.window = window
        self.keep_all = keep_all
        self.points = []
        self.problem = SourceError("no sample yet", NO_DATA)

    def add(self, at, snapshot):
        try:
            value = sum(_aggregate(snapshot, s, self.aggregate) for s in self.numerator)
            if self.denominator:
                divisor = sum(_aggregate(snapshot, s, self.aggregate) for s in self.denominator)
                if divisor == 0:
                    raise SourceError("{} is 0 in {}: the ratio is undefined".format(
                        " + ".join(str(s) for s in self.denominator), snapshot.source or "the scrape"))
                value = value / divisor
        except SourceError as exc:
            self.problem = exc
            return
        self.problem = None
        self.points.append((at, value))
        if not self.keep_all:
            del self.points[:-1]
        elif self.window is not None:
            cut = bisect.bisect_left([t for t, value in self.points], at - self.window)
            if cut:
                del self.points[:cut]


class _DurationTrack:
    """How long each series of a gauge has stayed above zero, across samples."""

    def __init__(self, selector):
        self.selector = selector
        self.since = {}
        self.at = None
        self.problem = SourceError("no sample yet", NO_DATA)

    def add(self, at, snapshot):
        if not snapshot.has_metric(self.selector.name):
            self.problem = _missing(snapshot, self.selector)
            return
        active = {}
        try:
            for labels, value in snapshot.select(self.selector):
                if check_finite(value, _series_text(self.selector.name, labels)) > 0:
                    key = _series_text(self.selector.name, labels)
                    active[key] = self.since.get(key, at)
        except SourceError as exc:
            self.problem = exc
            return
        self.since = active
        self.at = at
        self.problem = None

    def longest(self):
        """(seconds, series) of the longest active series, or (0.0, None) when none is active."""
        if not self.since:
            return 0.0, None
        key = min(self.since, key=lambda k: self.since[k])
        return self.at - self.since[key], key


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


class Verdict:
    def __init__(self, outcome, results, samples):
        self.outcome = outcome
        self.results = results
        self.samples = samples

    @property
    def failed(self):
        return [r.criterion.name for r in self.results if r.outcome != PASS]

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


class _Role:
    """The tracks of every scrape criterion for one role (canary, or the production baseline)."""

    def __init__(self, criteria):
        self.tracks = {}
        for c in criteria:
            if c.source == SOURCE_PROMETHEUS:
                continue
            if c.kind == "rate_ratio":
                self.tracks[c.name] = (_CounterTrack(c.numerator, c.range), _CounterTrack(c.denominator, c.range))
            elif c.kind == "quantile":
                bucket = c.metric.__class__(c.metric.text.replace(c.metric.name, c.metric.name + "_bucket", 1))
                self.tracks[c.name] = (_CounterTrack([bucket], c.range, group_label="le"),)
            elif c.kind == "duration":
                self.tracks[c.name] = (_DurationTrack(c.metric),)
            else:
                numerator = [c.metric] if c.kind == "value" else c.numerator
                self.tracks[c.name] = (_GaugeTrack(numerator, c.denominator, c.aggregate, c.range, c.kind == "slope"),)
        self.last_error = SourceError("no sample yet", NO_DATA)

    def add(self, at, snapshot):
        if isinstance(snapshot, SourceError):
            self.last_error = snapshot
            return
        self.last_error = None
        for tracks in self.tracks.values():
            for track in tracks:
                track.add(at, snapshot)

    def measure(self, c, whole_window=False):
        """(value, None) or (None, SourceError) or (value, inconclusive message) for criterion c."""
        if self.last_error is not None:
            return None, self.last_error
        tracks = self.tracks[c.name]
        for track in tracks:
            if track.problem is not None:
                return None, track.problem
        if c.kind == "rate_ratio":
            numerator, denominator = (t.increase(whole_window) for t in tracks)
            if numerator is None or denominator is None:
                return None, INCONCLUSIVE, "needs two samples to compute a rate; has one"
            requests = sum(denominator[0].values())
            seconds = denominator[1]
            if requests <= 0 or requests < c.min_requests:
                return None, INCONCLUSIVE, (
                    f"only {_fmt(requests)} in the denominator over {seconds:g}s (min_requests {_fmt(c.min_requests)})"
                )
            return sum(numerator[0].values()) / requests * c.scale, None, f"over {seconds:g}s, {_fmt(requests)} counted"
        if c.kind == "quantile":
            increase = tracks[0].increase(whole_window)
            if increase is None:
                return None, INCONCLUSIVE, "needs two samples to compute a quantile; has one"
            buckets = []
            for bound, count in increase[0].items():
                try:
                    buckets.append((float(bound), count))
                except ValueError:
                    return None, SourceError(f"bucket of {c.metric} has an le label that is not a number: {bound!r}")
            if not any(math.isinf(bound) and bound > 0 for bound, count in buckets):
                return None, SourceError(f"histogram {c.metric} has no le=\"+Inf\" bucket: no quantile can be computed")
            observations = max((count for bound, count in buckets if math.isinf(bound)), default=0.0)
            if observations <= 0 or observations < c.min_requests:
                return None, INCONCLUSIVE, (
                    f"only {_fmt(observations)} observations over {increase[1]:g}s "
                    f"(min_requests {_fmt(c.min_requests)})"
                )
            value = histogram_quantile(c.quantile, buckets)
            finite = [(bound, count) for bound, count in buckets if not math.isinf(bound)]
            highest = max(finite) if finite else None
            # The rank lies in the +Inf bucket: the true quantile is at least the highest finite bound.
            beyond = highest is not None and max(count for bound, count in finite) < c.quantile * observations
            try:
                return check_finite(value, f"histogram_quantile({c.quantile:g}, {c.metric})") * c.scale, None, (
                    f"over {increase[1]:g}s, {_fmt(observations)} observations"), beyond
            except SourceError as exc:
                return None, exc
        if c.kind == "duration":
            seconds, series = tracks[0].longest()
            return seconds * c.scale, None, (f"{series} active") if series else "none active"
        track = tracks[0]
        if c.kind == "slope":
            if len(track.points) < max(2, c.min_samples):
                needed = max(2, c.min_samples)
                return None, INCONCLUSIVE, f"{len(track.points)} sample(s) of {needed} needed for a slope"
            slope = least_squares_slope(track.points)
            if slope is None:
                return None, INCONCLUSIVE, "all samples at the same time: no slope"
            span = track.points[-1][0] - track.points[0][0]
            return slope * c.scale, None, f"from {len(track.points)} samples over {span:g}s"
        return track.points[-1][1] * c.scale, None, ""


def _unpack(measured):
    value, problem = measured[0], measured[1]
    note = measured[2] if len(measured) > 2 else ""
    beyond = measured[3] if len(measured) > 3 else False
    return value, problem, note, beyond


class Evaluator:
    """Judges criteria over successive observations; see observe(), decision and finish()."""

    def __init__(self, criteria, policy=None, baseline=False):
        self.criteria = list(criteria)
        self.policy = policy or Policy()
        self.use_baseline = baseline
        self.canary = _Role(self.criteria)
        self.baseline = _Role(self.criteria) if baseline else None
        self.samples = 0
        self.last = {}
        self.tripped = {}
        self._fails = {c.name: 0 for c in self.criteria}
        self._unmeasured = {c.name: 0 for c in self.criteria}

    @property
    def needs_scrape(self):
        return any(c.source != SOURCE_PROMETHEUS for c in self.criteria)

    @property
    def needs_prometheus(self):
        return any(c.source == SOURCE_PROMETHEUS for c in self.criteria)

    def metric_names(self):
        names = set()
        for c in self.criteria:
            names.update(c.metric_names())
        return names

    def observe(self, at, canary=None, baseline=None, prometheus=None):
        """Add one observation and judge every criterion at time `at` (seconds).

        canary: a Snapshot or a SourceError (the scrape failed). baseline: the same for the
        production instances (a list is merged). prometheus: a PrometheusClient, or None.
        Returns the list of Result, one per criterion.
        """
        self.samples += 1
        if canary is not None:
            self.canary.add(at, canary)
        if self.baseline is not None and baseline is not None:
            self.baseline.add(at, baseline)
        alerts_cache = {}
        results = []
        for c in self.criteria:
            result = self._judge(c, at, prometheus, alerts_cache)
            self._apply_policy(c, result)
            self.last[c.name] = result
            results.append(result)
        return results

    @property
    def decision(self):
        """None while the window may go on; otherwise the outcome that ends it (fail, error, no_data)."""
        if not self.tripped:
            return None
        return worst(r.outcome for r in self.tripped.values())

    def _apply_policy(self, c, result):
        if result.outcome == FAIL:
            self._fails[c.name] += 1
        else:
            self._fails[c.name] = 0
        if result.outcome in (NO_DATA, ERROR):
            self._unmeasured[c.name] += 1
        else:
            self._unmeasured[c.name] = 0
        if c.name in self.tripped:
            return
        limit = {NO_DATA: self.policy.no_data_after, ERROR: self.policy.error_after,
                 FAIL: 1 if c.severity == "critical" else self.policy.warning_fail_after}.get(result.outcome)
        count = self._fails[c.name] if result.outcome == FAIL else self._unmeasured[c.name]
        if limit is not None and count >= limit:
            self.tripped[c.name] = result

    def _prometheus_value(self, c, prometheus, query, alerts_cache):
        if c.kind == "alerts":
            if "alerts" not in alerts_cache:
                try:
                    alerts_cache["alerts"] = prometheus.alerts()
                except SourceError as exc:
                    alerts_cache["alerts"] = exc
            alerts = alerts_cache["alerts"]
            if isinstance(alerts, SourceError):
                raise alerts
            firing = [a for a in alerts if a.get("state") == "firing"
                      and all((a.get("labels") or {}).get(k) == str(v) for k, v in c.alert_matchers.items())]
            names = sorted({(a.get("labels") or {}).get("alertname", "?") for a in firing})
            return float(len(firing)), ("firing: " + ", ".join(names)) if names else "none firing"
        result_type, result = prometheus.instant(query)
        return single_value(result_type, result, query) * c.scale, ""

    def _measure(self, c, role, prometheus, alerts_cache, whole_window=False, baseline=False):
        if c.source == SOURCE_PROMETHEUS:
            if prometheus is None:
                return (None, SourceError("criterion reads Prometheus but no Prometheus server was given", NO_DATA),
                        "", False)
            query = c.baseline_query if baseline else c.query
            try:
                value, note = self._prometheus_value(c, prometheus, query, alerts_cache)
            except SourceError as exc:
                return None, exc, "", False
            return value, None, note, False
        return _unpack(role.measure(c, whole_window))

    def _judge(self, c, at, prometheus, alerts_cache, whole_window=False, final=False):
        where = c.source_text()
        value, problem, note, beyond = self._measure(c, self.canary, prometheus, alerts_cache, whole_window)
        if isinstance(problem, SourceError):
            return Result(c, problem.outcome, None, f"{problem.message} (source: {where})", at=at, final=final)
        if problem == INCONCLUSIVE:
            return Result(c, INCONCLUSIVE, None, f"{note} (source: {where})", at=at, final=final)
        head = f"{c.name} = {_fmt(value)} {c.unit}"
        detail = " (source: {}{})".format(where, ", " + note if note else "")
        if beyond and c.comparison in (">", ">="):
            if value >= c.threshold:
                message = f"{head} or more: beyond the highest finite bucket, at or above threshold {_fmt(c.threshold)}"
                return Result(c, FAIL, value, message + detail, at=at, final=final)
            message = (f"{head} or more: the buckets end at {_fmt(value)} {c.unit}, below threshold "
                       f"{_fmt(c.threshold)}, so the quantile cannot be judged; add buckets above the threshold")
            return Result(c, ERROR, value, message + detail, at=at, final=final)
        if breaches(value, c.comparison, c.threshold):
            return Result(c, FAIL, value, f"{head} {c.comparison} threshold {_fmt(c.threshold)}{detail}",
                          at=at, final=final)
        if final and c.success_threshold is not None:
            higher_is_worse = c.comparison in (">", ">=")
            met = value < c.success_threshold if higher_is_worse else value > c.success_threshold
            if not met:
                return Result(c, FAIL, value, "{} does not meet the success criterion {} {}{}".format(
                    head, "<" if higher_is_worse else ">", _fmt(c.success_threshold), detail), at=at, final=final)
        if c.kind == "duration" and self.canary.tracks[c.name][0].since:
            message = f"{head}, not yet {c.comparison} threshold {_fmt(c.threshold)}{detail}"
            return Result(c, INCONCLUSIVE, value, message, at=at, final=final)
        baseline_value = None
        if self.baseline is not None and c.has_baseline and (c.source != SOURCE_PROMETHEUS or c.baseline_query):
            measured = self._measure(c, self.baseline, prometheus, alerts_cache, whole_window, baseline=True)
            b_value, b_problem, b_note = measured[:3]
            if isinstance(b_problem, SourceError):
                return Result(c, b_problem.outcome, value, f"{head}; baseline unmeasurable: {b_problem.message}",
                              at=at, final=final)
            if b_problem == INCONCLUSIVE:
                return Result(c, INCONCLUSIVE, value, f"{head}; baseline: {b_note}", at=at, final=final)
            baseline_value = b_value
            regression = self._regression(c, value, b_value)
            if regression:
                message = f"{head} against production's {_fmt(b_value)}: {regression}{detail}"
                return Result(c, FAIL, value, message, baseline_value=b_value, at=at, final=final)
        return Result(c, PASS, value, f"{head} within {c.comparison} {_fmt(c.threshold)}{detail}",
                      baseline_value=baseline_value, at=at, final=final)

    @staticmethod
    def _regression(c, value, baseline_value):
        higher_is_worse = c.comparison in (">", ">=")
        worse_by = value - baseline_value if higher_is_worse else baseline_value - value
        if c.max_increase is not None and worse_by > c.max_increase:
            return f"worse by {_fmt(worse_by)} {c.unit}, more than baseline.max_increase {_fmt(c.max_increase)}"
        if c.max_increase_percent is not None and baseline_value != 0:
            percent = worse_by / abs(baseline_value) * 100.0
            if percent > c.max_increase_percent:
                return (f"worse by {_fmt(percent)} %, more than baseline.max_increase_percent "
                        f"{_fmt(c.max_increase_percent)}")
        return ""

    @staticmethod
    def _success(c, last):
        """A PromQL criterion's last pass judged again against its success threshold (no new query)."""
        if last.outcome != PASS or c.success_threshold is None:
            return last
        higher_is_worse = c.comparison in (">", ">=")
        met = last.value < c.success_threshold if higher_is_worse else last.value > c.success_threshold
        if met:
            return last
        return Result(c, FAIL, last.value, "{} = {} {} does not meet the success criterion {} {} (source: {})".format(
            c.name, _fmt(last.value), c.unit, "<" if higher_is_worse else ">", _fmt(c.success_threshold),
            c.source_text()), baseline_value=last.baseline_value, at=last.at, final=True)

    def finish(self, success_thresholds=True):
        """The verdict over the window: a tripped policy, else each criterion's final judgement.

        Rates and quantiles are judged over the whole window against the success thresholds;
        anything but a pass in every criterion is not a pass.
        """
        results = []
        for c in self.criteria:
            if c.name in self.tripped:
                results.append(self.tripped[c.name])
                continue
            last = self.last.get(c.name)
            if last is None:
                results.append(Result(c, NO_DATA, message="never evaluated: no observation was made", final=True))
                continue
            if last.outcome in (NO_DATA, ERROR) or c.source == SOURCE_PROMETHEUS:
                results.append(self._success(c, last) if success_thresholds else last)
                continue
            results.append(self._judge(c, last.at, None, {}, whole_window=True, final=success_thresholds))
        outcome = worst(r.outcome for r in results) if results else NO_DATA
        return Verdict(outcome, results, self.samples)
