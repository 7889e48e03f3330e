# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE to the hyperbun.canary collection. It may change or go away without
# notice; do not use it from outside the collection.

"""The canary's recorded state on a host: a JSON object in the Ansible local fact <app>_canary."""

from __future__ import annotations

import datetime
import json
import os
import re

from ansible_collections.hyperbun.canary.plugins.module_utils._files import write_atomic


def state_path(module, fact_dir, app):
    """The fact file of app; fails naming an app that cannot name a fact."""
    if not re.match(r"^[A-Za-z0-9_]+$", app):
        module.fail_json(msg=f"app must be letters, digits and underscores (it names an Ansible fact), got {app!r}")
    return os.path.join(fact_dir, f"{app}_canary.fact")


def read_state(module, path):
    """The recorded state, {} when there is none; fails naming a file that is not a JSON object."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"cannot read the canary state in {path}: {exc}")
    if not isinstance(state, dict):
        module.fail_json(msg=f"the canary state in {path} is not a JSON object")
    return state


def updated_state(previous, phase=None, values=None, event=None):
    """previous with phase, values (a key set to None removed) and an event line stamped now (UTC),
    as the file will hold it."""
    new = dict(previous)
    if phase:
        new["phase"] = phase
    for key, value in (values or {}).items():
        if value is None:
            new.pop(key, None)
        else:
            new[key] = value
    if event:
        at = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        new["events"] = [*new.get("events", []), {"at": at, "event": event}]
    # Round-trip through JSON so that a comparison sees what the file will hold.
    return json.loads(json.dumps(new, sort_keys=True, default=str))


def write_state(module, path, state):
    """Writes the state whole (atomically), readable by all as local facts are."""
    try:
        os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
        write_atomic(module, path, json.dumps(state, indent=2, sort_keys=True) + "\n", 0o644)
    except OSError as exc:
        module.fail_json(msg=f"cannot write the canary state in {path}: {exc}")
