# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # What the canary is judged on, shared by canary_check and canary_watch (one argument spec in
    # module_utils/_judge_params.py); each documents its own interval, whose default differs.
    DOCUMENTATION = r"""
options:
  metrics_urls:
    description:
      - The canary instances' Prometheus expositions, for example C(http://127.0.0.1:3001/metrics), as the
        host that runs the task reaches them; several are merged into one canary.
      - Required when any enabled criterion has C(source=scrape) (all defaults but C(critical_alerts)).
      - Both the Prometheus text format 0.0.4 and OpenMetrics 1.0 are understood, chosen by the C(Content-Type).
        Every line is validated, whether or not a criterion reads it; a malformed exposition is an C(error).
    type: list
    elements: str
    default: []
    aliases: [metrics_url]
  baseline_urls:
    description:
      - The production instances' expositions, scraped at the same times as the canary.
      - When given, criteria with C(baseline) settings are also judged relative to production in the same
        window (for example the canary's error rate may exceed production's by at most 0.5 points).
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
      - Changes to the default criteria and new criteria; see the collection's C(docs/criteria.md).
      - Either a dictionary of criterion name to the fields to set, or a list of dictionaries that each
        carry a C(name). A field of a default changes only that field; C(enabled=false) removes a default.
      - "Fields of every criterion: C(enabled), C(description), C(source) (C(scrape) or C(prometheus)),
        C(kind), C(unit), C(scale), C(comparison) (C(>), C(>=), C(<), C(<=), C(==), C(!=)), C(threshold),
        C(success_threshold), C(severity) (C(critical) or C(warning)), C(baseline) (C(max_increase),
        C(max_increase_percent))."
      - "Kinds and their fields: C(rate_ratio) (C(numerator), C(denominator), C(range), C(min_requests),
        C(share)); C(value) (C(metric), C(aggregate)); C(value_ratio) (C(numerator), C(denominator),
        C(aggregate), C(share)); C(quantile) (C(metric), C(quantile), C(range), C(min_requests)); C(slope)
        and C(projection) (C(metric) or C(numerator), C(denominator), C(min_samples); C(horizon) for a
        projection); C(duration) (C(metric)); C(query) (C(query), C(baseline_query)); C(alerts)
        (C(alert_matchers)). Selectors are PromQL-style, such as C(hyperbun_http_requests_total{status=~\"5..\"})."
    type: raw
    default: {}
  use_default_criteria:
    description:
      - Start from the default criteria (the deployment guide's). With V(false) only the criteria in
        O(criteria) are judged.
    type: bool
    default: true
  alerts_since:
    description:
      - When this canary started, as an RFC 3339 time (C(2026-11-27T10:00:00+00:00); UTC without an offset) or
        Unix seconds.
      - Alerts that have been firing since before then are about an earlier canary (an alert over a
        rate window outlives the canary it was about) and are not counted by criteria of kind C(alerts);
        the result's message lists them. An alert whose C(activeAt) cannot be read is counted.
    type: str
  success_thresholds:
    description:
      - Judge the criteria that have a C(success_threshold) against it at the end (error rate below 0.5 %,
        rate-limit rejections below 1 %), over all the samples taken.
      - With V(false) only the alert thresholds apply.
    type: bool
    default: true
"""
