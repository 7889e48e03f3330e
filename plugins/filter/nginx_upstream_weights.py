# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.hyperbun.canary.plugins.module_utils import _nginx_config

DOCUMENTATION = r"""
name: nginx_upstream_weights
short_description: Weights of the servers of one nginx upstream, read from C(nginx -T)
version_added: 0.1.0
description:
  - Parses the configuration that C(nginx -T) prints and returns the weight of every server of the named
    C(upstream) block.
  - A server without C(weight=) has weight 1 (the nginx default); a server marked C(down) or C(backup) is
    reported with weight 0, since it receives no share of the normal traffic.
  - Fails when the upstream is missing or defined more than once.
options:
  _input:
    description: Output of C(nginx -T) (or any nginx configuration text).
    type: str
    required: true
  upstream:
    description: Name of the upstream block.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the configuration nginx checked
  ansible.builtin.command: nginx -T
  register: nginx_dump
  changed_when: false

- name: Weights per server of upstream hyperbun
  ansible.builtin.debug:
    msg: "{{ nginx_dump.stdout | hyperbun.canary.nginx_upstream_weights('hyperbun') }}"
  # {'app1:3000': 19, 'app1:3001': 1}
"""

RETURN = r"""
_value:
  description: Weight per server address, in the order of the configuration.
  type: dict
  sample: {"app1:3000": 19, "app1:3001": 1}
"""


def nginx_upstream_weights(config, upstream):
    if not isinstance(config, str):
        raise AnsibleFilterError("nginx_upstream_weights: expected the text of an nginx configuration")
    try:
        return _nginx_config.upstream_weights(config, upstream)
    except ValueError as exc:
        raise AnsibleFilterError(f"nginx_upstream_weights: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"nginx_upstream_weights": nginx_upstream_weights}
