# The checkout resolves as hyperbun.canary through collections/ansible_collections (see ansible.cfg);
# put that on the import path when pytest runs from the checkout rather than under ansible-test.
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("ansible_collections.hyperbun") is None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "collections"))
