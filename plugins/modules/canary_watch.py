#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.

DOCUMENTATION = r"""
module: canary_watch
short_description: Watch a canary for a validation window and judge it against its criteria
version_added: 0.1.0
description:
  - The validation window of a canary deployment. Every O(interval) it scrapes the canary's C(/metrics)
    (and production's, for the baseline) and queries Prometheus, judges every criterion, and prints one
    line on the operator's terminal with the time left and each criterion's value, threshold and outcome.
  - It stops at the first critical breach, or when a policy trips (C(no_data) or C(error) for
    O(no_data_after) / O(error_after) samples in a row, fail-closed), and otherwise runs for the whole
    O(window). It ends with a verdict that lists every criterion, with rates and quantiles judged over
    the whole window against their success thresholds.
  - The task fails unless the verdict is C(pass); O(dry_run=true) reports the verdict without failing.
  - Runs on the controller (an action plugin), whatever host the task is for.
  - The criteria and their defaults are those of M(hyperbun.canary.canary_check).
author:
  - Hyper-Bun Operations Team (@hyperbun)
extends_documentation_fragment:
  - hyperbun.canary.judge
  - hyperbun.canary.metrics_connection
  - hyperbun.canary.metrics_connection.prometheus_auth
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: It only reads metrics; it watches in check mode too.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run makes no changes.
    support: full
    details: Nothing is changed anywhere.
  action:
    description:
      - Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
options:
  window:
    description: Length of the validation window, such as C(24h), C(90s), C(1h30m) or a number of seconds.
    type: raw
    default: 24h
  interval:
    description: Time between samples, such as C(30), C(30s) or C(1m); at least one second.
    type: raw
    default: 30
  no_data_after:
    description: Consecutive C(no_data) results that count as a failure.
    type: int
    default: 3
  error_after:
    description: Consecutive C(error) results that count as a failure.
    type: int
    default: 3
  warning_fail_after:
    description: Consecutive breaches of a C(warning) criterion that count as a failure; a critical one fails at once.
    type: int
    default: 3
  dry_run:
    description: Report the verdict without failing the task.
    type: bool
    default: false
  label:
    description: Prefix of the progress lines.
    type: str
    default: canary
  validate_only:
    description:
      - Check every setting (window, interval, criteria, URLs, policy) and return without a sample or a request.
      - A playbook checks the windows of all its steps this way before anything changes.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Watch the canary for 24 hours
  hyperbun.canary.canary_watch:
    metrics_urls: ["http://app1.example.com:3001/metrics"]
    baseline_urls: ["http://app1.example.com:3000/metrics"]
    prometheus_url: https://prometheus.example.com
    bearer_token: "{{ prometheus_token }}"
    window: 24h
    interval: 30
  register: watch

- name: Check the settings of a 24-hour window before anything changes
  hyperbun.canary.canary_watch:
    metrics_urls: ["http://127.0.0.1:3001/metrics"]
    window: 24h
    validate_only: true

- name: Judge a one-minute window without failing
  hyperbun.canary.canary_watch:
    metrics_urls: ["http://127.0.0.1:3001/metrics"]
    criteria:
      critical_alerts:
        enabled: false
    window: 60
    interval: 5
    dry_run: true
"""

RETURN = r"""
verdict:
  description: The outcome over the window, C(pass), C(fail), C(inconclusive), C(no_data) or C(error).
  returned: unless validate_only is true
  type: str
  sample: fail
msg:
  description: The verdict in one line, naming each criterion that did not pass with its value, threshold and source.
  returned: always
  type: str
  sample: "canary verdict fail: error_rate [fail] error_rate = 19.8 % > threshold 1 (source: ...)"
failed_criteria:
  description:
    - "The criteria that decided a verdict other than C(pass): those that failed, had no data or errors."
    - When none did, those still inconclusive.
  returned: unless validate_only is true
  type: list
  elements: str
  sample: [error_rate]
results:
  description: Every criterion's final judgement, with its value, threshold, severity, source and message.
  returned: unless validate_only is true
  type: list
  elements: dict
  sample: [{"name": "error_rate", "outcome": "fail", "value": 19.8, "comparison": ">", "threshold": 1.0}]
samples:
  description: How many samples were taken.
  returned: unless validate_only is true
  type: int
  sample: 12
started_at:
  description: When the window started (UTC, ISO 8601).
  returned: unless validate_only is true
  type: str
  sample: "2026-11-26T10:00:00+00:00"
ended_at:
  description: When the window ended (UTC, ISO 8601).
  returned: unless validate_only is true
  type: str
  sample: "2026-11-26T10:01:00+00:00"
breach_at:
  description: When the sample that ended the window early was taken, or null.
  returned: unless validate_only is true
  type: str
  sample: "2026-11-26T10:00:35+00:00"
stopped_early:
  description: Whether a breach or a tripped policy ended the window before its end.
  returned: unless validate_only is true
  type: bool
  sample: true
window_seconds:
  description: The window's length in seconds.
  returned: always
  type: float
  sample: 86400.0
dry_run:
  description: Whether the verdict was only reported.
  returned: unless validate_only is true
  type: bool
  sample: false
"""
