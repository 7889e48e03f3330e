# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""From a task's parameters to a ready judge: one setup for the module canary_check and the action canary_watch.

Both take the same options under the same names and types (argument_spec() below), check them
with the same messages before any request is made, and observe the canary the same way.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import math
import re
import time

from ansible_collections.hyperbun.canary.plugins.module_utils._checkpoint import CheckpointError, loads
from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import (
    SOURCE_PROMETHEUS,
    CriteriaError,
    build_criteria,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    HAS_PROMETHEUS_CLIENT,
    PROMETHEUS_CLIENT_IMPORT_ERROR,
    wanted_names,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Evaluator, Policy
from ansible_collections.hyperbun.canary.plugins.module_utils._kinds import alert_start
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
    CONNECTION_ARGUMENT_SPEC,
    PROMETHEUS_AUTH_ARGUMENT_SPEC,
    HttpSettings,
    PrometheusClient,
    check_connection_params,
    scrape_all,
)

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")

POLICY_ARGUMENT_SPEC = dict(
    no_data_after=dict(type="int", default=3),
    error_after=dict(type="int", default=3),
    warning_fail_after=dict(type="int", default=3),
)


def argument_spec(interval_default):
    """The options every judging task takes (documented in the hyperbun.canary.judge doc fragment, but
    `interval`, whose default each documents)."""
    spec = dict(
        metrics_urls=dict(type="list", elements="str", default=[], aliases=["metrics_url"]),
        baseline_urls=dict(type="list", elements="str", default=[]),
        prometheus_url=dict(type="str"),
        criteria=dict(type="raw", default={}),
        use_default_criteria=dict(type="bool", default=True),
        interval=dict(type="raw", default=interval_default),
        success_thresholds=dict(type="bool", default=True),
        alerts_since=dict(type="str"),
    )
    spec.update(CONNECTION_ARGUMENT_SPEC)
    spec.update(PROMETHEUS_AUTH_ARGUMENT_SPEC)
    return spec


class SetupError(ValueError):
    """The parameters cannot make a judge; the message says which and why. Nothing was requested yet."""

    def __init__(self, message, missing_library=None):
        super().__init__(message)
        self.missing_library = missing_library


def parse_duration(value, name):
    """Seconds from 90, 2.5, "90", "90s", "5m", "24h", "1h30m" or "2d"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if not match or not any(match.groups()):
            raise SetupError(f"{name} must be a duration such as 90, 90s, 5m, 24h or 1h30m, got {value!r}")
        days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    if not math.isfinite(seconds):
        raise SetupError(f"{name} must be a finite duration, got {value!r}")
    if seconds < 0:
        raise SetupError(f"{name} must be 0 or more seconds, got {value!r}")
    return seconds


def parse_time(value, name):
    """Unix time from an RFC 3339 time (2026-11-27T10:00:00+00:00, ...Z) or a number of seconds; None for none."""
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    at = alert_start({"activeAt": value})
    if at is None:
        raise SetupError(f"{name} must be a time such as 2026-11-27T10:00:00+00:00 or Unix seconds, got {value!r}")
    return at


class Judge:
    """The criteria, their sources and an Evaluator, ready to observe the canary.

    Build with Judge.from_params(); raises SetupError before any request is made.
    """

    def __init__(self, criteria, interval, metrics_urls, baseline_urls, prometheus, settings, policy,
                 alerts_since=None, checkpoint=None):
        self.criteria = criteria
        self.interval = interval
        self.metrics_urls = metrics_urls
        self.baseline_urls = baseline_urls
        self.prometheus = prometheus
        self.scrape_settings = settings.without_auth()
        if checkpoint is None:
            self.evaluator = Evaluator(criteria, policy=policy, baseline=bool(baseline_urls),
                                       alerts_not_before=alerts_since)
        else:
            self.evaluator = Evaluator.restore(checkpoint, criteria, policy=policy, baseline=bool(baseline_urls),
                                               alerts_not_before=alerts_since)
        self.wanted = wanted_names(self.evaluator.metric_names())

    @classmethod
    def from_params(cls, params, minimum_interval=0.0, checkpoint=None):
        """A judge for the task's parameters; raises SetupError.

        checkpoint: what checkpoint() gave earlier (a dictionary, or its JSON text as bytes or a string),
        to go on with that judgement as if it had never stopped; refused with a SetupError that names
        the problem when it is malformed, of an unknown version or made with other parameters.
        """
        problem = check_connection_params(params)
        if problem:
            raise SetupError(problem)
        interval = parse_duration(params["interval"], "interval")
        alerts_since = parse_time(params.get("alerts_since"), "alerts_since")
        if interval < minimum_interval:
            raise SetupError(f"interval must be at least {minimum_interval:g} second(s), got {params['interval']!r}")
        try:
            criteria = build_criteria(params["criteria"] or None, params["use_default_criteria"])
            policy = Policy(**{name: params.get(name, spec["default"]) for name, spec in POLICY_ARGUMENT_SPEC.items()})
        except (CriteriaError, ValueError) as exc:
            raise SetupError(f"invalid criteria: {exc}") from None
        from_prometheus = [c.name for c in criteria if c.source == SOURCE_PROMETHEUS]
        from_scrape = [c.name for c in criteria if c.source != SOURCE_PROMETHEUS]
        if from_prometheus and not params["prometheus_url"]:
            raise SetupError(f"criteria {', '.join(from_prometheus)} read Prometheus but prometheus_url is not set: "
                             f"set it, or disable them (criteria: {{{from_prometheus[0]}: {{enabled: false}}}})")
        if from_scrape and not params["metrics_urls"]:
            raise SetupError(f"criteria {', '.join(from_scrape)} read the canary's /metrics "
                             "but metrics_urls is not set")
        if from_scrape and not HAS_PROMETHEUS_CLIENT:
            raise SetupError("the Python library prometheus-client is required to parse the canary's /metrics",
                             missing_library=PROMETHEUS_CLIENT_IMPORT_ERROR or "prometheus-client")
        settings = HttpSettings.from_params(params, with_auth=True)
        prometheus = PrometheusClient(params["prometheus_url"], settings) if params["prometheus_url"] else None
        try:
            if isinstance(checkpoint, (str, bytes, bytearray)):
                checkpoint = loads(checkpoint)
            return cls(criteria, interval, params["metrics_urls"], params["baseline_urls"], prometheus, settings,
                       policy, alerts_since, checkpoint)
        except CheckpointError as exc:
            raise SetupError(f"cannot go on from the checkpoint: {exc}") from None

    def checkpoint(self):
        """The judgement so far as JSON values (write it with _checkpoint.dumps()); its size does not grow
        with the window. Give it back to from_params() to go on from here."""
        return self.evaluator.checkpoint()

    def observe(self, at=None, with_prometheus=True):
        """Scrape the canary and production, query Prometheus, and judge every criterion: a list of Result."""
        canary = baseline = None
        if self.evaluator.needs_scrape:
            canary = scrape_all(self.metrics_urls, self.scrape_settings, self.wanted, role="canary")
            if self.baseline_urls:
                baseline = scrape_all(self.baseline_urls, self.scrape_settings, self.wanted, role="production")
        return self.evaluator.observe(time.time() if at is None else at, canary, baseline,
                                      self.prometheus if with_prometheus else None)
