#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_weight
short_description: Set HAProxy server weights through the runtime API, persisted, with check mode and diff
version_added: 0.1.0
description:
  - Sets the weight of servers of one HAProxy backend through the admin socket (runtime API), without a
    reload and without dropping a connection, and reads every weight back after the change (from the running
    HAProxy, the configuration file and the server-state-file), failing when one of them does not hold it.
  - Persists the weights into the configuration file (checked with C(haproxy -c) before anything changes)
    and the backend state into a server-state-file, so that a later reload with
    C(load-server-state-from-file) undoes neither a weight nor a drain.
  - HAProxy takes a weight from the server-state-file only while the configuration's weight of that server
    is the one the running process started with; hence both are written, and a reload keeps the change
    whichever of the two applies. A drain is always restored from the server-state-file.
  - Can drain a server before its weight goes to 0, waiting until its current sessions have finished.
  - Written because M(community.general.haproxy) has no check mode and no diff, and its changes are lost
    on the next reload.
  - Refuses, before changing anything, a socket that is missing or not at level admin, an unknown
    backend, a server the backend does not have, and a configuration that C(haproxy -c) rejects.
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
    description:
      - Weight (0 to 256) per server of O(backend), named by its server name or by its address
        C(host:port) as declared in the configuration.
    type: dict
    required: true
  exclusive:
    description: Set the weight of every server of O(backend) that O(weights) does not name to 0.
    type: bool
    default: false
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
  config:
    description:
      - HAProxy configuration file whose C(server) lines of O(backend) receive the weights.
      - Checked with O(validate) before the runtime weights change; not written when the check fails.
    type: path
  validate:
    description: Command that checks a configuration file, C(%s) standing for it.
    type: str
    default: haproxy -c -q -f %s
  state_file:
    description:
      - Server-state-file (C(server-state-file) in C(global), or the backend's C(server-state-file-name))
        that receives C(show servers state) after a change. Written when it is missing or differs from
        the running weights and drains.
    type: path
"""

EXAMPLES = r"""
- name: Send 5 % of the traffic to the canary, without a reload, persisted
  hyperbun.canary.haproxy_weight:
    backend: hyperbun
    weights:
      app1:3000: 19
      app1:3001: 1
    exclusive: true
    config: /etc/haproxy/haproxy.cfg
    state_file: /var/lib/haproxy/server-state

- name: Take the canary out, letting its requests finish first
  hyperbun.canary.haproxy_weight:
    backend: hyperbun
    weights:
      app1-canary: 0
    drain: true
    drain_timeout: 60
"""

RETURN = r"""
weights:
  description: Weight per server name of the backend as read back after the change (all servers).
  returned: success
  type: dict
  sample: {"app1-production": 19, "app1-canary": 1}
names:
  description: The server name of each server of O(weights), by the name or address it was given as.
  returned: success
  type: dict
  sample: {"app1:3000": "app1-production", "app1:3001": "app1-canary"}
draining:
  description: Servers of the backend in drain state after the change.
  returned: success
  type: list
  elements: str
  sample: ["app1-canary"]
read_back:
  description: Whether the weights were read back after the change, from the running HAProxy, the configuration
    and the server-state-file (those given), all holding O(weights); false in check mode. The module fails when
    one does not hold them.
  returned: success
  type: bool
  sample: true
config_changed:
  description: Whether the configuration file was (or in check mode would be) changed.
  returned: success
  type: bool
  sample: true
state_file_written:
  description: Whether the server-state-file was (or in check mode would be) written.
  returned: success
  type: bool
  sample: true
missing:
  description: On failure, the servers of O(weights) that the running backend does not have (all of them when
    HAProxy does not know the backend).
  returned: failure
  type: list
  elements: str
  sample: ["app4:3000"]
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hyperbun.canary.plugins.module_utils._files import write_atomic
from ansible_collections.hyperbun.canary.plugins.module_utils._haproxy_config import set_server_weights
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


def resolve(module, backend, weights, servers):
    by_key = {}
    for name, state in servers.items():
        for key in [name, *state["addresses"]]:
            by_key.setdefault(key, name)
    unknown = sorted(key for key in weights if key not in by_key)
    if unknown:
        module.fail_json(
            msg=f"HAProxy backend {backend!r} has no server {', '.join(unknown)} (it has: "
            + ", ".join(f"{n} ({'/'.join(s['addresses'])})" for n, s in sorted(servers.items()))
            + ")",
            missing=unknown,
        )
    names = {key: by_key[key] for key in weights}
    wanted = {names[key]: weight for key, weight in weights.items()}
    if module.params["exclusive"]:
        wanted = {name: wanted.get(name, 0) for name in servers}
    return wanted, names


def check_config(module, text):
    fd, tmp = tempfile.mkstemp(prefix=".hyperbun-haproxy-", suffix=".cfg")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        rc, out, err = module.run_command(module.params["validate"].replace("%s", tmp))
    finally:
        os.unlink(tmp)
    if rc != 0:
        module.fail_json(
            msg=f"HAProxy rejects the configuration with the new weights, nothing changed: {(err or out).strip()}"
        )


def apply(module, runtime, backend, wanted, before):
    p = module.params
    for name, weight in wanted.items():
        state = before[name]
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
        if weight > 0 and state["admin_state"] & ADMIN_FORCED_DRAIN:
            runtime.set_state(backend, name, "ready")


def main():
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "default": "/run/haproxy/admin.sock"},
            "backend": {"type": "str", "required": True},
            "weights": {"type": "dict", "required": True},
            "exclusive": {"type": "bool", "default": False},
            "drain": {"type": "bool", "default": False},
            "drain_timeout": {"type": "int", "default": 300},
            "config": {"type": "path"},
            "validate": {"type": "str", "default": "haproxy -c -q -f %s"},
            "state_file": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params
    backend = p["backend"]
    for key, weight in p["weights"].items():
        if isinstance(weight, bool) or not str(weight).strip().isdigit() or not 0 <= int(weight) <= 256:
            module.fail_json(msg=f"weight of server {key!r} must be an integer from 0 to 256, got {weight!r}")
    runtime = HAProxyRuntime(p["socket"])
    diff = []
    try:
        runtime.require_admin()
        try:
            before = runtime.servers_state(backend)
        except UnknownBackendError as exc:
            module.fail_json(msg=str(exc), missing=sorted(p["weights"]))
        wanted, names = resolve(module, backend, {k: int(w) for k, w in p["weights"].items()}, before)
        expected = {name: dict(state) for name, state in before.items()}
        for name, weight in wanted.items():
            expected[name]["uweight"] = weight
            if weight > 0:
                expected[name]["admin_state"] &= ~ADMIN_FORCED_DRAIN
            elif p["drain"] and before[name]["uweight"] > 0:
                expected[name]["admin_state"] |= ADMIN_FORCED_DRAIN
        runtime_changed = expected != before
        diff.append(
            {
                "before": describe(before),
                "after": describe(expected),
                "before_header": f"haproxy backend {backend} (runtime)",
                "after_header": f"haproxy backend {backend} (runtime)",
            }
        )
        config_before = config_after = None
        if p["config"]:
            with open(p["config"]) as handle:
                config_before = handle.read()
            config_after = set_server_weights(config_before, backend, wanted)
            if config_after != config_before:
                check_config(module, config_after)
                diff.append(
                    {
                        "before": config_before,
                        "after": config_after,
                        "before_header": p["config"],
                        "after_header": p["config"],
                    }
                )
        config_changed = config_before != config_after
        state_changed = bool(p["state_file"]) and (runtime_changed or not state_file_matches(p["state_file"], before))
        after = expected
        read_back = False
        if not module.check_mode:
            if runtime_changed:
                apply(module, runtime, backend, wanted, before)
            if config_changed:
                write_atomic(module, p["config"], config_after, os.stat(p["config"]).st_mode & 0o7777)
            if state_changed:
                write_atomic(module, p["state_file"], runtime.command("show servers state"), 0o644)
            # Unchanged, the reads above are the read-back: run time, configuration and state file
            # were found holding the weights.
            if runtime_changed or config_changed or state_changed:
                after = read_back_or_fail(module, runtime, backend, wanted)
            read_back = True
    except (HAProxyRuntimeError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=runtime_changed or config_changed or state_changed,
        weights={name: state["uweight"] for name, state in after.items()},
        names=names,
        draining=sorted(n for n, s in after.items() if s["admin_state"] & ADMIN_FORCED_DRAIN),
        config_changed=config_changed,
        state_file_written=state_changed,
        read_back=read_back,
        diff=diff,
    )


def read_back_or_fail(module, runtime, backend, wanted):
    """The backend's servers read again from the running HAProxy; fails, naming where, unless the run
    time, the configuration and the server-state-file (those given) all hold the wanted weights."""
    p = module.params
    after = runtime.servers_state(backend)
    differs = []
    running = {name: after[name]["uweight"] for name in wanted if after[name]["uweight"] != wanted[name]}
    if running:
        differs.append(f"run time {running}")
    if p["config"]:
        with open(p["config"]) as handle:
            config = handle.read()
        if set_server_weights(config, backend, wanted) != config:
            differs.append(p["config"])
    if p["state_file"] and not state_file_matches(p["state_file"], after):
        differs.append(p["state_file"])
    if differs:
        module.fail_json(msg=f"HAProxy backend {backend} does not hold the weights {wanted} when read back after the"
                             f" change: {', '.join(differs)}", weights={n: s["uweight"] for n, s in after.items()})
    return after


def state_file_matches(path, servers):
    try:
        with open(path) as handle:
            saved = parse_servers_state(handle.read())
    except OSError:
        return False
    keys = ("uweight", "admin_state")
    return all(name in saved and [saved[name][k] for k in keys] == [s[k] for k in keys] for name, s in servers.items())


if __name__ == "__main__":
    main()
