# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from numbers import Real

from ansible.errors import AnsibleFilterError

DOCUMENTATION = r"""
name: sticky_split
short_description: The buckets and server weights of a sticky canary share
version_added: 0.2.0
description:
  - A sticky canary splits users, not requests - the hash of each user's key picks one of C(10000) buckets, and the
    buckets below the share go to the canary. The share is therefore rounded to a hundredth of a percent.
  - Because the canary buckets are always the lowest ones, a larger share keeps every user already on the canary,
    and since the load balancer sets no cookie the share of users cannot drift.
  - Returns what the traffic role's nginx and HAProxy drivers render and read back - the bucket threshold and the
    weights of the servers, which only balance within each group, and say which group can take users.
  - V(nginx) - production servers at weight 1 in the main upstream, canary servers at weight 1 in the canary
    upstream (0, rendered C(down), at the share 0).
  - V(haproxy) - production servers at weight 1; canary servers at weight 0, since only the backend's
    C(use-server) rules, not the balance algorithm, send users to them.
options:
  _input:
    description: The production servers (a list of C(host:port) strings).
    type: list
    elements: str
    required: true
  canary:
    description: The canary servers (a list of C(host:port) strings).
    type: list
    elements: str
    required: true
  percentage:
    description: Share of the users, in percent, that the canary servers should receive (0 to 100).
    type: float
    required: true
  lb_type:
    description: The load balancer driver.
    type: str
    required: true
    choices: [nginx, haproxy]
"""

EXAMPLES = r"""
- name: Buckets and weights for 5 % of the users on the canary, through HAProxy
  ansible.builtin.debug:
    msg: "{{ ['app1:3000', 'app2:3000'] | hyperbun.canary.sticky_split(['app1:3001'], 5, lb_type='haproxy') }}"
  # buckets 500, weights {'app1:3000': 1, 'app2:3000': 1, 'app1:3001': 0}
"""

RETURN = r"""
_value:
  description: The buckets of the canary, the share they give and the weights.
  type: dict
  contains:
    buckets:
      description: Buckets, of 10000, whose users go to the canary (the lowest ones).
      type: int
      sample: 500
    requested:
      description: The requested canary share in percent.
      type: float
      sample: 5.0
    achieved:
      description: The share the buckets give, in percent.
      type: float
      sample: 5.0
    error:
      description: O(percentage) minus the achieved share, in percentage points.
      type: float
      sample: 0.0
    exact:
      description: Whether the buckets give the requested share exactly.
      type: bool
      sample: true
    weights:
      description: Weight per server.
      type: dict
      sample: {"app1:3000": 1, "app1:3001": 0}
    sticky:
      description: Always true, to tell this split from one of P(hyperbun.canary.split_weights#filter).
      type: bool
      sample: true
"""

BUCKETS = 10000


def sticky_split(production, canary, percentage, lb_type=None):
    if lb_type not in ("nginx", "haproxy"):
        raise AnsibleFilterError(f"sticky_split: lb_type must be nginx or haproxy, got {lb_type!r}")
    for name, servers in (("production", production), ("canary", canary)):
        if not isinstance(servers, (list, tuple)) or not all(isinstance(s, str) for s in servers):
            raise AnsibleFilterError(f"sticky_split: the {name} servers must be a list of host:port strings")
    if isinstance(percentage, bool):
        raise AnsibleFilterError("sticky_split: percentage must be a number from 0 to 100")
    try:
        requested = float(percentage) if isinstance(percentage, (Real, str)) else None
    except ValueError:
        requested = None
    if requested is None or not 0 <= requested <= 100:
        raise AnsibleFilterError(f"sticky_split: percentage must be a number from 0 to 100, got {percentage!r}")
    if not canary and requested > 0:
        raise AnsibleFilterError("sticky_split: a share above 0 needs at least one canary server")
    if not production and requested < 100:
        raise AnsibleFilterError("sticky_split: a share below 100 needs at least one production server")
    buckets = round(requested * BUCKETS / 100)
    achieved = buckets * 100 / BUCKETS
    canary_weight = (1 if buckets > 0 else 0) if lb_type == "nginx" else 0
    weights = {str(server): 1 for server in production}
    weights.update({str(server): canary_weight for server in canary})
    return {
        "buckets": buckets,
        "requested": requested,
        "achieved": achieved,
        "error": requested - achieved,
        "exact": abs(requested - achieved) < 1e-9,
        "weights": weights,
        "sticky": True,
    }


class FilterModule:
    def filters(self):
        return {"sticky_split": sticky_split}
