#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: canary_log_analysis
short_description: Count errors by code in JSON-lines service logs
version_added: 0.1.0
description:
  - Reads JSON-lines log files (one JSON object a line, such as C(logs/hyper-bun-YYYY-MM-DD.log)) and
    reports what the deployment guide's C(rg)/C(jq) commands show, as data a playbook can judge.
  - The number of C(ERROR) entries by C(code) (C(rg '"level":"ERROR"' | jq -r .code | sort | uniq -c)),
    the occurrences of given codes at any level such as C(QUERY_TIMEOUT) (C(rg QUERY_TIMEOUT)), and the
    last lines (C(tail -n)).
  - Lines that are not JSON objects are counted in RV(unparsed_lines) and otherwise skipped.
  - A path that matches no file fails the task, since no log means nothing was measured.
author:
  - Hyper-Bun Operations Team (@hyperbun)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads files; it runs the same way in check mode.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run makes no changes.
    support: full
    details: Nothing is changed on the host.
options:
  paths:
    description:
      - Log files or glob patterns, read in name order.
    type: list
    elements: path
    required: true
  error_levels:
    description:
      - Values of the level field that count as errors.
    type: list
    elements: str
    default: [ERROR]
  codes:
    description:
      - Codes whose occurrences are counted at any level, returned in RV(code_counts).
    type: list
    elements: str
    default: [QUERY_TIMEOUT]
  tail:
    description:
      - How many of the last lines to return in RV(last_lines).
    type: int
    default: 20
  level_field:
    description:
      - Name of the JSON field that holds the level.
    type: str
    default: level
  code_field:
    description:
      - Name of the JSON field that holds the error code.
    type: str
    default: code
  max_errors:
    description:
      - Fail the task when more error entries than this are found. No limit when unset.
    type: int
  max_occurrences:
    description:
      - "Fail the task when a code occurs more often than its limit, for example C({QUERY_TIMEOUT: 0})."
    type: dict
    default: {}
  allow_missing:
    description:
      - Succeed with zero counts when no file matches instead of failing.
    type: bool
    default: false
seealso:
  - module: hyperbun.canary.canary_check
"""

EXAMPLES = r"""
- name: Errors in today's canary log, by code
  hyperbun.canary.canary_log_analysis:
    paths:
      - "/opt/hyperbun/canary/logs/hyper-bun-{{ ansible_facts.date_time.date }}.log"
    tail: 50
  register: canary_log

- name: Fail on any query timeout or more than 10 errors in any log
  hyperbun.canary.canary_log_analysis:
    paths:
      - /opt/hyperbun/canary/logs/*.log
    max_errors: 10
    max_occurrences:
      QUERY_TIMEOUT: 0
"""

RETURN = r"""
files:
  description: The files read, in order.
  returned: always
  type: list
  elements: str
  sample: [/opt/hyperbun/canary/logs/hyper-bun-2026-11-26.log]
lines:
  description: Non-empty lines read.
  returned: always
  type: int
  sample: 1520
entries:
  description: Lines that are JSON objects.
  returned: always
  type: int
  sample: 1518
unparsed_lines:
  description: Lines that are not JSON objects.
  returned: always
  type: int
  sample: 2
errors_total:
  description: Entries whose level is one of O(error_levels).
  returned: always
  type: int
  sample: 7
errors_by_code:
  description: Error entries by code (C(none) for entries without a code).
  returned: always
  type: dict
  sample: {QUERY_TIMEOUT: 5, DB_UNAVAILABLE: 2}
top_error_codes:
  description: Error codes with their counts, most frequent first.
  returned: always
  type: list
  elements: dict
  sample: [{code: QUERY_TIMEOUT, count: 5}, {code: DB_UNAVAILABLE, count: 2}]
code_counts:
  description: Occurrences of each code of O(codes), at any level.
  returned: always
  type: dict
  sample: {QUERY_TIMEOUT: 5}
last_lines:
  description: The last O(tail) lines, as written.
  returned: always
  type: list
  elements: str
  sample: ['{"level":"ERROR","code":"QUERY_TIMEOUT","msg":"query exceeded 5000 ms"}']
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hyperbun.canary.plugins.module_utils._logs import LogError, analyse, expand_paths


def main():
    module = AnsibleModule(
        argument_spec=dict(
            paths=dict(type="list", elements="path", required=True),
            error_levels=dict(type="list", elements="str", default=["ERROR"]),
            codes=dict(type="list", elements="str", default=["QUERY_TIMEOUT"]),
            tail=dict(type="int", default=20),
            level_field=dict(type="str", default="level"),
            code_field=dict(type="str", default="code"),
            max_errors=dict(type="int"),
            max_occurrences=dict(type="dict", default={}),
            allow_missing=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params["tail"] < 0:
        module.fail_json(msg=f"tail must be 0 or more, got {params['tail']}")
    if params["max_errors"] is not None and params["max_errors"] < 0:
        module.fail_json(msg=f"max_errors must be 0 or more, got {params['max_errors']}")
    limits = {}
    for code, limit in params["max_occurrences"].items():
        try:
            limits[code] = int(limit)
        except (TypeError, ValueError):
            module.fail_json(msg=f"max_occurrences[{code}] must be a whole number, got {limit!r}")
    if not params["paths"]:
        module.fail_json(msg="paths is empty: give at least one log file or pattern")

    files, unmatched = expand_paths(params["paths"])
    if unmatched and not params["allow_missing"]:
        module.fail_json(msg="no log file matches {}: nothing to analyse".format(", ".join(unmatched)), files=files)
    codes = list(dict.fromkeys(list(params["codes"]) + list(limits)))
    try:
        result = analyse(files, params["error_levels"], codes, params["tail"], params["level_field"],
                         params["code_field"])
    except LogError as exc:
        module.fail_json(msg=str(exc), files=files)

    breaches = []
    if params["max_errors"] is not None and result["errors_total"] > params["max_errors"]:
        top = ", ".join(f"{item['code']}: {item['count']}" for item in result["top_error_codes"][:5])
        breaches.append(f"{result['errors_total']} error entries, more than max_errors {params['max_errors']} ({top})")
    for code, limit in limits.items():
        if result["code_counts"].get(code, 0) > limit:
            breaches.append(f"{code} occurs {result['code_counts'][code]} times, more than its limit {limit}")
    if breaches:
        module.fail_json(msg="; ".join(breaches), changed=False, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
