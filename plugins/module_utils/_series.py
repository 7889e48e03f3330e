# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a window's judgements looked like over time, kept for the report: bounded, whatever the window's length.

For each criterion, one point per sample (time, value, production's value, outcome) until
MAX_POINTS; then neighbours are merged, the oldest first, each group keeping its worst sample
(a breach over a pass, then the value furthest to the threshold's side) and how many samples it
stands for. A breach is never merged into a pass. The traffic share is kept as its changes.

A series is part of the judge's checkpoint, which is read back from a file on a host: load()
checks every value through _checkpoint.Node.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import math

from ansible_collections.hyperbun.canary.plugins.module_utils._checkpoint import dump_number

# Points per criterion: a chart's worth; 24 h at 30 s (2880 samples) are kept as groups of 8 to 16.
MAX_POINTS = 300
# Changes of the traffic share kept: a plan of steps has a few.
MAX_SHARES = 100
OUTCOME_RANK = {"pass": 0, "inconclusive": 1, "no_data": 2, "error": 3, "fail": 4}
# A point as the checkpoint keeps it: [at, value, baseline_value, outcome, samples].
AT, VALUE, BASELINE, OUTCOME, SAMPLES = range(5)


def _number(value):
    # Six significant digits: a chart's precision, and a checkpoint a third shorter.
    if value is None or not math.isfinite(value):
        return value
    return float(f"{value:.6g}")


class Series:
    def __init__(self, criteria, max_points=MAX_POINTS):
        self.criteria = list(criteria)
        self.max_points = max_points
        self.points = {c.name: [] for c in self.criteria}
        self.shares = []

    def add(self, results):
        """Add one sample's judgements (Result objects, each with its time)."""
        for r in results:
            points = self.points[r.criterion.name]
            points.append([round(r.at, 3), _number(r.value), _number(r.baseline_value), r.outcome, 1])
            if len(points) > self.max_points:
                self.points[r.criterion.name] = self._compact(r.criterion, points)

    def note_share(self, at, share):
        """The canary's share of the traffic (percent) at time `at`; None when unknown."""
        if share is None or (self.shares and self.shares[-1][1] == share):
            return
        self.shares.append([round(at, 3), share])
        del self.shares[:-MAX_SHARES]

    def _compact(self, criterion, points):
        width = 2 * min(p[SAMPLES] for p in points)
        while len(points) > self.max_points:
            merged = []
            for point in points:
                if merged and merged[-1][SAMPLES] + point[SAMPLES] <= width:
                    merged[-1] = self._worse(criterion, merged[-1], point)
                else:
                    merged.append(point)
            points, width = merged, width * 2
        return points

    @staticmethod
    def _worse(criterion, a, b):
        """The worse of two neighbouring points, standing for the samples of both."""

        def badness(p):
            value = p[VALUE]
            if value is None or math.isnan(value):
                return (OUTCOME_RANK[p[OUTCOME]], 0, 0.0)
            return (OUTCOME_RANK[p[OUTCOME]], 1, value if criterion.higher_is_worse else -value)

        worse = b if badness(b) > badness(a) else a
        return [*worse[:SAMPLES], a[SAMPLES] + b[SAMPLES]]

    def dump(self):
        return {
            "criteria": {name: [[p[AT], dump_number(p[VALUE]), dump_number(p[BASELINE]), p[OUTCOME], p[SAMPLES]]
                                for p in points] for name, points in self.points.items()},
            "shares": [list(s) for s in self.shares],
        }

    def load(self, node, samples):
        """Read what dump() wrote from a _checkpoint.Node, for a judge that took `samples` samples."""
        fields = node.mapping(("criteria", "shares"))
        points = {}
        for name, entry in fields["criteria"].mapping(tuple(self.points)).items():
            items = entry.items()
            if len(items) > self.max_points:
                entry.fail(f"{len(items)} points, more than the {self.max_points} a series keeps")
            loaded, total, last = [], 0, None
            for item in items:
                at, value, baseline, outcome, count = item.items(5)
                point = [at.number(), value.number(finite=False, optional=True),
                         baseline.number(finite=False, optional=True), outcome.text(tuple(OUTCOME_RANK)),
                         count.count()]
                if point[SAMPLES] < 1:
                    count.fail("a point stands for 1 sample or more")
                if last is not None and point[AT] < last:
                    at.fail("a point earlier than the one before it")
                last, total = point[AT], total + point[SAMPLES]
                loaded.append(point)
            if total > samples:
                entry.fail(f"points for {total} samples, but the judge took {samples}")
            points[name] = loaded
        shares = []
        items = fields["shares"].items()
        if len(items) > MAX_SHARES:
            fields["shares"].fail(f"{len(items)} changes of the share, more than the {MAX_SHARES} kept")
        for item in items:
            at, share = item.items(2)
            value = share.number(minimum=0)
            if value > 100:
                share.fail(f"{value!r} is more than 100 (percent)")
            shares.append([at.number(), value])
        self.points, self.shares = points, shares

    def to_dict(self, compares_with_production):
        """The series as the watch returns it: each criterion's points as columns."""
        criteria = []
        for c in self.criteria:
            points = self.points[c.name]
            criteria.append(dict(
                name=c.name, unit=c.unit, comparison=c.comparison, threshold=c.threshold,
                success_threshold=c.success_threshold, severity=c.severity,
                compares_with_production=compares_with_production(c),
                at=[p[AT] for p in points],
                value=[_json_number(p[VALUE]) for p in points],
                baseline_value=[_json_number(p[BASELINE]) for p in points],
                outcome=[p[OUTCOME] for p in points],
                samples=[p[SAMPLES] for p in points],
            ))
        return dict(max_points=self.max_points, criteria=criteria,
                    shares=[dict(at=at, share=share) for at, share in self.shares])


def _json_number(value):
    # A result goes through JSON to the playbook: an infinity is written as text, as the checkpoint does.
    return dump_number(value)
