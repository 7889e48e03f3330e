# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Analysis of JSON-lines service logs (one JSON object a line, with `level` and `code` fields).

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import collections
import glob
import json
import os


class LogError(Exception):
    pass


def expand_paths(patterns):
    """Files matched by paths or glob patterns, in name order (dated file names sort by date)."""
    files = []
    unmatched = []
    for pattern in patterns:
        if any(c in pattern for c in "*?["):
            matched = sorted(glob.glob(pattern))
        else:
            matched = [pattern] if os.path.exists(pattern) else []
        matched = [path for path in matched if os.path.isfile(path)]
        if not matched:
            unmatched.append(pattern)
        for path in matched:
            if path not in files:
                files.append(path)
    return files, unmatched


def analyse(files, error_levels=("ERROR",), codes=(), tail=20, level_field="level", code_field="code"):
    """Count ERROR entries by code and given codes at any level, and keep the last `tail` lines.

    Lines that are not JSON objects are counted as unparsed and otherwise ignored (a stack trace
    printed by the runtime, a truncated last line), never fatal.
    """
    levels = {level.upper() for level in error_levels}
    wanted_codes = set(codes)
    errors_by_code = collections.Counter()
    code_counts = collections.Counter({code: 0 for code in codes})
    last_lines = collections.deque(maxlen=max(0, tail))
    lines = entries = unparsed = 0
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                for raw in handle:
                    line = raw.rstrip("\n")
                    if not line.strip():
                        continue
                    lines += 1
                    last_lines.append(line)
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        unparsed += 1
                        continue
                    if not isinstance(entry, dict):
                        unparsed += 1
                        continue
                    entries += 1
                    code = entry.get(code_field)
                    code = "none" if code is None else str(code)
                    if str(entry.get(level_field, "")).upper() in levels:
                        errors_by_code[code] += 1
                    if code in wanted_codes:
                        code_counts[code] += 1
        except OSError as exc:
            raise LogError(f"cannot read {path}: {exc.strerror or exc}") from None
    return dict(
        files=list(files),
        lines=lines,
        entries=entries,
        unparsed_lines=unparsed,
        errors_total=sum(errors_by_code.values()),
        errors_by_code=dict(errors_by_code),
        top_error_codes=[dict(code=code, count=count) for code, count in
                         sorted(errors_by_code.items(), key=lambda item: (-item[1], item[0]))],
        code_counts=dict(code_counts),
        last_lines=list(last_lines),
    )
