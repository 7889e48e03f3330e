#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: canary_state
short_description: Read or record the phase of a canary deployment on an app host
version_added: 0.1.0
description:
  - Keeps the state of one application's canary deployment in an Ansible local fact,
    C(<fact_dir>/<app>_canary.fact), so that it shows as C(ansible_local.<app>_canary) and survives
    interrupted runs.
  - With O(state=present) the given keys are merged into the recorded state; with O(state=absent)
    the fact file is removed; with O(state=query) nothing is written.
  - A phase change can be restricted to the phases it may come from with O(require_phase), which is
    how C(promote.yml) refuses to promote a canary that has not passed.
author:
  - Hyper-Bun Operations Team (@hyperbun)
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second run makes no changes.
    support: partial
    details: Recording the same values twice changes nothing; an O(event) is appended each time.
options:
  app:
    description: Name of the application; the fact is C(<app>_canary).
    type: str
    default: hyperbun
  fact_dir:
    description: Directory of Ansible local facts.
    type: path
    default: /etc/ansible/facts.d
  state:
    description: Whether to merge O(values) into the state, remove it, or only read it.
    type: str
    choices: [present, absent, query]
    default: present
  phase:
    description: The phase to record.
    type: str
    choices: [canary, passed, failed, promoted, rolled_back, decommissioned]
  values:
    description:
      - Other keys to merge into the state, such as C(release), C(previous_release), C(weight),
        C(started_at), C(judged_at), C(promoted_at) and C(verdict).
      - A key set to null is removed.
    type: dict
    default: {}
  event:
    description:
      - A line for the deployment's timeline, appended to the C(events) list of the state with the
        time it was recorded (UTC). Recording an event always changes the state.
    type: str
  return_state:
    description:
      - Return the state before and after (RV(state), RV(previous), and the diff). V(false) returns only whether
        it changed, for a caller that writes often and large values (the watch records its checkpoint after every
        sample).
    type: bool
    default: true
    version_added: 0.1.0
  require_phase:
    description:
      - Refuse to change anything unless the recorded phase is one of these.
      - An empty list accepts any phase, and no recorded state at all.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
- name: Record that the canary of 1.1.0 receives traffic
  hyperbun.canary.canary_state:
    phase: canary
    values:
      release: 1.1.0
      weight: 5
      started_at: "{{ now(utc=true).isoformat() }}"

- name: Refuse to promote a canary that has not passed
  hyperbun.canary.canary_state:
    phase: promoted
    require_phase: [passed]

- name: Add to the timeline
  hyperbun.canary.canary_state:
    event: traffic moved to 25 %

- name: Read the recorded state
  hyperbun.canary.canary_state:
    state: query
  register: canary
"""

RETURN = r"""
state:
  description: The recorded state after the change (or as it would be, in check mode).
  returned: unless O(return_state=false)
  type: dict
  sample: {"phase": "canary", "release": "1.1.0", "weight": 5, "started_at": "2026-11-26T10:00:00+00:00"}
previous:
  description: The recorded state before the change; empty when there was none.
  returned: unless O(return_state=false)
  type: dict
  sample: {"phase": "passed", "release": "1.1.0"}
fact_path:
  description: Path of the fact file.
  returned: always
  type: str
  sample: /etc/ansible/facts.d/hyperbun_canary.fact
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hyperbun.canary.plugins.module_utils._state import (
    read_state,
    state_path,
    updated_state,
    write_state,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            app=dict(type="str", default="hyperbun"),
            fact_dir=dict(type="path", default="/etc/ansible/facts.d"),
            state=dict(type="str", choices=["present", "absent", "query"], default="present"),
            phase=dict(type="str", choices=["canary", "passed", "failed", "promoted", "rolled_back", "decommissioned"]),
            values=dict(type="dict", default={}),
            event=dict(type="str"),
            require_phase=dict(type="list", elements="str", default=[]),
            return_state=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    path = state_path(module, module.params["fact_dir"], module.params["app"])
    previous = read_state(module, path)

    required = module.params["require_phase"]
    if required and previous.get("phase") not in required:
        module.fail_json(
            msg=f"the canary of {module.params['app']} is in phase {previous.get('phase', 'none')!r}; "
            f"this needs one of {', '.join(required)}",
            state=previous, previous=previous, fact_path=path,
        )

    if module.params["state"] == "query":
        module.exit_json(changed=False, state=previous, previous=previous, fact_path=path)

    if module.params["state"] == "absent":
        new = {}
    else:
        new = updated_state(previous, module.params["phase"], module.params["values"], module.params["event"])

    changed = new != previous
    if module.params["state"] == "absent":
        changed = os.path.exists(path)
    if changed and not module.check_mode:
        if module.params["state"] == "absent":
            os.remove(path)
        else:
            write_state(module, path, new)
    if not module.params["return_state"]:
        module.exit_json(changed=changed, fact_path=path)
    diff = {"before": previous, "after": new, "before_header": path, "after_header": path}
    module.exit_json(changed=changed, state=new, previous=previous, fact_path=path, diff=diff)


if __name__ == "__main__":
    main()
