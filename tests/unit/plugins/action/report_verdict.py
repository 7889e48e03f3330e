# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A rolled-back canary's verdict as the playbooks hand it to the rollback, made by the real judge."""

from __future__ import annotations

import datetime

from ansible_collections.hyperbun.canary.plugins.module_utils._criteria import build_criteria
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import Evaluator
from ansible_collections.hyperbun.canary.tests.unit.plugins.module_utils.test_judge import snap

START = 1_764_237_600  # 2025-11-27T10:00:00Z
INTERVAL = 30
# Every default criterion but the one that reads Prometheus.
OVERRIDES = {"critical_alerts": {"enabled": False}}


def iso(at):
    return datetime.datetime.fromtimestamp(at, datetime.UTC).isoformat(timespec="seconds")


def rolled_back_verdict(passing=12, message_extra=""):
    """Judge `passing` good samples of a canary at 5 % beside production, then errors on 3 % of its requests:
    error_rate breaches and the window stops. The playbook's canary_verdict for that step."""
    evaluator = Evaluator(build_criteria(OVERRIDES), baseline=True)
    at = START
    for i in range(1, passing + 10):
        at = START + INTERVAL * i
        errors = i + (30 * (i - passing) if i > passing else 0)
        canary = dict(requests=1000 * i, errors={"QUERY_TIMEOUT": errors}, rejected=i, allowed=1000 * i,
                      queries=1000 * i, buckets=(900 * i, 995 * i, 1000 * i), memory=400 + i % 2)
        production = dict(canary, errors={"QUERY_TIMEOUT": i}, memory=380)
        evaluator.observe(at, snap(canary), snap(production))
        evaluator.series.note_share(at, 5.0)
        if evaluator.decision:
            break
    verdict = evaluator.finish(success_thresholds=False).to_dict()
    if message_extra:
        for result in verdict["results"]:
            result["message"] += message_extra
    step = {"number": 1, "percentage": 5, "window": "24h", "window_started_at": iso(START), "stage": "done",
            "shares": {"lb1": 5.0}, "verdict": verdict["verdict"], "msg": verdict["msg"],
            "failed_criteria": verdict["failed_criteria"], "samples": verdict["samples"],
            "window_ends_at": iso(START + 86400)}
    verdict.update(started_at=iso(START), ended_at=iso(at + 2), window_seconds=86400.0,
                   window_ends_at=iso(START + 86400), window_over=False, resumed=False, stopped_early=True,
                   breach_at=iso(at), dry_run=False, changed=True, series=evaluator.series_dict(),
                   steps=[step], failed_step=step)
    return verdict
