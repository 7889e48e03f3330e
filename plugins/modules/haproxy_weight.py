#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_weight
short_description: Set HAProxy server weights through the runtime API, with check mode, diff and a server-state-file
version_added: 0.1.0
description:
  - Sets the weight of servers of one HAProxy backend through the admin socket (runtime API), without a
    reload and without dropping a connection, and reads every weight back after the change.
  - Can drain a server before its weight goes to 0, waiting until its current sessions have finished.
  - Writes the backend's C(show servers state) into a server-state-file, so that a later reload with
    C(load-server-state-from-file) keeps the weights and drains instead of undoing them.
  - Written because M(community.general.haproxy) has no check mode and no diff, and its changes are lost
    on the next reload.
  - Refuses, before changing anything, a socket that is missing or not at level admin, an unknown
    backend and a server the backend does not know.
author: Hyper-Bun Operations Team (@hyperbun)
attributes:
  check_mode:
    description: Can run in check mode and return changed status prediction without modifying target.
    support: full
  diff_mode:
    description: Returns details on what has changed (or possibly needs changing in check mode), when in diff mode.
    support: full
  idempotent:
    description: When run twice in a row outside check mode, with the same arguments, the second invocation
      indicates no change.
    support: full
options:
  socket:
    description: Path of HAProxy's stats socket, which must be at level admin.
    type: path
    default: /run/haproxy/admin.sock
  backend:
    description: Name of the backend.
    type: str
    required: true
  weights:
    description: Weight (0 to 256) per server name of O(backend). Servers not named are left alone.
    type: dict
    required: true
  drain:
    description:
      - Put a server whose weight goes from above 0 to 0 in drain state first, and wait until its
        current sessions have finished before setting the weight.
      - A server in drain state that gets a weight above 0 is made ready again either way.
    type: bool
    default: false
  drain_timeout:
    description: Seconds to wait for a draining server's sessions to finish; the module fails after that.
    type: int
    default: 300
  state_file:
    description:
      - Server-state-file to write the backend's state into (the C(server-state-file-name) of the
        backend, loaded with C(load-server-state-from-file local)). Written when it is missing or
        differs from the running weights and drains.
    type: path
"""

EXAMPLES = r"""
- name: Send 5 % of the traffic to the canary, without a reload
  hyperbun.canary.haproxy_weight:
    backend: hyperbun
    weights:
      app1_3000: 19
      app1_3001: 1
    state_file: /var/lib/haproxy/hyperbun.state

- name: Take the canary out, letting its requests finish first
  hyperbun.canary.haproxy_weight:
    backend: hyperbun
    weights:
      app1_3001: 0
    drain: true
    drain_timeout: 60
"""

RETURN = r"""
weights:
  description: Weight per server of the backend as read back after the change (all servers).
  returned: success
  type: dict
  sample: {"app1_3000": 19, "app1_3001": 1}
draining:
  description: Servers of the backend in drain state after the change.
  returned: success
  type: list
  elements: str
  sample: ["app1_3001"]
missing:
  description: On failure, the servers of O(weights) that the running backend does not have (all of them when
    HAProxy does not know the backend).
  returned: failure
  type: list
  elements: str
  sample: ["app4_3000"]
state_file_written:
  description: Whether the server-state-file was (or in check mode would be) written.
  returned: success
  type: bool
  sample: true
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hyperbun.canary.plugins.module_utils._haproxy_runtime import (
    ADMIN_FORCED_DRAIN,
    HAProxyRuntime,
    HAProxyRuntimeError,
    UnknownBackendError,
    parse_servers_state,
)


def describe(servers):
    return "".join(
        f"{name} weight {state['uweight']}{' drain' if state['admin_state'] & ADMIN_FORCED_DRAIN else ''}\n"
        for name, state in sorted(servers.items())
    )


def state_file_matches(path, servers):
    try:
        with open(path) as handle:
            saved = parse_servers_state(handle.read())
    except OSError:
        return False
    key = ("uweight", "admin_state")
    return {n: [s[k] for k in key] for n, s in saved.items()} == {n: [s[k] for k in key] for n, s in servers.items()}


def apply(module, runtime, backend, wanted, before):
    p = module.params
    for name, weight in wanted.items():
        state = before[name]
        draining = bool(state["admin_state"] & ADMIN_FORCED_DRAIN)
        if weight == 0 and p["drain"] and state["uweight"] > 0:
            runtime.set_state(backend, name, "drain")
            deadline = time.monotonic() + p["drain_timeout"]
            while runtime.sessions(backend).get(name, 0) > 0:
                if time.monotonic() > deadline:
                    module.fail_json(
                        msg=f"server {backend}/{name} still has sessions after {p['drain_timeout']} s of drain;"
                        " it is left in drain state with its weight unchanged"
                    )
                time.sleep(0.5)
        if state["uweight"] != weight:
            runtime.set_weight(backend, name, weight)
        if weight > 0 and draining:
            runtime.set_state(backend, name, "ready")


def write_state_file(module, runtime, backend, path):
    text = runtime.command(f"show servers state {backend}")
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=".haproxy-state-")
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)


def main():
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "default": "/run/haproxy/admin.sock"},
            "backend": {"type": "str", "required": True},
            "weights": {"type": "dict", "required": True},
            "drain": {"type": "bool", "default": False},
            "drain_timeout": {"type": "int", "default": 300},
            "state_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    backend = p["backend"]
    wanted = {}
    for name, weight in p["weights"].items():
        if isinstance(weight, bool) or not str(weight).strip().isdigit() or not 0 <= int(weight) <= 256:
            module.fail_json(msg=f"weight of server {name!r} must be an integer from 0 to 256, got {weight!r}")
        wanted[name] = int(weight)
    runtime = HAProxyRuntime(p["socket"])
    try:
        runtime.require_admin()
        try:
            before = runtime.servers_state(backend)
        except UnknownBackendError as exc:
            module.fail_json(msg=str(exc), missing=sorted(wanted))
        unknown = sorted(set(wanted) - set(before))
        if unknown:
            module.fail_json(
                msg=f"HAProxy backend {backend!r} has no server named {', '.join(unknown)}"
                f" (it has: {', '.join(sorted(before)) or 'none'})",
                missing=unknown,
            )
        expected = {name: dict(state) for name, state in before.items()}
        for name, weight in wanted.items():
            expected[name]["uweight"] = weight
            if weight > 0:
                expected[name]["admin_state"] &= ~ADMIN_FORCED_DRAIN
            elif p["drain"] and before[name]["uweight"] > 0:
                expected[name]["admin_state"] |= ADMIN_FORCED_DRAIN
        changed = expected != before
        write_state = bool(p["state_file"]) and (changed or not state_file_matches(p["state_file"], before))
        after = expected
        if not module.check_mode:
            if changed:
                apply(module, runtime, backend, wanted, before)
                after = runtime.servers_state(backend)
                differs = {n: after[n]["uweight"] for n in wanted if after[n]["uweight"] != wanted[n]}
                if differs:
                    module.fail_json(msg=f"HAProxy read back different weights than set: {differs}, wanted {wanted}")
            if write_state:
                write_state_file(module, runtime, backend, p["state_file"])
    except HAProxyRuntimeError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=changed or write_state,
        weights={name: state["uweight"] for name, state in after.items()},
        draining=sorted(n for n, s in after.items() if s["admin_state"] & ADMIN_FORCED_DRAIN),
        state_file_written=write_state,
        diff={
            "before": describe(before),
            "after": describe(after),
            "before_header": f"haproxy backend {backend} (runtime)",
            "after_header": f"haproxy backend {backend} (runtime)",
        },
    )


if __name__ == "__main__":
    main()
