# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import math

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: baseline_regressions
short_description: The criteria whose values are worse than a recorded baseline by more than their margins
version_added: 0.1.0
description:
  - Compares the values of a judgement (the RV(hyperbun.canary.canary_check#module:results) of
    M(hyperbun.canary.canary_check)) with values recorded earlier, such as production's numbers over the day
    before a promotion, criterion by criterion, with each criterion's C(baseline) margins
    (C(max_increase) in the criterion's unit, C(max_increase_percent) relative), as the canary is compared with
    production in its window.
  - A criterion is compared only when it was measured (its outcome C(pass) or C(fail)), has a finite recorded value
    and margins. A recorded value of 0 is not compared relatively.
  - Fails, naming the criterion, on a recorded value or a margin that is not a finite number (the baseline is
    read back from a host and is not trusted).
options:
  _input:
    description: The judgement's results, each with C(name), C(outcome) and C(value).
    type: list
    elements: dict
    required: true
  baseline:
    description: The recorded values, by criterion name.
    type: dict
    required: true
  criteria:
    description: The criteria by name; only their C(baseline) field (C(max_increase), C(max_increase_percent)) is read.
    type: dict
    required: true
"""
EXAMPLES = r"""
- name: Production's error rate today against the day before the promotion
  ansible.builtin.debug:
    msg: "{{ judgement.results | hyperbun.canary.baseline_regressions(state.baseline['values'], criteria) }}"
  vars:
    criteria: {error_rate: {baseline: {max_increase: 0.5}}}
  # [{"name": "error_rate", "value": 0.81, "baseline": 0.02, "allowed": 0.52, "message": "..."}]
"""
RETURN = r"""
_value:
  description: One entry per criterion worse than allowed, in the order of the results.
  type: list
  elements: dict
  contains:
    name: {description: The criterion., type: str}
    value: {description: Its value now., type: float}
    baseline: {description: Its recorded value., type: float}
    allowed: {description: The highest value within the margins., type: float}
    message: {description: The regression in words., type: str}
"""

MEASURED = ("pass", "fail")


def _finite(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise AnsibleFilterError(f"baseline_regressions: {what} is {value!r}, not a finite number")
    return float(value)


def _allowed(baseline, margins, name):
    limits = []
    if margins.get("max_increase") is not None:
        limits.append(baseline + _finite(margins["max_increase"], f"the max_increase of {name}"))
    if margins.get("max_increase_percent") is not None and baseline != 0:
        percent = _finite(margins["max_increase_percent"], f"the max_increase_percent of {name}")
        limits.append(baseline + abs(baseline) * percent / 100)
    return max(limits) if limits else None


def baseline_regressions(results, baseline, criteria):
    if not isinstance(results, list) or not isinstance(baseline, dict) or not isinstance(criteria, dict):
        raise AnsibleFilterError(
            "baseline_regressions: expects a list of results, a dict of recorded values and a dict of criteria")
    regressions = []
    for result in results:
        name = result.get("name")
        margins = (criteria.get(name) or {}).get("baseline") or {}
        if result.get("outcome") not in MEASURED or name not in baseline or not margins:
            continue
        recorded = baseline[name]
        if recorded is None:
            continue
        recorded = _finite(recorded, f"the recorded value of {name}")
        value = _finite(result.get("value"), f"the value of {name}")
        allowed = _allowed(recorded, margins, name)
        if allowed is not None and value > allowed:
            regressions.append({
                "name": name,
                "value": value,
                "baseline": recorded,
                "allowed": allowed,
                "message": f"{name} {value:g} against {recorded:g} before the promotion (at most {allowed:g} allowed)",
            })
    return regressions


class FilterModule:
    def filters(self):
        return {"baseline_regressions": baseline_regressions}
