#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: canary_check
short_description: Judge a canary once against its criteria and fail on a breach
version_added: 0.1.0
description:
  - Evaluates a set of criteria once against the canary's Prometheus C(/metrics) endpoints and/or a
    Prometheus server, returns every value, and fails the task when a criterion is breached, with a
    message that names the criterion, its value, its threshold and its source.
  - The canary's endpoint is scraped O(samples) times (twice by default), O(interval) seconds apart,
    because rates and histogram quantiles come from counter increases between samples (counter resets
    are handled).
  - Each criterion ends in one of five outcomes, C(pass), C(fail), C(inconclusive) (too few requests
    or samples to judge), C(no_data) (a missing metric, an empty query, NaN) or C(error) (an
    unreachable endpoint, HTTP 500, HTML instead of metrics, a PromQL error, several series where one
    was expected, an oversized response). The task succeeds only when every criterion passes.
  - The default criteria are the deployment guide's; see the collection's C(docs/criteria.md) for each
    one's source, threshold and outcome policy. Override any field of a default by the criterion's
    name, disable one with C(enabled=false), or add new ones.
  - What the canary exposes is untrusted input. Every line of its exposition is validated; a metric
    whose C(# TYPE) is not what its criterion needs (errors exported as a gauge where a rate needs a
    counter), a series exposed twice, a negative counter or a negative input to a share is an C(error),
    never a number; so is every Prometheus answer not of the shape its API documents.
  - Argument errors (a threshold that is not a number, an unknown comparison, a percentage outside
    0-100, a criterion whose source is not configured) fail before any request is made.
author:
  - Hyper-Bun Operations Team (@hyperbun)
requirements:
  - prometheus-client (Python library) on the host that runs the module, to parse expositions
extends_documentation_fragment:
  - hyperbun.canary.judge
  - hyperbun.canary.metrics_connection
  - hyperbun.canary.metrics_connection.prometheus_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads; it runs the same way in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run makes no changes.
    support: full
    details: Nothing is changed; the result depends on the metrics at the time it runs.
options:
  interval:
    description:
      - Time between two scrapes of the canary (and of the baseline), such as C(10), C(10s) or C(1m).
    type: raw
    default: 10
  samples:
    description:
      - How many times the canary (and the baseline) is scraped, O(interval) seconds apart; at least 2.
      - "A criterion that needs more samples than this, such as the leak (C(memory_growth) fits a line
        through at least 10), ends C(inconclusive): the check does not pass on what it could not measure.
        Raise O(samples), or disable it for a one-shot check (O(criteria) C({memory_growth: {enabled: false}}))."
    type: int
    default: 2
  allow_inconclusive:
    description:
      - Let the task succeed when the verdict is C(inconclusive) (too little traffic to judge).
      - C(fail), C(no_data) and C(error) always fail the task.
    type: bool
    default: false
seealso:
  - module: hyperbun.canary.prometheus_query
  - module: hyperbun.canary.canary_log_analysis
"""

EXAMPLES = r"""
- name: Judge the canary against the guide's criteria, with production as the baseline
  hyperbun.canary.canary_check:
    metrics_urls:
      - http://127.0.0.1:3001/metrics
    baseline_urls:
      - http://127.0.0.1:3000/metrics
    prometheus_url: http://127.0.0.1:9090
    interval: 15
  delegate_to: localhost

- name: Stricter error rate, a PromQL p99 criterion, no Prometheus alerts check
  hyperbun.canary.canary_check:
    metrics_urls: [https://canary.example.internal:3001/metrics]
    ca_path: /etc/ssl/certs/internal-ca.pem
    prometheus_url: https://prometheus.example.internal
    bearer_token: "{{ prometheus_token }}"
    criteria:
      error_rate:
        threshold: 0.5
        success_threshold: 0.2
      http_p99:
        source: prometheus
        query: >-
          histogram_quantile(0.99, sum by (le)
          (rate(hyperbun_http_request_duration_seconds_bucket{instance="canary:3001"}[5m])))
        unit: seconds
        threshold: 0.25
        severity: warning
      critical_alerts:
        enabled: false
  register: canary_judgement
"""

RETURN = r"""
verdict:
  description: The overall outcome, the worst of the criteria's (C(pass) only if every criterion passed).
  returned: always
  type: str
  sample: fail
failed_criteria:
  description:
    - "The criteria that decided a verdict other than C(pass): those that failed, had no data or errors."
    - When none did, those still inconclusive.
  returned: always
  type: list
  elements: str
  sample: [error_rate]
samples:
  description: Number of observations the verdict rests on.
  returned: always
  type: int
  sample: 2
results:
  description: One entry per criterion, with its value and how it was judged.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: Criterion name.
      type: str
      sample: error_rate
    outcome:
      description: One of C(pass), C(fail), C(inconclusive), C(no_data), C(error).
      type: str
      sample: fail
    value:
      description: The measured value in the criterion's unit, or null when nothing was measured.
      type: float
      sample: 2.4
    baseline_value:
      description: The same value measured on the production instances, when a baseline was judged.
      type: float
      sample: 0.3
    unit:
      description: Unit of the value and thresholds.
      type: str
      sample: percent
    comparison:
      description: The value breaches when C(value comparison threshold) holds.
      type: str
      sample: ">"
    threshold:
      description: Alert threshold.
      type: float
      sample: 1.0
    success_threshold:
      description: Success threshold, or null.
      type: float
      sample: 0.5
    severity:
      description: C(critical) or C(warning).
      type: str
      sample: critical
    source:
      description: What the value is computed from.
      type: str
      sample: increase(hyperbun_log_errors_total) / increase(hyperbun_http_requests_total) over 300s
    message:
      description: The judgement in words, naming the criterion, value, threshold and source.
      type: str
      sample: "error_rate = 2.4 percent > threshold 1 (source: increase(...) over 300s, over 10s, 1250 counted)"
    at:
      description: Unix time of the observation judged.
      type: float
      sample: 1764153600.5
msg:
  description: The verdict in one line, listing every criterion that did not pass.
  returned: always
  type: str
  sample: "canary verdict fail: error_rate [fail] error_rate = 2.4 percent > threshold 1 (...)"
"""

import time

from ansible.module_utils.basic import AnsibleModule, missing_required_lib
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import INCONCLUSIVE, PASS
from ansible_collections.hyperbun.canary.plugins.module_utils._judge_params import Judge, SetupError, argument_spec
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
    PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_AUTH_REQUIRED_TOGETHER,
)


def main():
    spec = argument_spec(interval_default=10)
    spec.update(
        samples=dict(type="int", default=2),
        allow_inconclusive=dict(type="bool", default=False),
    )
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
        required_together=PROMETHEUS_AUTH_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    if params["samples"] < 2:
        module.fail_json(msg="samples must be 2 or more (rates need two scrapes), got {}".format(params["samples"]))
    try:
        judge = Judge.from_params(params)
    except SetupError as exc:
        if exc.missing_library:
            module.fail_json(msg=missing_required_lib("prometheus-client"), exception=exc.missing_library)
        module.fail_json(msg=str(exc))

    # Rates need counter increases between scrapes; Prometheus is asked once, with the last scrape.
    for _dummy in range(params["samples"] - 1 if judge.evaluator.needs_scrape else 0):
        judge.observe(with_prometheus=False)
        time.sleep(judge.interval)
    judge.observe()
    verdict = judge.evaluator.finish(success_thresholds=params["success_thresholds"])
    result = verdict.to_dict()
    result.update(changed=False)
    if verdict.outcome == PASS or (verdict.outcome == INCONCLUSIVE and params["allow_inconclusive"]):
        module.exit_json(**result)
    module.fail_json(**result)


if __name__ == "__main__":
    main()
