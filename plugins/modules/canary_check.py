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
  - Evaluates a set of criteria once against the canary's Prometheus C(/metrics) endpoint and/or a
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
  - Argument errors (a threshold that is not a number, an unknown comparison, a percentage outside
    0-100, a criterion whose source is not configured) fail before any request is made.
author:
  - Hyper-Bun Operations Team (@hyperbun)
requirements:
  - prometheus-client (Python library) on the host that runs the module, to parse expositions
extends_documentation_fragment:
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
  metrics_url:
    description:
      - URL of the canary instance's Prometheus exposition, for example C(http://127.0.0.1:3001/metrics).
      - Required when any enabled criterion has C(source=scrape) (all defaults but C(critical_alerts)).
      - Both the Prometheus text format and OpenMetrics are understood, chosen by the C(Content-Type).
    type: str
  baseline_urls:
    description:
      - URLs of the production instances' expositions, scraped at the same times as the canary.
      - When given, criteria with C(baseline) settings are also judged relative to production
        (for example the canary's error rate may exceed production's by at most 0.5 points).
    type: list
    elements: str
    default: []
  prometheus_url:
    description:
      - Base URL of a Prometheus server, for example C(http://127.0.0.1:9090), for criteria with
        C(source=prometheus) (PromQL queries and the C(critical_alerts) check of C(/api/v1/alerts)).
      - "Without it, disable C(critical_alerts) explicitly: O(criteria) C({critical_alerts: {enabled: false}})."
    type: str
  criteria:
    description:
      - Changes to the default criteria and new criteria.
      - Either a dictionary of criterion name to the fields to set, or a list of dictionaries that each
        carry a C(name).
      - "Fields: C(enabled), C(description), C(source) (C(scrape) or C(prometheus)), C(kind) (C(rate_ratio),
        C(value), C(value_ratio), C(quantile), C(slope), C(duration) for scrapes; C(query), C(alerts) for
        Prometheus), C(numerator), C(denominator), C(metric) (PromQL-style selectors such as
        C(hyperbun_http_requests_total{status=~\"5..\"})), C(quantile), C(query), C(baseline_query),
        C(alert_matchers), C(unit), C(scale), C(comparison) (C(>), C(>=), C(<), C(<=), C(==), C(!=)),
        C(threshold), C(success_threshold), C(severity) (C(critical) or C(warning)), C(min_requests),
        C(min_samples), C(range) (seconds), C(aggregate) (C(single), C(sum), C(max), C(min), C(avg)),
        C(baseline) (C(max_increase), C(max_increase_percent))."
    type: raw
    default: {}
  use_default_criteria:
    description:
      - Start from the default criteria. With V(false) only the criteria in O(criteria) are judged.
    type: bool
    default: true
  interval:
    description:
      - Seconds between two scrapes of the canary (and of the baseline).
    type: float
    default: 10
  samples:
    description:
      - How many times the canary (and the baseline) is scraped, O(interval) seconds apart; at least 2.
      - A C(slope) criterion (C(memory_growth), the leak, needs 10 samples) is judged only when O(samples)
        reaches its C(min_samples); otherwise it is listed in RV(not_judged) with the reason and a warning,
        since a leak cannot be told from one short interval. The validation window judges it over hours.
    type: int
    default: 2
  success_thresholds:
    description:
      - Judge the criteria that have a C(success_threshold) against it (error rate below 0.5 %,
        rate-limit rejections below 1 %) as at the end of a validation window.
      - With V(false) only the alert thresholds apply, as during a window.
    type: bool
    default: true
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
    metrics_url: http://127.0.0.1:3001/metrics
    baseline_urls:
      - http://127.0.0.1:3000/metrics
    prometheus_url: http://127.0.0.1:9090
    interval: 15
  delegate_to: localhost

- name: Stricter error rate, a PromQL p99 criterion, no Prometheus alerts check
  hyperbun.canary.canary_check:
    metrics_url: https://canary.example.internal:3001/metrics
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
  description: Names of the criteria whose outcome is not C(pass).
  returned: always
  type: list
  elements: str
  sample: [error_rate]
not_judged:
  description: Criteria left out because they need more samples than O(samples), with the reason.
  returned: always
  type: list
  elements: dict
  sample: [{name: memory_growth, reason: "needs 10 samples (min_samples), this check takes 2"}]
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
from ansible_collections.hyperbun.canary.plugins.module_utils._judge import INCONCLUSIVE, PASS, Evaluator
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
    CONNECTION_ARGUMENT_SPEC,
    PROMETHEUS_AUTH_ARGUMENT_SPEC,
    PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_AUTH_REQUIRED_TOGETHER,
    HttpSettings,
    PrometheusClient,
    check_connection_params,
    scrape_all,
    scrape_or_error,
)


def main():
    argument_spec = dict(
        metrics_url=dict(type="str"),
        baseline_urls=dict(type="list", elements="str", default=[]),
        prometheus_url=dict(type="str"),
        criteria=dict(type="raw", default={}),
        use_default_criteria=dict(type="bool", default=True),
        interval=dict(type="float", default=10.0),
        samples=dict(type="int", default=2),
        success_thresholds=dict(type="bool", default=True),
        allow_inconclusive=dict(type="bool", default=False),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    argument_spec.update(PROMETHEUS_AUTH_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
        required_together=PROMETHEUS_AUTH_REQUIRED_TOGETHER,
        supports_check_mode=True,
    )
    params = module.params
    problem = check_connection_params(params)
    if problem is None and params["interval"] < 0:
        problem = "interval must be 0 or more seconds, got {}".format(params["interval"])
    if problem is None and params["samples"] < 2:
        problem = "samples must be 2 or more (rates need two scrapes), got {}".format(params["samples"])
    if problem:
        module.fail_json(msg=problem)
    try:
        criteria = build_criteria(params["criteria"] or None, params["use_default_criteria"])
    except CriteriaError as exc:
        module.fail_json(msg=f"invalid criteria: {exc}")
    not_judged = [dict(name=c.name, reason=f"needs {c.min_samples} samples (min_samples), "
                                           f"this check takes {params['samples']}")
                  for c in criteria if c.kind == "slope" and c.min_samples > params["samples"]]
    skipped = {item["name"] for item in not_judged}
    criteria = [c for c in criteria if c.name not in skipped]
    if not criteria:
        module.fail_json(msg=f"no criterion can be judged with {params['samples']} samples: raise samples",
                         not_judged=not_judged)
    for item in not_judged:
        module.warn("criterion {} is not judged: it {}; set samples to judge it".format(item["name"], item["reason"]))
    from_prometheus = [c.name for c in criteria if c.source == SOURCE_PROMETHEUS]
    from_scrape = [c.name for c in criteria if c.source != SOURCE_PROMETHEUS]
    if from_prometheus and not params["prometheus_url"]:
        module.fail_json(msg=f"criteria {', '.join(from_prometheus)} read Prometheus but prometheus_url is not set: "
                             f"set it, or disable them (criteria: {{{from_prometheus[0]}: {{enabled: false}}}})")
    if from_scrape and not params["metrics_url"]:
        module.fail_json(msg=f"criteria {', '.join(from_scrape)} read the canary's /metrics but metrics_url is not set")
    if from_scrape and not HAS_PROMETHEUS_CLIENT:
        module.fail_json(msg=missing_required_lib("prometheus-client"), exception=PROMETHEUS_CLIENT_IMPORT_ERROR)

    settings = HttpSettings.from_params(params, with_auth=True)
    prometheus = PrometheusClient(params["prometheus_url"], settings) if params["prometheus_url"] else None
    evaluator = Evaluator(criteria, baseline=bool(params["baseline_urls"]))
    wanted = wanted_names(evaluator.metric_names())

    def observe(with_prometheus):
        canary = baseline = None
        if from_scrape:
            canary = scrape_or_error(params["metrics_url"], settings, wanted)
            if params["baseline_urls"]:
                baseline = scrape_all(params["baseline_urls"], settings, wanted)
        evaluator.observe(time.time(), canary, baseline, prometheus if with_prometheus else None)

    for _dummy in range(params["samples"] - 1 if from_scrape else 0):
        observe(with_prometheus=False)
        time.sleep(params["interval"])
    observe(with_prometheus=True)
    verdict = evaluator.finish(success_thresholds=params["success_thresholds"])
    result = verdict.to_dict()
    result.update(changed=False, not_judged=not_judged)
    if verdict.outcome == PASS or (verdict.outcome == INCONCLUSIVE and params["allow_inconclusive"]):
        module.exit_json(**result)
    module.fail_json(**result)


if __name__ == "__main__":
    main()
