# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The arithmetic of judging: counter increases across resets, histogram quantiles, straight-line fits.

Pure functions and small value objects, with no knowledge of criteria or outcomes.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import bisect
import math

from ansible_collections.hyperbun.canary.plugins.module_utils._checkpoint import dump_number


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
    if count == 0:
        # A rank of 0 in an empty lowest bucket: Prometheus divides 0 by 0 there.
        return math.nan
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


class LineFit:
    """A running least-squares fit of value against time, in constant space however many points.

    Welford's updates of the means, the spreads of the times and of the values and their co-spread:
    numerically stable over a day of Unix times, and bounded (it is what a checkpoint keeps).
    """

    _SUMS = ("mean_t", "mean_v", "spread_t", "spread_v", "cospread")

    def __init__(self):
        self.count = 0
        self.mean_t = self.mean_v = 0.0
        self.spread_t = self.spread_v = self.cospread = 0.0
        self.first_t = self.last_t = None

    def add(self, at, value):
        if self.first_t is None:
            self.first_t = at
        self.last_t = at
        self.count += 1
        d_t = at - self.mean_t
        d_v = value - self.mean_v
        self.mean_t += d_t / self.count
        self.mean_v += d_v / self.count
        self.spread_t += d_t * (at - self.mean_t)
        self.spread_v += d_v * (value - self.mean_v)
        self.cospread += d_t * (value - self.mean_v)

    def slope(self):
        """Value per second, or None with fewer than two points or no spread in time."""
        if self.count < 2 or self.spread_t <= 0:
            return None
        return self.cospread / self.spread_t

    def slope_error(self):
        """The standard error of the slope (value per second); infinite with fewer than three points."""
        slope = self.slope()
        if slope is None or self.count < 3:
            return math.inf
        residuals = max(0.0, self.spread_v - slope * self.cospread)
        return math.sqrt(residuals / (self.count - 2) / self.spread_t)

    def value_at(self, at):
        """The fitted line's value at time `at`; None where the slope is undefined."""
        slope = self.slope()
        return None if slope is None else self.mean_v + slope * (at - self.mean_t)

    def dump(self):
        """The fit's state as JSON values, for a checkpoint: eight numbers, however many points."""
        state = {name: dump_number(getattr(self, name)) for name in self._SUMS}
        return dict(state, count=self.count, first_t=self.first_t, last_t=self.last_t)

    def load(self, node, samples):
        """Take the state dump() wrote from a _checkpoint.Node (CheckpointError); at most `samples` points."""
        fields = node.mapping(("count", *self._SUMS, "first_t", "last_t"))
        count = fields["count"].count(maximum=samples)
        sums = {name: fields[name].number(finite=False) for name in self._SUMS}
        first_t, last_t = (fields[name].number(optional=True) for name in ("first_t", "last_t"))
        if (count == 0) != (first_t is None) or (first_t is None) != (last_t is None):
            node.fail(f"{count} point(s), but the first point's time is {first_t} and the last's {last_t}")
        self.count, self.first_t, self.last_t = count, first_t, last_t
        for name, value in sums.items():
            setattr(self, name, value)

    @property
    def span(self):
        """Seconds from the first point to the last."""
        return 0.0 if self.first_t is None else self.last_t - self.first_t
