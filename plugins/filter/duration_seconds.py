# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.hyperbun.canary.plugins.module_utils._judge_params import SetupError, parse_duration

DOCUMENTATION = r"""
name: duration_seconds
short_description: Seconds of a duration written as the watch reads it (90, 90s, 5m, 24h, 1h30m, 2d)
version_added: 0.1.0
description:
  - The number of seconds of a window or an interval, read exactly as M(hyperbun.canary.canary_watch)
    reads its O(hyperbun.canary.canary_watch#module:window), so that a playbook can plan a window's samples.
  - Fails, naming the value, for anything else (a negative, an infinite or an unreadable duration).
options:
  _input:
    description: The duration, a number of seconds or a text such as C(90s), C(5m), C(24h) or C(1h30m).
    type: raw
    required: true
"""
EXAMPLES = r"""
- name: Samples in a window of 24 hours at one every 30 seconds
  ansible.builtin.debug:
    msg: "{{ ('24h' | hyperbun.canary.duration_seconds / 30) | int }}"
  # 2880
"""
RETURN = r"""
_value:
  description: Seconds.
  type: float
  sample: 86400.0
"""


def duration_seconds(value):
    try:
        return parse_duration(value, "the duration")
    except SetupError as exc:
        raise AnsibleFilterError(f"duration_seconds: {exc}") from None


class FilterModule:
    def filters(self):
        return {"duration_seconds": duration_seconds}
