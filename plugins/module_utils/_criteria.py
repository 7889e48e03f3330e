# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary criteria: the default set (the deployment guide's numbers) and their validation.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import copy
import hashlib
import json

from ansible_collections.hyperbun.canary.plugins.module_utils._kinds import (
    KIND_FIELDS,
    KINDS,
    SOURCE_PROMETHEUS,
    SOURCE_SCRAPE,
    CriteriaError,
    number,
)

COMPARISONS = (">", ">=", "<", "<=", "==", "!=")
SEVERITIES = ("critical", "warning")

# A value is computed in base units (a fraction, seconds, bytes, per second) and multiplied by
# its unit's scale, so thresholds are written the way the guide writes them (1 %, 5 ms).
UNIT_SCALES = {
    "percent": 100.0,
    "ratio": 1.0,
    "seconds": 1.0,
    "milliseconds": 1000.0,
    "bytes": 1.0,
    "count": 1.0,
    "per_second": 1.0,
    "percent_per_hour": 360000.0,
    "bytes_per_hour": 3600.0,
}

# The deployment guide's criteria. Each key is documented in docs/criteria.md; override any of them
# per criterion by name (the modules' `criteria` option).
DEFAULT_CRITERIA = (
    dict(
        name="error_rate",
        description="ERROR log entries per HTTP request",
        source=SOURCE_SCRAPE, kind="rate_ratio",
        # Load balancers' health checks are requests too; counting them would dilute the error rate.
        numerator=["hyperbun_log_errors_total"], denominator=['hyperbun_http_requests_total{path!="/health"}'],
        unit="percent", comparison=">", threshold=1.0, success_threshold=0.5,
        severity="critical", min_requests=100, range=300,
        baseline=dict(max_increase=0.5),
    ),
    dict(
        name="memory_usage",
        description="memory in use as a share of the memory limit",
        source=SOURCE_SCRAPE, kind="value_ratio",
        numerator=["memory_usage_bytes"], denominator=["memory_limit_bytes"],
        unit="percent", comparison=">", threshold=80.0, severity="warning",
    ),
    dict(
        name="memory_growth",
        description="memory usage projected a week ahead along its least-squares line over the window (the leak)",
        source=SOURCE_SCRAPE, kind="projection",
        numerator=["memory_usage_bytes"], denominator=["memory_limit_bytes"], horizon=7 * 86400,
        unit="percent", comparison=">", threshold=100.0, severity="warning",
        min_samples=10,
    ),
    dict(
        name="rate_limit_rejections",
        description="rate-limited requests as a share of all rate-limit decisions",
        source=SOURCE_SCRAPE, kind="rate_ratio",
        numerator=["rate_limit_rejected_total"],
        denominator=["rate_limit_rejected_total", "rate_limit_allowed_total"],
        unit="percent", comparison=">", threshold=10.0, success_threshold=1.0,
        severity="warning", min_requests=100, range=300, share=True,
        baseline=dict(max_increase=1.0),
    ),
    dict(
        name="circuit_breaker_tripped",
        description="longest time any circuit breaker has stayed tripped",
        source=SOURCE_SCRAPE, kind="duration",
        metric="circuit_breaker_tripped",
        unit="seconds", comparison=">", threshold=300.0, severity="critical",
    ),
    dict(
        name="graph_build_p95",
        description="95th percentile of graph build time",
        source=SOURCE_SCRAPE, kind="quantile",
        metric="graph_build_duration_seconds", quantile=0.95,
        unit="milliseconds", comparison=">", threshold=5.0, severity="warning",
        min_requests=50, range=300,
        # Histogram buckets 5 and 7.5 ms apart are 50 % apart: a tighter relative check judges
        # interpolation noise (a good release measured +22 % against its own production).
        baseline=dict(max_increase_percent=50.0),
    ),
    dict(
        name="query_timeout_rate",
        description="timed-out queries as a share of all queries",
        source=SOURCE_SCRAPE, kind="rate_ratio",
        numerator=["query_timeouts_total"], denominator=["queries_total"], share=True,
        unit="percent", comparison=">", threshold=0.1, severity="warning",
        min_requests=1000, range=300,
        baseline=dict(max_increase=0.05),
    ),
    dict(
        name="critical_alerts",
        description="alerts firing in Prometheus with severity=critical",
        source=SOURCE_PROMETHEUS, kind="alerts",
        alert_matchers={"severity": "critical"},
        unit="count", comparison=">", threshold=0, severity="critical",
    ),
)

_COMMON_FIELDS = {
    "name", "description", "enabled", "source", "kind", "unit", "scale", "comparison", "threshold",
    "success_threshold", "severity", "baseline",
}
_FIELDS = _COMMON_FIELDS | KIND_FIELDS
_BASELINE_FIELDS = {"max_increase", "max_increase_percent"}


class Criterion:
    """One validated criterion: the fields every criterion has, and its kind (see _kinds.py).

    Build with Criterion.from_dict(); raises CriteriaError.
    """

    @classmethod
    def from_dict(cls, spec):
        if not isinstance(spec, dict):
            raise CriteriaError(f"a criterion must be a dictionary, got {spec!r}")
        name = spec.get("name")
        if not name or not isinstance(name, str):
            raise CriteriaError(f"every criterion needs a name (a non-empty string), got {name!r}")
        unknown = sorted(set(spec) - _FIELDS)
        if unknown:
            raise CriteriaError(
                f"criterion {name!r}: unknown field(s) {', '.join(unknown)}; known fields: {', '.join(sorted(_FIELDS))}"
            )
        self = cls()
        self.name = name
        self.description = spec.get("description") or ""
        self.enabled = spec.get("enabled", True)
        if not isinstance(self.enabled, bool):
            raise CriteriaError(f"criterion {name!r}: enabled must be true or false, got {self.enabled!r}")
        self.source = spec.get("source") or (SOURCE_PROMETHEUS if spec.get("query") else SOURCE_SCRAPE)
        if self.source not in (SOURCE_SCRAPE, SOURCE_PROMETHEUS):
            raise CriteriaError(f"criterion {name!r}: unknown source {self.source!r} (use scrape or prometheus)")
        kinds = sorted(kind for kind, impl in KINDS.items() if impl.source == self.source)
        self.kind = spec.get("kind") or ("query" if self.source == SOURCE_PROMETHEUS else None)
        if self.kind not in kinds:
            raise CriteriaError(
                f"criterion {name!r}: kind {self.kind!r} is not one of {', '.join(kinds)} for source {self.source}"
            )
        self.comparison = spec.get("comparison", ">")
        if self.comparison not in COMPARISONS:
            raise CriteriaError(
                f"criterion {name!r}: unknown comparison {self.comparison!r} (use one of {' '.join(COMPARISONS)})"
            )
        self.unit = spec.get("unit") or "ratio"
        if self.unit not in UNIT_SCALES:
            raise CriteriaError(f"criterion {name!r}: unknown unit {self.unit!r} (use one of {', '.join(UNIT_SCALES)})")
        default_scale = UNIT_SCALES[self.unit] if self.source == SOURCE_SCRAPE else 1.0
        self.scale = number(name, "scale", spec.get("scale")) or default_scale
        self.threshold = number(name, "threshold", spec.get("threshold"), allow_none=False)
        self.success_threshold = number(name, "success_threshold", spec.get("success_threshold"))
        if self.success_threshold is not None and self.comparison in ("==", "!="):
            raise CriteriaError(
                f"criterion {name!r}: success_threshold needs an ordering comparison, not {self.comparison}"
            )
        if self.unit == "percent":
            for field, value in (("threshold", self.threshold), ("success_threshold", self.success_threshold)):
                if value is not None and not 0 <= value <= 100:
                    raise CriteriaError(
                        f"criterion {name!r}: {field} is a percentage and must be within 0-100, got {value}"
                    )
        self.severity = spec.get("severity", "critical")
        if self.severity not in SEVERITIES:
            raise CriteriaError(f"criterion {name!r}: unknown severity {self.severity!r} (use critical or warning)")
        baseline = spec.get("baseline") or {}
        if not isinstance(baseline, dict) or set(baseline) - _BASELINE_FIELDS:
            raise CriteriaError(f"criterion {name!r}: baseline takes only {', '.join(sorted(_BASELINE_FIELDS))}")
        self.max_increase = number(name, "baseline.max_increase", baseline.get("max_increase"))
        self.max_increase_percent = number(name, "baseline.max_increase_percent", baseline.get("max_increase_percent"))
        if self.max_increase_percent is not None and self.max_increase_percent < 0:
            raise CriteriaError(f"criterion {name!r}: baseline.max_increase_percent must be 0 or more")
        self.measures = KINDS[self.kind](self, spec)
        self.kind_settings = {field: copy.deepcopy(spec[field]) for field in sorted(KIND_FIELDS) if field in spec}
        return self

    @property
    def has_baseline(self):
        return self.max_increase is not None or self.max_increase_percent is not None

    @property
    def higher_is_worse(self):
        return self.comparison in (">", ">=")

    def source_text(self):
        """What the value is computed from, for messages and reports."""
        return self.measures.describe()

    def metric_names(self):
        return self.measures.metric_names()

    def fingerprint(self):
        """A digest of every setting that bears on the judgement (the description does not): criteria
        with the same fingerprint judge the same samples the same way."""
        settings = dict(
            name=self.name, source=self.source, kind=self.kind, unit=self.unit, scale=self.scale,
            comparison=self.comparison, threshold=self.threshold, success_threshold=self.success_threshold,
            severity=self.severity, max_increase=self.max_increase, max_increase_percent=self.max_increase_percent,
            fields=_canonical(self.kind_settings),
        )
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]

    def to_dict(self):
        return dict(
            name=self.name, description=self.description, source=self.source, kind=self.kind,
            comparison=self.comparison, threshold=self.threshold, success_threshold=self.success_threshold,
            unit=self.unit, severity=self.severity,
        )


def _canonical(value):
    """A setting with its numbers written one way (1 and 1.0 alike), for fingerprint()."""
    if isinstance(value, dict):
        return {str(key): _canonical(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_canonical(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) <= 2**53:
        return float(value)
    return value


def build_criteria(overrides=None, use_defaults=True, defaults=DEFAULT_CRITERIA):
    """Merge overrides into the default set and validate every criterion.

    overrides: a dictionary {name: {field: value}} or a list of dictionaries with a `name`.
    A name that matches a default changes only the fields given; a new name adds a criterion.
    Returns the enabled Criterion objects, in order. Raises CriteriaError.
    """
    merged = [copy.deepcopy(dict(spec)) for spec in defaults] if use_defaults else []
    by_name = {spec["name"]: spec for spec in merged}
    if overrides is None:
        items = []
    elif isinstance(overrides, dict):
        items = []
        for name, fields in overrides.items():
            if fields is None:
                fields = {}
            if not isinstance(fields, dict):
                raise CriteriaError(f"criterion {name!r}: its settings must be a dictionary, got {fields!r}")
            item = dict(fields)
            item["name"] = name
            items.append(item)
    elif isinstance(overrides, list):
        items = overrides
    else:
        raise CriteriaError("criteria must be a dictionary of name: settings or a list of criteria")
    for item in items:
        if not isinstance(item, dict) or not item.get("name"):
            raise CriteriaError(f"every criterion in the list needs a name, got {item!r}")
        if item["name"] in by_name:
            target = by_name[item["name"]]
            if "source" in item and item["source"] != target.get("source") and "kind" not in item:
                # A default moved to the other source keeps nothing of its old kind.
                target.pop("kind", None)
            target.update(copy.deepcopy(item))
        else:
            spec = copy.deepcopy(item)
            merged.append(spec)
            by_name[spec["name"]] = spec
    criteria = [Criterion.from_dict(spec) for spec in merged]
    enabled = [criterion for criterion in criteria if criterion.enabled]
    if not enabled:
        raise CriteriaError("no criterion is enabled: nothing would be measured")
    return enabled
