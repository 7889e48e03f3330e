#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: prometheus_query
short_description: Run a PromQL instant or range query against a Prometheus server
version_added: 0.1.0
description:
  - Runs a PromQL query through the Prometheus HTTP API (C(/api/v1/query) or C(/api/v1/query_range))
    and returns the result as Prometheus gives it, plus the single value when there is one.
  - By default an empty result fails the task (O(require=nonempty)), because an empty vector is what a
    misnamed metric or a label that matches nothing returns, and it must not pass for a zero.
  - A PromQL syntax error (Prometheus answers HTTP 400 with C(bad_data)), an unreachable server, an
    HTTP 5xx answer, a non-JSON answer or an answer not in the shape the Prometheus HTTP API documents
    (for example a series without its value) fail the task with a message naming the cause.
  - O(require=single) needs a number, so a series holding a native histogram fails it (take a number from the
    histogram in the query, for example with C(histogram_quantile) or C(histogram_count)).
author:
  - Hyper-Bun Operations Team (@hyperbun)
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
    details: Nothing is changed on any host.
options:
  prometheus_url:
    description:
      - Base URL of the Prometheus server, for example C(http://127.0.0.1:9090).
    type: str
    required: true
  query:
    description:
      - The PromQL expression.
    type: str
    required: true
  query_type:
    description:
      - V(instant) evaluates the query at one time, V(range) over O(start) to O(end) every O(step).
    type: str
    choices: [instant, range]
    default: instant
  time:
    description:
      - Evaluation time of an instant query, as a Unix timestamp or an RFC 3339 date; default now.
    type: str
  start:
    description:
      - Start of a range query, as a Unix timestamp or an RFC 3339 date. Required for O(query_type=range).
    type: str
  end:
    description:
      - End of a range query, as a Unix timestamp or an RFC 3339 date; default now.
    type: str
  step:
    description:
      - Resolution of a range query, as a duration (V(30s), V(1m)) or a number of seconds.
    type: str
    default: 30s
  require:
    description:
      - What the result must hold for the task to succeed.
      - V(any) accepts an empty result; V(nonempty) needs at least one series or a scalar;
        V(single) needs exactly one series or a scalar and then returns RV(value).
    type: str
    choices: [any, nonempty, single]
    default: nonempty
seealso:
  - module: hyperbun.canary.canary_check
"""

EXAMPLES = r"""
- name: Canary error rate over the last five minutes
  hyperbun.canary.prometheus_query:
    prometheus_url: http://127.0.0.1:9090
    query: >-
      sum(rate(hyperbun_log_errors_total{instance="127.0.0.1:3001"}[5m]))
      / sum(rate(hyperbun_http_requests_total{instance="127.0.0.1:3001"}[5m]))
    require: single
  register: canary_error_rate

- name: Memory of every instance over the last hour, one point a minute
  hyperbun.canary.prometheus_query:
    prometheus_url: https://prometheus.example.internal
    bearer_token: "{{ prometheus_token }}"
    query: memory_usage_bytes
    query_type: range
    start: "{{ (now(utc=true).timestamp() - 3600) | int }}"
    step: 1m

- name: Alerts firing now (an empty result is expected)
  hyperbun.canary.prometheus_query:
    prometheus_url: http://127.0.0.1:9090
    query: ALERTS{alertstate="firing"}
    require: any
"""

RETURN = r"""
result_type:
  description: The type Prometheus gave the result.
  returned: always
  type: str
  sample: vector
result:
  description: The result as the Prometheus API returns it (series with C(metric) labels and C(value) or C(values)).
  returned: always
  type: raw
  sample: [{"metric": {"instance": "127.0.0.1:3001"}, "value": [1764153600.5, "0.0042"]}]
series_count:
  description: Number of series in the result (1 for a scalar or a string).
  returned: always
  type: int
  sample: 1
value:
  description: The single value as a number, when the result is a scalar or one series of an instant query.
  returned: when the result holds exactly one value
  type: float
  sample: 0.0042
"""

from time import time as unix_now

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import SourceError
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
    CONNECTION_ARGUMENT_SPEC,
    PROMETHEUS_AUTH_ARGUMENT_SPEC,
    PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
    PROMETHEUS_AUTH_REQUIRED_TOGETHER,
    HttpSettings,
    PrometheusClient,
    check_connection_params,
    single_value,
)


def main():
    argument_spec = dict(
        prometheus_url=dict(type="str", required=True),
        query=dict(type="str", required=True),
        query_type=dict(type="str", choices=["instant", "range"], default="instant"),
        time=dict(type="str"),
        start=dict(type="str"),
        end=dict(type="str"),
        step=dict(type="str", default="30s"),
        require=dict(type="str", choices=["any", "nonempty", "single"], default="nonempty"),
    )
    argument_spec.update(CONNECTION_ARGUMENT_SPEC)
    argument_spec.update(PROMETHEUS_AUTH_ARGUMENT_SPEC)
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=PROMETHEUS_AUTH_MUTUALLY_EXCLUSIVE,
        required_together=PROMETHEUS_AUTH_REQUIRED_TOGETHER,
        required_if=[("query_type", "range", ["start"])],
        supports_check_mode=True,
    )
    params = module.params
    problem = check_connection_params(params)
    if problem is None and not params["query"].strip():
        problem = "query is empty"
    if problem:
        module.fail_json(msg=problem)

    client = PrometheusClient(params["prometheus_url"], HttpSettings.from_params(params, with_auth=True))
    try:
        if params["query_type"] == "range":
            end = params["end"] if params["end"] is not None else f"{unix_now():.3f}"
            result_type, result = client.range(params["query"], params["start"], end, params["step"])
        else:
            result_type, result = client.instant(params["query"], params["time"])
    except SourceError as exc:
        module.fail_json(msg=exc.message, outcome=exc.outcome)

    # The client returns only answers in the documented shape: a scalar or a string is one
    # [time, "value"] pair, a vector or a matrix a list of series.
    series_count = 1 if result_type in ("scalar", "string") else len(result)
    output = dict(changed=False, result_type=result_type, result=result, series_count=series_count)
    single = result_type in ("scalar", "string") or (result_type == "vector" and series_count == 1)
    if single:
        try:
            output["value"] = single_value(result_type, result, params["query"])
        except SourceError as exc:
            if params["require"] == "single":
                module.fail_json(msg=exc.message, outcome=exc.outcome, **output)
    if params["require"] != "any" and series_count == 0:
        module.fail_json(msg="query {!r} returned an empty {} (a misnamed metric, a label that matches nothing, or no "
                             "samples yet); set require=any if that is expected".format(params["query"], result_type),
                         outcome="no_data", **output)
    if params["require"] == "single" and not single:
        module.fail_json(msg=f"query {params['query']!r} returned {series_count} series where one was expected: "
                             "aggregate it, e.g. with sum()", outcome="error", **output)
    module.exit_json(**output)


if __name__ == "__main__":
    main()
