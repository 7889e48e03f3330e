#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_map
short_description: Set entries of an HAProxy map through the runtime API, persisted in the map file
version_added: 0.2.0
description:
  - Sets entries of one map that the running HAProxy has loaded (a map file that a rule of its configuration
    uses) through the admin socket (runtime API), without a reload, and reads them back after the change.
  - Persists the entries into the map file, which HAProxy loads on every start and reload, so that a reload
    keeps the change. Lines of the file with other keys stay as they are.
  - Used by the traffic role for sticky canaries, whose share of users is a map entry that the backend's rules read.
  - Refuses, before changing anything, a socket that is missing or not at level admin, and a map that the
    running HAProxy has not loaded.
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
  map:
    description: Path of the map file, as the configuration names it (HAProxy identifies a loaded map by it).
    type: path
    required: true
  entries:
    description: Value per key; neither may be empty or hold white space.
    type: dict
    required: true
  persist:
    description: Write the entries into the map file too.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Send the users of the lowest 500 of 10000 buckets to the canary, without a reload, persisted
  hyperbun.canary.haproxy_map:
    map: /etc/haproxy/hyperbun-canary.map
    entries:
      hyperbun: 500
"""

RETURN = r"""
entries:
  description: Value per key of the running map after the change (all its keys).
  returned: success
  type: dict
  sample: {"hyperbun": "500"}
file_written:
  description: Whether the map file was (or in check mode would be) written.
  returned: success
  type: bool
  sample: true
"""

import os
import re

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.hyperbun.canary.plugins.module_utils._files import write_atomic
from ansible_collections.hyperbun.canary.plugins.module_utils._haproxy_runtime import (
    HAProxyRuntime,
    HAProxyRuntimeError,
)

_TOKEN = re.compile(r"^\S+$")


def running_entries(runtime, path):
    """The running map's entries; HAProxy answers `show map` with `<ref> <key> <value>` per entry."""
    answer = runtime.command(f"show map {path}")
    entries = {}
    for line in answer.splitlines():
        words = line.split(None, 2)
        if not words:
            continue
        if len(words) != 3 or not words[0].startswith("0x"):
            raise HAProxyRuntimeError(
                f"HAProxy has not loaded the map {path} (no rule of its configuration uses it): {answer.strip()[:200]}"
            )
        entries.setdefault(words[1], words[2].strip())
    return entries


def file_entries(text):
    entries = {}
    for line in text.splitlines():
        words = line.split(None, 1)
        if words and not words[0].startswith("#"):
            entries.setdefault(words[0], words[1].strip() if len(words) > 1 else "")
    return entries


def updated_file(text, wanted):
    lines, seen = [], set()
    for line in text.splitlines():
        words = line.split(None, 1)
        if words and words[0] in wanted:
            if words[0] not in seen:
                lines.append(f"{words[0]} {wanted[words[0]]}")
                seen.add(words[0])
            continue
        lines.append(line)
    lines.extend(f"{key} {value}" for key, value in wanted.items() if key not in seen)
    return "\n".join(lines) + "\n"


def describe(entries):
    return "".join(f"{key} {value}\n" for key, value in sorted(entries.items()))


def main():
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "default": "/run/haproxy/admin.sock"},
            "map": {"type": "path", "required": True},
            "entries": {"type": "dict", "required": True},
            "persist": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    wanted = {str(key): str(value) for key, value in p["entries"].items()}
    bad = sorted(f"{key} {value}" for key, value in wanted.items() if not _TOKEN.match(key) or not _TOKEN.match(value))
    if bad:
        module.fail_json(msg=f"map keys and values must be non-empty and hold no white space: {bad}")
    runtime = HAProxyRuntime(p["socket"])
    try:
        runtime.require_admin()
        before = running_entries(runtime, p["map"])
        expected = dict(before, **wanted)
        runtime_changed = expected != before
        header = f"haproxy map {p['map']} (runtime)"
        diff = [
            {"before": describe(before), "after": describe(expected), "before_header": header, "after_header": header}
        ]
        file_before = file_after = None
        if p["persist"]:
            try:
                with open(p["map"]) as handle:
                    file_before = handle.read()
            except FileNotFoundError:
                file_before = ""
            file_after = file_before
            if {k: v for k, v in file_entries(file_before).items() if k in wanted} != wanted:
                file_after = updated_file(file_before, wanted)
                diff.append(
                    {"before": file_before, "after": file_after, "before_header": p["map"], "after_header": p["map"]}
                )
        file_changed = file_before != file_after
        after = expected
        if not module.check_mode:
            for key, value in wanted.items():
                if before.get(key) != value:
                    verb = "set" if key in before else "add"
                    answer = runtime.command(f"{verb} map {p['map']} {key} {value}").strip()
                    if answer:
                        raise HAProxyRuntimeError(f"HAProxy refused `{verb} map {p['map']} {key} {value}`: {answer}")
            if runtime_changed:
                after = running_entries(runtime, p["map"])
                differs = {k: after.get(k) for k in wanted if after.get(k) != wanted[k]}
                if differs:
                    module.fail_json(msg=f"HAProxy read back other map entries than set: {differs}, wanted {wanted}")
            if file_changed:
                mode = os.stat(p["map"]).st_mode & 0o7777 if os.path.exists(p["map"]) else 0o644
                write_atomic(module, p["map"], file_after, mode)
    except (HAProxyRuntimeError, OSError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=runtime_changed or file_changed, entries=after, file_written=file_changed, diff=diff)


if __name__ == "__main__":
    main()
