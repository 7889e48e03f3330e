# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a judge's checkpoint back: strict JSON, and a checked walk through what it holds.

A checkpoint is read back from a file on a host: it is untrusted. Every value is reached through a
Node, which names where it is in the checkpoint and raises CheckpointError, with that place in the
message, for a wrong type, a missing or unexpected key, a number that is not finite where a finite
one is needed, a negative count or an absurd size. Nothing read through a Node reaches the judge
unchecked, and nothing in it raises anything but CheckpointError.

Numbers are written as JSON numbers; the few running sums that arithmetic on a release's absurd
values can take beyond the finite (a line fit's spreads, a counter's running total) are written as
the strings "NaN", "Infinity" and "-Infinity", and read back only where such a sum is kept. A bare
NaN or Infinity, which is not JSON, is refused everywhere.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import json
import math

from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    OUTCOME_ERROR,
    OUTCOME_NO_DATA,
    SourceError,
)
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import json_kind

# The most entries any list or mapping of a checkpoint may hold, the longest string, the largest
# count and the longest JSON text: far beyond any real judge's state, short of exhausting a controller.
MAX_ENTRIES = 1_000_000
MAX_TEXT = 1_000_000
MAX_COUNT = 2**53
MAX_JSON_BYTES = 256 * 1024 * 1024

_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


class CheckpointError(ValueError):
    """A checkpoint that cannot be resumed from: malformed, of another version, or of another configuration."""


def dump_number(value):
    """A running sum as a checkpoint keeps it: a JSON number, or a string for NaN and the infinities."""
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def dumps(checkpoint):
    """A checkpoint as compact, strict JSON text."""
    return json.dumps(checkpoint, separators=(",", ":"), allow_nan=False)


def _refuse_constant(name):
    raise CheckpointError(f"checkpoint: {name} is not JSON (a number must be finite)")


def loads(text):
    """A checkpoint (a dictionary, not yet checked) from its JSON text; CheckpointError for anything else."""
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CheckpointError(f"checkpoint: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not isinstance(text, str):
        raise CheckpointError(f"checkpoint: expected JSON text, got {json_kind(text)}")
    if len(text) > MAX_JSON_BYTES:
        raise CheckpointError(f"checkpoint: {len(text)} characters, more than the {MAX_JSON_BYTES} a checkpoint "
                              "may have")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise CheckpointError("checkpoint: nested too deeply to be a checkpoint") from None
    except ValueError as exc:
        if isinstance(exc, CheckpointError):
            raise
        raise CheckpointError(f"checkpoint: not JSON: {exc}") from None
    if not isinstance(value, dict):
        raise CheckpointError(f"checkpoint: expected a JSON object, got {json_kind(value)}")
    return value


class Node:
    """One value of a checkpoint and where it is (`path`): read it with the method of the type it must be."""

    __slots__ = ("path", "value")

    def __init__(self, value, path="checkpoint"):
        self.value = value
        self.path = path

    def fail(self, problem):
        raise CheckpointError(f"{self.path}: {problem}")

    @property
    def is_null(self):
        return self.value is None

    def mapping(self, keys):
        """The mapping's entries as {key: Node}; it must have exactly `keys`."""
        if not isinstance(self.value, dict):
            self.fail(f"expected a mapping, got {json_kind(self.value)}")
        missing = [key for key in keys if key not in self.value]
        if missing:
            self.fail(f"missing {', '.join(missing)}")
        unexpected = sorted(str(key) for key in self.value if key not in keys)
        if unexpected:
            self.fail(f"unexpected {', '.join(unexpected[:5])}{', ...' if len(unexpected) > 5 else ''}")
        return {key: Node(self.value[key], f"{self.path}.{key}") for key in keys}

    def entries(self):
        """The entries of a mapping of any keys, as [(key, Node)], in order."""
        if not isinstance(self.value, dict):
            self.fail(f"expected a mapping, got {json_kind(self.value)}")
        self._size(len(self.value))
        entries = []
        for key, value in self.value.items():
            if not isinstance(key, str) or len(key) > MAX_TEXT:
                self.fail(f"a key is {json_kind(key)} of {len(key) if isinstance(key, str) else 0} characters")
            entries.append((key, Node(value, f"{self.path}[{json.dumps(key)[:80]}]")))
        return entries

    def items(self, length=None):
        """The items of a list as [Node]; `length`, when given, is how many it must have."""
        if not isinstance(self.value, list):
            self.fail(f"expected a list, got {json_kind(self.value)}")
        self._size(len(self.value))
        if length is not None and len(self.value) != length:
            self.fail(f"expected {length} item(s), got {len(self.value)}")
        return [Node(value, f"{self.path}[{index}]") for index, value in enumerate(self.value)]

    def _size(self, size):
        if size > MAX_ENTRIES:
            self.fail(f"{size} entries, more than the {MAX_ENTRIES} a checkpoint may hold")

    def number(self, minimum=None, finite=True, optional=False):
        """A number (int or float as written); NaN and the infinities only where `finite` is False."""
        value = self.value
        if value is None and optional:
            return None
        if not finite and isinstance(value, str) and value in _NON_FINITE:
            return _NON_FINITE[value]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(f"expected a number, got {json_kind(value)}")
        if isinstance(value, int) and abs(value) > MAX_COUNT:
            self.fail(f"{value} is too large")
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number")
        if minimum is not None and value < minimum:
            self.fail(f"{value!r} is below {minimum:g}")
        return value

    def count(self, maximum=MAX_COUNT):
        """A whole number from 0 to `maximum`."""
        value = self.value
        if isinstance(value, bool) or not isinstance(value, int):
            self.fail(f"expected a whole number, got {json_kind(value)}")
        if value < 0:
            self.fail(f"{value} is negative: a count is 0 or more")
        if value > maximum:
            self.fail(f"{value} is more than {maximum}")
        return value

    def text(self, choices=None):
        value = self.value
        if not isinstance(value, str):
            self.fail(f"expected a string, got {json_kind(value)}")
        if len(value) > MAX_TEXT:
            self.fail(f"a string of {len(value)} characters, more than the {MAX_TEXT} a checkpoint may hold")
        if choices is not None and value not in choices:
            self.fail(f"{value[:80]!r} is not one of {', '.join(choices)}")
        return value

    def flag(self):
        if not isinstance(self.value, bool):
            self.fail(f"expected true or false, got {json_kind(self.value)}")
        return self.value


def dump_problem(problem):
    """Why something cannot be measured (a SourceError, or None) as a checkpoint keeps it."""
    return None if problem is None else {"message": problem.message, "outcome": problem.outcome}


def load_problem(node):
    """The SourceError (or None) dump_problem() wrote."""
    if node.is_null:
        return None
    fields = node.mapping(("message", "outcome"))
    return SourceError(fields["message"].text(), fields["outcome"].text((OUTCOME_ERROR, OUTCOME_NO_DATA)))
