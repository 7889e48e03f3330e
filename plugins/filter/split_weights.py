# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Real

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: split_weights
short_description: Integer load balancer weights that give a canary share exactly, or as close as the LB allows
version_added: 0.1.0
description:
  - Given the production servers, the canary servers and the share of traffic the canary servers should
    receive, computes one integer weight per server such that the canary servers' weights make up
    exactly that share of the total weight.
  - When no exact split exists within the load balancer's weight range, returns the closest possible
    split and the error, so that the caller can report it.
  - Weights within a group differ by at most one; equal weights are preferred whenever they give the
    same accuracy.
  - A weight of 0 means that the server receives no traffic. HAProxy and an ALB's target groups accept
    weight 0; nginx does not, so the nginx driver renders such a server as C(down).
options:
  _input:
    description: The production servers (any list, for example of C(host:port) strings), or their number.
    type: raw
    required: true
  canary:
    description: The canary servers (a list), or their number.
    type: raw
    required: true
  percentage:
    description: Share of the traffic, in percent of the total, that the canary servers should receive (0 to 100).
    type: float
    required: true
  lb_type:
    description:
      - Load balancer whose weight range applies, V(nginx) (1 to O(max_weight), default 1000),
        V(haproxy) (1 to 256) or V(alb) (an AWS ALB's target groups, 1 to 999).
    type: str
    default: nginx
    choices: [nginx, haproxy, alb]
  max_weight:
    description: Highest weight the load balancer accepts for one server; defaults to the O(lb_type)'s limit.
    type: int
"""

EXAMPLES = r"""
- name: Weights for 95 % production and 5 % canary
  ansible.builtin.set_fact:
    traffic_split: "{{ ['app1:3000', 'app2:3000', 'app3:3000'] | hyperbun.canary.split_weights(['app1:3001'], 5) }}"
  # traffic_split.weights == {'app1:3000': 19, 'app2:3000': 19, 'app3:3000': 19, 'app1:3001': 3}

- name: Same for HAProxy, whose weights stop at 256
  ansible.builtin.debug:
    msg: "{{ 2 | hyperbun.canary.split_weights(1, 33.3, lb_type='haproxy') }}"
"""

RETURN = r"""
_value:
  description: The weights and the share they achieve.
  type: dict
  contains:
    weights:
      description: Weight per server (keys are the list items as strings; C(production_N)/C(canary_N) for counts).
      type: dict
      sample: {"app1:3000": 19, "app1:3001": 1}
    production_weights:
      description: Weights of the production servers, in input order.
      type: list
      elements: int
    canary_weights:
      description: Weights of the canary servers, in input order.
      type: list
      elements: int
    requested:
      description: The requested canary share in percent.
      type: float
      sample: 5.0
    achieved:
      description: The canary share in percent that the weights give.
      type: float
      sample: 5.0
    error:
      description: RV(_value.achieved) minus RV(_value.requested), in percentage points.
      type: float
      sample: 0.0
    exact:
      description: Whether the weights give the requested share exactly.
      type: bool
      sample: true
"""

# The highest weight of each driver of canary_lb_drivers (roles/common/vars/main.yml), for callers that
# name only lb_type; the traffic role passes the registry's max_weight itself. The lb_type choices above
# list the same types; tests/unit/roles/test_common_lb_types.py checks both agree with the registry.
WEIGHT_LIMITS = {"nginx": 1000, "haproxy": 256, "alb": 999}


def _members(value, role):
    if isinstance(value, bool):
        raise AnsibleFilterError(f"split_weights: the {role} servers must be a list or a count, got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise AnsibleFilterError(f"split_weights: the number of {role} servers cannot be negative ({value})")
        return [f"{role}_{index}" for index in range(1, value + 1)]
    if isinstance(value, (list, tuple)):
        names = [str(item) for item in value]
        if len(set(names)) != len(names):
            raise AnsibleFilterError(f"split_weights: the {role} servers list a server twice: {names}")
        return names
    raise AnsibleFilterError(f"split_weights: the {role} servers must be a list or a count, got {value!r}")


def _share(percentage):
    if isinstance(percentage, bool) or not isinstance(percentage, (Real, str)):
        raise AnsibleFilterError(f"split_weights: the percentage must be a number from 0 to 100, got {percentage!r}")
    try:
        # str() keeps the decimal the user wrote: Fraction(0.1) would be a binary approximation.
        share = Fraction(str(percentage).strip()) / 100
    except (ValueError, ZeroDivisionError) as exc:
        raise AnsibleFilterError(
            f"split_weights: the percentage must be a number from 0 to 100, got {percentage!r}"
        ) from exc
    if not 0 <= share <= 1:
        raise AnsibleFilterError(f"split_weights: the percentage must be from 0 to 100, got {percentage!r}")
    return share


def _spread(total, count):
    base, extra = divmod(total, count)
    return [base + 1] * extra + [base] * (count - extra)


def _best_totals(share, production, canary, max_weight):
    """Totals (canary, production) of the weights: exact if possible, else closest, equal weights preferred."""
    ratio = share / (1 - share)
    num, den = ratio.numerator, ratio.denominator
    k_min = max(-(-canary // num), -(-production // den))
    k_max = min(canary * max_weight // num, production * max_weight // den)
    if k_min <= k_max:
        step = math.lcm(canary // math.gcd(canary, num), production // math.gcd(production, den))
        k_even = -(-k_min // step) * step
        k = k_even if k_even <= k_max else k_min
        return k * num, k * den
    best = None
    for canary_total in range(canary, canary * max_weight + 1):
        ideal = canary_total * den / num
        for production_total in (math.floor(ideal), math.ceil(ideal)):
            production_total = min(max(production_total, production), production * max_weight)
            error = abs(Fraction(canary_total, canary_total + production_total) - share)
            uneven = bool(canary_total % canary or production_total % production)
            key = (error, uneven, canary_total + production_total)
            if best is None or key < best[0]:
                best = (key, canary_total, production_total)
    return best[1], best[2]


def split_weights(production, canary, percentage, lb_type="nginx", max_weight=None):
    if lb_type not in WEIGHT_LIMITS:
        raise AnsibleFilterError(
            f"split_weights: unknown load balancer type {lb_type!r}; expected one of {sorted(WEIGHT_LIMITS)}"
        )
    if max_weight is None:
        max_weight = WEIGHT_LIMITS[lb_type]
    if isinstance(max_weight, bool) or not isinstance(max_weight, int) or not 1 <= max_weight <= WEIGHT_LIMITS[lb_type]:
        raise AnsibleFilterError(
            f"split_weights: max_weight must be an integer from 1 to {WEIGHT_LIMITS[lb_type]} for {lb_type},"
            f" got {max_weight!r}"
        )
    production_names = _members(production, "production")
    canary_names = _members(canary, "canary")
    overlap = set(production_names) & set(canary_names)
    if overlap:
        raise AnsibleFilterError(f"split_weights: servers listed as both production and canary: {sorted(overlap)}")
    share = _share(percentage)
    if share > 0 and not canary_names:
        raise AnsibleFilterError(f"split_weights: a canary share of {percentage} % needs at least one canary server")
    if share < 1 and not production_names:
        raise AnsibleFilterError(
            f"split_weights: a canary share of {percentage} % leaves traffic for production,"
            " but there is no production server"
        )

    if share == 0:
        canary_total, production_total = 0, len(production_names)
    elif share == 1:
        canary_total, production_total = len(canary_names), 0
    else:
        canary_total, production_total = _best_totals(share, len(production_names), len(canary_names), max_weight)
    production_weights = _spread(production_total, len(production_names)) if production_names else []
    canary_weights = _spread(canary_total, len(canary_names)) if canary_names else []
    achieved = Fraction(canary_total, canary_total + production_total)
    return {
        "weights": dict(zip(production_names + canary_names, production_weights + canary_weights, strict=True)),
        "production_weights": production_weights,
        "canary_weights": canary_weights,
        "requested": float(share * 100),
        "achieved": float(achieved * 100),
        "error": float((achieved - share) * 100),
        "exact": achieved == share,
    }


class FilterModule:
    def filters(self):
        return {"split_weights": split_weights}
