# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The validation window: samples the canary's metrics on the controller and prints one line a sample."""

from __future__ import annotations

import datetime
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

try:
    from ansible_collections.hyperbun.canary.plugins.module_utils._judge import INCONCLUSIVE, PASS
    from ansible_collections.hyperbun.canary.plugins.module_utils._judge_params import (
        POLICY_ARGUMENT_SPEC,
        Judge,
        SetupError,
        argument_spec,
        parse_duration,
    )
    from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
        PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
        PROMETHEUS_AUTH_REQUIRED_TOGETHER,
    )
except ImportError as exc:  # prometheus-client missing on the controller
    IMPORT_ERROR = exc
else:
    IMPORT_ERROR = None

display = Display()


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
        window=dict(type="raw", default="24h"),
        dry_run=dict(type="bool", default=False),
        label=dict(type="str", default="canary"),
        validate_only=dict(type="bool", default=False),
        **POLICY_ARGUMENT_SPEC,
        **argument_spec(interval_default=30),
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
        try:
            window = parse_duration(args["window"], "window")
            judge = Judge.from_params(args, minimum_interval=1)
        except SetupError as exc:
            raise AnsibleActionFail(str(exc)) from None
        if args["validate_only"]:
            result.update(changed=False, window_seconds=window,
                          msg=f"{len(judge.criteria)} criteria, a window of {format_left(window)}: settings valid")
            return result
        evaluator = judge.evaluator
        interval = judge.interval

        started = time.time()
        deadline = started + window
        breach_at = None
        sample = 0
        display.display(f"[{args['label']}] watching {len(judge.criteria)} criteria for {format_left(window)}, "
                        f"a sample every {interval:g}s")
        while True:
            sample += 1
            now = time.time()
            results = judge.observe(now)
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
