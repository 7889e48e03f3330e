# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validation window: samples the canary's metrics on the controller and prints one line a sample."""

from __future__ import annotations

import datetime
import re
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

try:
    from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import (
        SOURCE_PROMETHEUS,
        CriteriaError,
        build_criteria,
    )
    from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import wanted_names
    from ansible_collections.hyperbun.canary.plugins.module_utils._judge import (
        INCONCLUSIVE,
        PASS,
        Evaluator,
        Policy,
    )
    from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
        CONNECTION_ARGUMENT_SPEC,
        PROMETHEUS_AUTH_ARGUMENT_SPEC,
        PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
        PROMETHEUS_AUTH_REQUIRED_TOGETHER,
        HttpSettings,
        PrometheusClient,
        check_connection_params,
        scrape_all,
    )
except ImportError as exc:  # prometheus-client missing on the controller
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

display = Display()

_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(value, name):
    """Seconds from 90, "90", "90s", "5m", "24h", "1h30m" or "2d"."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value).strip())
        if not match or not any(match.groups()):
            raise AnsibleActionFail(f"{name} must be a duration such as 90, 90s, 5m, 24h or 1h30m, got {value!r}")
        days, hours, minutes, secs = (float(g) if g else 0.0 for g in match.groups())
        seconds = days * 86400 + hours * 3600 + minutes * 60 + secs
    if seconds < 0:
        raise AnsibleActionFail(f"{name} must not be negative, got {value!r}")
    return seconds


def format_left(seconds):
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{secs:02d}s" if hours else f"{minutes}m{secs:02d}s"


_UNITS = {"percent": "%", "percent_per_hour": "%/h", "milliseconds": "ms", "seconds": "s", "count": "", "ratio": ""}


def format_result(result):
    c = result.criterion
    unit = _UNITS.get(c.unit, f" {c.unit}")
    value = "-" if result.value is None else f"{result.value:.3g}{unit}"
    return f"{c.name} {value} ({c.comparison}{c.threshold:g}{unit}) {result.outcome}"


def utc(at):
    return datetime.datetime.fromtimestamp(at, datetime.timezone.utc).isoformat(timespec="seconds")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    ARGUMENT_SPEC = dict(
        metrics_urls=dict(type="list", elements="str", default=[]),
        baseline_urls=dict(type="list", elements="str", default=[]),
        prometheus_url=dict(type="str"),
        criteria=dict(type="raw", default={}),
        use_default_criteria=dict(type="bool", default=True),
        window=dict(type="raw", default="24h"),
        interval=dict(type="raw", default=30),
        no_data_after=dict(type="int", default=3),
        error_after=dict(type="int", default=3),
        warning_fail_after=dict(type="int", default=3),
        success_thresholds=dict(type="bool", default=True),
        dry_run=dict(type="bool", default=False),
        label=dict(type="str", default="canary"),
        **CONNECTION_ARGUMENT_SPEC,
        **PROMETHEUS_AUTH_ARGUMENT_SPEC,
    ) if IMPORT_ERROR is None else {}

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        if IMPORT_ERROR is not None:
            raise AnsibleActionFail(
                f"canary_watch needs the Python library prometheus-client on the controller: {IMPORT_ERROR}")
        _spec, args = self.validate_argument_spec(
            argument_spec=self.ARGUMENT_SPEC,
            mutually_exclusive=PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
            required_together=PROMETHEUS_AUTH_REQUIRED_TOGETHER,
        )
        window = parse_duration(args["window"], "window")
        interval = parse_duration(args["interval"], "interval")
        if interval < 1:
            raise AnsibleActionFail(f"interval must be at least 1 second, got {args['interval']!r}")
        problem = check_connection_params(args)
        if problem:
            raise AnsibleActionFail(problem)
        try:
            criteria = build_criteria(args["criteria"] or None, args["use_default_criteria"])
            policy = Policy(args["warning_fail_after"], args["no_data_after"], args["error_after"])
        except (CriteriaError, ValueError) as exc:
            raise AnsibleActionFail(f"invalid criteria: {exc}") from exc
        if not criteria:
            raise AnsibleActionFail("no criteria to judge: a window with nothing to measure never passes")
        from_prometheus = [c.name for c in criteria if c.source == SOURCE_PROMETHEUS]
        from_scrape = [c.name for c in criteria if c.source != SOURCE_PROMETHEUS]
        if from_prometheus and not args["prometheus_url"]:
            raise AnsibleActionFail(
                f"criteria {', '.join(from_prometheus)} read Prometheus but prometheus_url is not set")
        if from_scrape and not args["metrics_urls"]:
            raise AnsibleActionFail(
                f"criteria {', '.join(from_scrape)} read the canary's /metrics but metrics_urls is empty")

        settings = HttpSettings.from_params(args, with_auth=True)
        prometheus = PrometheusClient(args["prometheus_url"], settings) if args["prometheus_url"] else None
        scrape_settings = settings.without_auth()
        evaluator = Evaluator(criteria, policy=policy, baseline=bool(args["baseline_urls"]))
        wanted = wanted_names(evaluator.metric_names())

        started = time.time()
        deadline = started + window
        breach_at = None
        sample = 0
        display.display(f"[{args['label']}] watching {len(criteria)} criteria for {format_left(window)}, "
                        f"a sample every {interval:g}s")
        while True:
            sample += 1
            now = time.time()
            canary = scrape_all(args["metrics_urls"], scrape_settings, wanted) if from_scrape else None
            baseline = (scrape_all(args["baseline_urls"], scrape_settings, wanted)
                        if from_scrape and args["baseline_urls"] else None)
            results = evaluator.observe(now, canary, baseline, prometheus)
            decision = evaluator.decision
            display.display("[{}] {} {} left | {} | {}".format(
                args["label"], utc(now)[11:19], format_left(deadline - now),
                " | ".join(format_result(r) for r in results),
                decision or "watching"))
            if decision is not None:
                breach_at = now
                break
            next_at = started + sample * interval
            if next_at > deadline:
                break
            time.sleep(max(0.0, next_at - time.time()))

        verdict = evaluator.finish(success_thresholds=args["success_thresholds"] and breach_at is None)
        outcome = verdict.outcome
        ended = time.time()
        result.update(verdict.to_dict())
        result.update(
            changed=False,
            started_at=utc(started),
            ended_at=utc(ended),
            breach_at=utc(breach_at) if breach_at else None,
            stopped_early=breach_at is not None,
            window_seconds=window,
            dry_run=args["dry_run"],
        )
        display.display(f"[{args['label']}] verdict: {result['msg']}")
        passed = outcome == PASS
        if not passed and not args["dry_run"]:
            result["failed"] = True
        if outcome == INCONCLUSIVE:
            result["msg"] += " (inconclusive is not a pass: too little traffic to judge)"
        return result
