# The checkout resolves as hyperbun.canary through collections/ansible_collections (see ansible.cfg);
# put that on the import path when pytest runs from the checkout rather than under ansible-test.
from __future__ import annotations

import sys
from pathlib import Path

try:
    import ansible_collections.hyperbun.canary  # noqa: F401
except ImportError:
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "collections"))
