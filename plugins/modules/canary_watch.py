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
  - The task fails unless the verdict is C(pass) or C(running); O(dry_run=true) reports the verdict without
    failing.
  - Runs on the controller (an action plugin), whatever host the task is for; only the state (O(state_app))
    is written through the connection of the task's host.
  - "The window is a schedule: it begins at O(window_started_at), ends O(window) later, and a sample is due
    every O(interval) from its beginning. A sample that could not be taken on time (a slow scrape, a watch
    that was not running) is taken late, once, and the schedule goes on; the samples it missed are not made
    up for."
  - A window survives the controller. With O(state_app), after every sample the watch records its progress
    in the canary's state on the task's host (see M(hyperbun.canary.canary_state)); a later run given that
    state's C(watch.window_started_at) and C(watch.checkpoint) goes on with the same window and judgement
    as if it had never stopped. With O(max_samples) it takes a few samples and returns C(running) while the
    window goes on, so that a short job run on a schedule can take the next sample and exit.
  - The criteria and their defaults are those of M(hyperbun.canary.canary_check).
  - "The line printed after each sample fits 160 columns: the criteria that pass are counted (C(7 pass)); a
    breach, a C(no_data) or an C(error) is written out with its value and threshold (an unmeasured one with
    its reason while there is room); those that do not fit are counted (C(+2 more: fail))."
  - The judgements over time are kept for a report (RV(series)), in the checkpoint too, so that a window that
    goes on from a checkpoint keeps its history; see M(hyperbun.canary.canary_report).
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
    details:
      - It reads metrics, and watches in check mode too.
      - The canary's state (O(state_app)) is not written in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run makes no changes.
    support: partial
    details:
      - Without O(state_app) nothing is changed anywhere.
      - With O(state_app) every sample records the watch's progress in the canary's state, which changes it.
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
  window_started_at:
    description:
      - When the window began, in RFC 3339 (V(2026-11-27T10:00:00+00:00), V(2026-11-27T10:00:00.5Z)) or Unix
        seconds. The window ends at this time plus O(window), and the samples keep the schedule of this time
        plus a whole number of O(interval)s, so that a watch that goes on does not restart the window.
      - By default now, or, with a O(checkpoint), the time of its first sample.
      - A time more than an O(interval) in the future is refused. A watch whose window has ended takes no
        sample and gives the verdict on what was observed.
    type: raw
  checkpoint:
    description:
      - The judgement so far, as an earlier run saved it (the C(watch.checkpoint) of the canary's state, or
        the RV(checkpoint) it returned), a dictionary or its JSON text. The watch goes on from it as if it
        had never stopped; RV(samples) counts the samples before it too.
      - Refused before any sample, with a message that names the problem, when it is malformed, of an
        unknown version, made with other criteria, policy, baseline or O(alerts_since), or of another
        window (its first sample before O(window_started_at)).
      - By default the judgement starts afresh.
    type: raw
  max_samples:
    description:
      - Take at most this many samples, then return at once. When the window is not over and nothing was
        decided, the verdict is C(running), RV(window_over) is false and the task does not fail.
      - V(0) takes every sample of the window.
    type: int
    default: 0
  state_app:
    description:
      - After every sample, record the watch's progress in the state of this application's canary (the
        Ansible local fact C(<state_fact_dir>/<state_app>_canary.fact)) on the task's host, with
        M(hyperbun.canary.canary_state) run through its connection. Delegate the task to the first canary
        host to keep it there.
      - "The value C(watch) of the state is replaced with C(label), C(window_started_at) (RFC 3339, to the
        microsecond), C(window_seconds), C(interval), C(samples), C(last_at) and C(checkpoint), the judgement
        to go on from (about 120 kB for the default criteria, and up to about 90 kB more for the series of a
        long window, RV(series)). Nothing is added to the state's timeline, and
        the module does not log its arguments on the host."
      - The task is C(changed) when the state was. A state that cannot be written fails the task, naming the
        host and the reason, after that sample (a window whose progress cannot be kept is not run on).
      - By default no state is kept, and the task's host is not contacted.
    type: str
  state_fact_dir:
    description: The directory of Ansible local facts on the task's host, for O(state_app).
    type: str
    default: /etc/ansible/facts.d
  return_checkpoint:
    description:
      - Return the judgement to go on from as RV(checkpoint). It is large (about 120 kB for the default
        criteria, and up to about 90 kB more for the series of a long window), so it stays out of the result,
        and of what the task prints, unless asked for.
    type: bool
    default: false
  dry_run:
    description: Report the verdict without failing the task.
    type: bool
    default: false
  label:
    description:
      - Prefix of the progress lines.
      - A line is at most 160 characters; a long label is shortened, with an ellipsis, before what a sample found.
    type: str
    default: canary
  subject:
    description:
      - What is watched, as the messages name it.
      - V(production) when the O(metrics_urls) are production's (a status, a bake); its verdict then reads
        C(production judged fail) or C(production passed), never a canary's.
    type: str
    choices: [canary, production]
    default: canary
  traffic_share:
    description:
      - The canary's share of the traffic during this window, in percent (0 to 100), kept in RV(series) for the
        report.
      - Left out, the series has no share.
    type: float
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

- name: Watch a 24-hour window that survives the controller, keeping its progress on the first canary host
  hyperbun.canary.canary_watch:
    metrics_urls: ["http://app1.example.com:3001/metrics"]
    prometheus_url: https://prometheus.example.com
    window: 24h
    state_app: hyperbun
  delegate_to: "{{ groups['canary_servers'][0] }}"
  run_once: true
  register: watch

# A short job run on a schedule: read the state, take the next sample, and exit.
# The verdict is "running" (the task does not fail) until the window ends or a breach decides it.
- name: Read the canary's state
  hyperbun.canary.canary_state:
    app: hyperbun
    state: query
  register: canary
  delegate_to: "{{ groups['canary_servers'][0] }}"
  run_once: true

- name: Take the next sample of the window
  hyperbun.canary.canary_watch:
    metrics_urls: ["http://app1.example.com:3001/metrics"]
    prometheus_url: https://prometheus.example.com
    window: 24h
    window_started_at: "{{ canary.state.watch.window_started_at | default(omit) }}"
    checkpoint: "{{ canary.state.watch.checkpoint | default(omit) }}"
    max_samples: 1
    state_app: hyperbun
  delegate_to: "{{ groups['canary_servers'][0] }}"
  run_once: true
  register: watch

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
  description:
    - The outcome over the window, C(pass), C(fail), C(inconclusive), C(no_data) or C(error).
    - C(running) when O(max_samples) ended the run while the window goes on and nothing was decided;
      the task does not fail then.
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
  description:
    - Every criterion's final judgement, with its value, threshold, severity, source and message.
    - While the verdict is C(running), every criterion's judgement at the last sample.
  returned: unless validate_only is true
  type: list
  elements: dict
  sample: [{"name": "error_rate", "outcome": "fail", "value": 19.8, "comparison": ">", "threshold": 1.0}]
samples:
  description: How many samples of the window were taken, those before a O(checkpoint) included.
  returned: unless validate_only is true
  type: int
  sample: 12
started_at:
  description: When the window started (UTC, ISO 8601), O(window_started_at).
  returned: unless validate_only is true
  type: str
  sample: "2026-11-26T10:00:00+00:00"
ended_at:
  description: When the watch ended (UTC, ISO 8601); null while the verdict is C(running).
  returned: unless validate_only is true
  type: str
  sample: "2026-11-26T10:01:00+00:00"
window_ends_at:
  description: When the window ends (UTC, ISO 8601), its start plus O(window).
  returned: unless validate_only is true
  type: str
  sample: "2026-11-27T10:00:00+00:00"
window_over:
  description:
    - Whether the window's schedule has no sample left (its last was taken, or its end has passed).
    - False while the verdict is C(running), and when a breach ended the window early (RV(stopped_early)).
  returned: unless validate_only is true
  type: bool
  sample: true
resumed:
  description: Whether the watch went on from a O(checkpoint).
  returned: unless validate_only is true
  type: bool
  sample: false
checkpoint:
  description:
    - The judgement after the last sample, to go on from with O(checkpoint); about 120 kB for the default criteria,
      and up to about 90 kB more for the series of a long window (RV(series)).
  returned: when return_checkpoint is true and validate_only is not
  type: dict
  sample: {"format": "hyperbun.canary.judge", "version": 2, "samples": 12}
series:
  description:
    - Every criterion's judgements over the window, for a report (M(hyperbun.canary.canary_report)), those
      before a O(checkpoint) included.
    - One point per sample up to RV(series.max_points) per criterion; beyond, neighbouring points are merged,
      the oldest first, each keeping its worst sample (a breach over a pass, then the value furthest on the
      threshold's side) with its time, and counting the samples it stands for. A breach is never merged
      into a pass. A 24-hour window at 30 s (2880 samples) keeps about 300 points per criterion, the oldest
      standing for 8 to 16 samples and the newest for one.
    - Values are those the judge read from the canary, untrusted text included in nothing but the criterion's
      name; an infinite value is written as the text C(Infinity) or C(-Infinity).
  returned: unless validate_only is true
  type: dict
  contains:
    max_points:
      description: The most points kept per criterion.
      type: int
      sample: 300
    shares:
      description:
        - The canary's share of the traffic (percent) from the time of each change (Unix seconds), from
          O(traffic_share).
      type: list
      elements: dict
      sample: [{"at": 1764237600.0, "share": 5.0}]
    criteria:
      description:
        - One entry per criterion, in the criteria's order, with its threshold and the points as columns of the
          same length; C(at) in Unix seconds, C(value) and C(baseline_value) (production's, null when not
          compared or not measured) in the criterion's C(unit), C(outcome) of each point, C(samples) it stands
          for.
      type: list
      elements: dict
      sample:
        - name: error_rate
          unit: percent
          comparison: ">"
          threshold: 1.0
          success_threshold: 0.5
          severity: critical
          compares_with_production: true
          at: [1764237600.0, 1764237630.0, 1764237660.0]
          value: [0.2, 0.3, 4.1]
          baseline_value: [0.2, 0.2, null]
          outcome: [pass, pass, fail]
          samples: [1, 1, 1]
breach_at:
  description: When the sample that ended the window early was taken (UTC, ISO 8601), or null.
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
