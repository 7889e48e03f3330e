# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE to the hyperbun.canary collection. It may change or go away without
# notice; do not use it from outside the collection.

"""Reading and writing a file whole, for the modules that change files on a host."""

from __future__ import annotations

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes


def write_atomic(module, path, data, mode=None):
    """Writes data (text or bytes) to path through a temporary file in the same directory, given mode
    when one is named, then AnsibleModule.atomic_move; the temporary file is removed when the write
    fails."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(to_bytes(data, errors="surrogate_or_strict"))
        if mode is not None:
            os.chmod(tmp, mode)
    except BaseException:
        os.unlink(tmp)
        raise
    module.atomic_move(tmp, path)


def read_bytes(path):
    """The file's content, or None when there is no such file."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return None
