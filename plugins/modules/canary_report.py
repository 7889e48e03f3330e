#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin of the same name, on the controller.

DOCUMENTATION = r"""
module: canary_report
short_description: Write a canary's verdict as one self-contained HTML page with charts
version_added: 0.2.0
description:
  - Writes, on the controller, one HTML page from a canary's verdict (the result of
    M(hyperbun.canary.canary_watch), or the verdict recorded in the canary's state) and the incident's facts.
  - The page has the facts (release, application, verdict, reason, window, breach, isolation), a table of every
    criterion (outcome, value, threshold, production's value, what was measured), a chart of the canary's share
    of the traffic over time, and for each criterion a chart of its value over the window against its threshold
    (a horizontal line) and production's value, with vertical markers at the breach and at the isolation.
  - The charts are drawn with matplotlib as inline SVG, their text as paths. The page runs no script and loads
    nothing, not even a font, so that it reads the same offline, attached to a mail or archived; its content
    security policy forbids anything else.
  - "The verdict is untrusted (what the canary's C(/metrics) said reaches it): every text is escaped, every number
    is checked before it is drawn, and a point that is not one is left out."
  - Each criterion's chart is a C(<figure class="criterion" data-criterion="NAME">); the markers are SVG groups
    with the ids C(breach-marker-N) and C(isolation-marker-N) (N the chart's index), the breaching samples
    C(breach-points-N), the threshold C(threshold-N) and production's line C(production-N).
  - A verdict without samples (the canary never got to be judged) still makes a page, which says so.
  - The share of the traffic comes from the verdict's RV(hyperbun.canary.canary_watch#module:series.shares), or else
    from its C(steps) (each step's C(window_started_at) and C(percentage)), and is 0 from O(isolated_at).
author:
  - Hyper-Bun Operations Team (@hyperbun)
requirements:
  - matplotlib (on the controller)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - The page is drawn, and not written; the task reports C(changed).
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run makes no changes.
    support: full
    details:
      - The same verdict draws the same page, byte for byte; an unchanged page is not written again.
  action:
    description:
      - Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
options:
  dest:
    description: Path of the HTML page on the controller. Its directory must exist.
    type: path
    required: true
  verdict:
    description:
      - The verdict to report, as M(hyperbun.canary.canary_watch) returns it (C(verdict), C(msg), C(samples),
        C(results), C(series), C(started_at), C(ended_at), C(breach_at)), with the playbook's C(steps) and
        C(failed_step) when it has them.
      - Without C(series) the page has the table but no chart of the criteria.
    type: dict
    required: true
  release:
    description: The canary's release.
    type: str
    default: ""
  app:
    description: The application's name.
    type: str
    default: ""
  reason:
    description: Why the canary was rolled back (or what was decided).
    type: str
    default: ""
  breach_at:
    description:
      - When the breach was sampled (ISO 8601, or Unix seconds); by default the verdict's C(breach_at).
    type: raw
  isolated_at:
    description:
      - When the canary's weight reached 0 on the load balancers (ISO 8601, or Unix seconds); no marker without it.
    type: raw
  markdown_report:
    description:
      - The Markdown incident report's file name, linked from the page (only its base name, relative to the page).
    type: str
    default: ""
  mode:
    description: The page's permissions, in octal.
    type: raw
    default: "0644"
  on_error:
    description:
      - What a page that cannot be drawn or written does to the task.
      - V(fail) fails it. V(warn) reports a warning and RV(error), with RV(drawn) false, and the task does not fail
        (a rollback's report must never stop the rollback).
    type: str
    choices: [fail, warn]
    default: fail
notes:
  - A merged point of a long window's series (see RV(hyperbun.canary.canary_watch#module:series)) is drawn at its
    worst sample, so that a chart shows the worst of each stretch of time.
seealso:
  - module: hyperbun.canary.canary_watch
"""

EXAMPLES = r"""
- name: Watch the canary
  hyperbun.canary.canary_watch:
    metrics_urls: ["http://app1.example.com:3001/metrics"]
    window: 24h
    dry_run: true
  register: watch

- name: Write the report of the canary's window
  hyperbun.canary.canary_report:
    dest: "/srv/incidents/{{ canary_release }}.html"
    verdict: "{{ watch }}"
    release: "{{ canary_release }}"
    app: hyperbun
    reason: "{{ watch.msg }}"
    markdown_report: "{{ canary_release }}.md"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
dest:
  description: The page's path.
  returned: always
  type: str
  sample: /srv/incidents/2026-11-27-hyperbun-2.0.0-rollback-101500.html
drawn:
  description: Whether the page was drawn (and, outside check mode, written).
  returned: always
  type: bool
  sample: true
error:
  description: Why the page was not written, with O(on_error=warn).
  returned: when the page could not be drawn or written and on_error is warn
  type: str
  sample: "canary_report needs the Python library matplotlib on the controller (pip install matplotlib): ..."
charts:
  description: How many criterion charts the page has.
  returned: when drawn
  type: int
  sample: 8
size:
  description: The page's size in bytes.
  returned: when drawn
  type: int
  sample: 180000
msg:
  description: Where the page was written, and how many charts it has.
  returned: always
  type: str
  sample: "canary report written to /srv/incidents/2.0.0.html: 8 criterion chart(s)"
"""
