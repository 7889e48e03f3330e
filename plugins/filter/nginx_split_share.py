# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.hyperbun.canary.plugins.module_utils import _nginx_config

DOCUMENTATION = r"""
name: nginx_split_share
short_description: The share of one value of an nginx C(split_clients) block, read from C(nginx -T)
version_added: 0.2.0
description:
  - Parses the configuration that C(nginx -T) prints, finds the C(split_clients) block that sets the named
    variable, and returns the percentage of the hash space that gives the variable the named value (the
    C(*) line takes what the percentages before it leave).
  - Returns 0 when no line of the block gives the value.
  - Fails when the block is missing, defined more than once, or its percentages are not numbers.
options:
  _input:
    description: Output of C(nginx -T) (or any nginx configuration text).
    type: str
    required: true
  variable:
    description: The variable the block sets, with or without its C($).
    type: str
    required: true
  value:
    description: The value whose share is wanted.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Share of the users that nginx sends to the canary upstream
  ansible.builtin.debug:
    msg: "{{ nginx_dump.stdout | hyperbun.canary.nginx_split_share('hyperbun_upstream', 'hyperbun_canary') }}"
  # 5.0
"""

RETURN = r"""
_value:
  description: Percentage of the hash space that gives the variable the value.
  type: float
  sample: 5.0
"""


def nginx_split_share(config, variable, value):
    if not isinstance(config, str):
        raise AnsibleFilterError("nginx_split_share: expected the text of an nginx configuration")
    try:
        return _nginx_config.split_share(config, variable, value)
    except ValueError as exc:
        raise AnsibleFilterError(f"nginx_split_share: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"nginx_split_share": nginx_split_share}
