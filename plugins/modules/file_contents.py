#!/usr/bin/python
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: file_contents
short_description: Write several files from their content, and their directories, in one module run
version_added: 0.2.0
description:
  - Creates the directories of O(directories), then writes each file of O(files) whose content differs
    (atomically, through a temporary file in the same directory) and sets the mode, owner and group of
    each when they differ.
  - Written because M(ansible.builtin.copy) and M(ansible.builtin.template) run two modules on the host for
    each file, a stat and then a copy or a file, even when nothing changes; a set of files that belong
    together (a lease's units, its program and its drains) takes one run here.
  - Only for text the task holds (render a template with the C(ansible.builtin.template) lookup); it
    neither follows links nor keeps backups.
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
  root:
    description: Directory that the relative paths of O(directories) and O(files) are under; it is created when
      missing, with the mode of O(root_mode), and otherwise left as it is. Without it, paths must be absolute.
    type: path
  root_mode:
    description: Mode of O(root) when it is created, as M(ansible.builtin.file) takes it.
    type: raw
    default: "0755"
  directories:
    description: Directories to create when missing, before any file is written; missing parents are made with
      the same mode, owner and group, as M(ansible.builtin.file) makes them.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path of the directory, absolute or under O(root).
        type: path
        required: true
      mode:
        description: Its mode, as M(ansible.builtin.file) takes it.
        type: raw
        default: "0755"
      owner:
        description: Its owner; unchanged when not given.
        type: str
      group:
        description: Its group; unchanged when not given.
        type: str
  files:
    description: Files to write, each from its content; the directory of each must exist or be in O(directories).
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: Path of the file, absolute or under O(root).
        type: path
        required: true
      content:
        description: What the file holds, as text (written in UTF-8).
        type: str
        required: true
      mode:
        description: Its mode, as M(ansible.builtin.file) takes it.
        type: raw
        default: "0644"
      owner:
        description: Its owner; unchanged when not given.
        type: str
      group:
        description: Its group; unchanged when not given.
        type: str
seealso:
  - module: ansible.builtin.copy
"""

EXAMPLES = r"""
- name: Write a unit and its timer, in one run
  hyperbun.canary.file_contents:
    directories:
      - path: /var/lib/example
        mode: "0700"
    files:
      - path: /etc/systemd/system/example.service
        content: "{{ lookup('ansible.builtin.template', 'example.service.j2') }}"
      - path: /etc/systemd/system/example.timer
        content: "{{ lookup('ansible.builtin.template', 'example.timer.j2') }}"
  register: example_units
"""

RETURN = r"""
changed_paths:
  description: The directories and files that were (or in check mode would be) created or changed, in content or
    attributes.
  returned: success
  type: list
  elements: str
  sample: ["/etc/systemd/system/example.timer"]
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.common.text.converters import to_bytes
from ansible_collections.hyperbun.canary.plugins.module_utils._files import read_bytes, write_atomic

ATTRIBUTES = {
    "path": {"type": "path", "required": True},
    "owner": {"type": "str"},
    "group": {"type": "str"},
}


def set_attributes(module, entry, changed):
    """The entry's mode, owner and group set when they differ; whether anything changed."""
    file_args = module.load_file_common_arguments(entry)
    return module.set_fs_attributes_if_different(file_args, changed, expand=False)


def make_directories(module, entry):
    """The entry's directory and its missing parents, each with the entry's mode, owner and group (as
    ansible.builtin.file makes them); in check mode only the refusal of a file in the way."""
    missing, path = [], entry["path"]
    while path and not os.path.isdir(path):
        if os.path.lexists(path):
            module.fail_json(msg=f"{path} exists and is not a directory")
        missing.append(path)
        path = os.path.dirname(path)
    if module.check_mode:
        return
    for path in reversed(missing):
        os.mkdir(path)
        set_attributes(module, dict(entry, path=path), True)


def main():
    module = AnsibleModule(
        argument_spec={
            "root": {"type": "path"},
            "root_mode": {"type": "raw", "default": "0755"},
            "directories": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": dict(ATTRIBUTES, mode={"type": "raw", "default": "0755"}),
            },
            "files": {
                "type": "list",
                "elements": "dict",
                "default": [],
                "options": dict(ATTRIBUTES, mode={"type": "raw", "default": "0644"},
                                content={"type": "str", "required": True}),
            },
        },
        supports_check_mode=True,
    )
    root = module.params["root"]
    entries = {"directories": [], "files": []}
    for kind in entries:
        for entry in module.params[kind]:
            if not os.path.isabs(entry["path"]):
                if not root:
                    module.fail_json(msg=f"{kind}: {entry['path']} is a relative path and no root is given; nothing"
                                         " was written")
                entry = dict(entry, path=os.path.join(root, entry["path"]))
            entries[kind].append(entry)
    # An existing root keeps its mode: it is the caller's, not only this run's.
    if root and not os.path.isdir(root):
        entries["directories"].insert(0, {"path": root, "mode": module.params["root_mode"], "owner": None,
                                          "group": None})
    changed_paths, diffs = [], []
    try:
        for entry in entries["directories"]:
            path = entry["path"]
            if os.path.isdir(path):
                if set_attributes(module, entry, False):
                    changed_paths.append(path)
                continue
            diffs.append({"before_header": path, "after_header": path, "before": "(absent)\n",
                          "after": "(directory)\n"})
            changed_paths.append(path)
            make_directories(module, entry)
        for entry in entries["files"]:
            path = entry["path"]
            data = to_bytes(entry["content"], errors="surrogate_or_strict")
            before = read_bytes(path)
            written = before != data
            if written:
                diffs.append({
                    "before_header": path,
                    "after_header": path,
                    "before": "" if before is None else before.decode("utf-8", errors="replace"),
                    "after": entry["content"],
                })
                if not module.check_mode:
                    write_atomic(module, path, data)
            # A file that check mode would create has no attributes to compare yet.
            exists = before is not None or not module.check_mode
            if (exists and set_attributes(module, entry, written)) or written:
                changed_paths.append(path)
    except OSError as exc:
        module.fail_json(msg=f"{exc.filename or 'a file'}: {exc.strerror}", changed_paths=changed_paths)
    module.exit_json(changed=bool(changed_paths), changed_paths=changed_paths, diff=diffs)


if __name__ == "__main__":
    main()
