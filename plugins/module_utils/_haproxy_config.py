# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE to the hyperbun.canary collection. It may change or go away without
# notice; do not use it from outside the collection.

"""Edit the weights of server lines of one backend in an HAProxy configuration text."""

from __future__ import annotations

import re

SECTIONS = {
    "global",
    "defaults",
    "frontend",
    "backend",
    "listen",
    "peers",
    "resolvers",
    "userlist",
    "program",
    "http-errors",
    "ring",
    "cache",
    "mailers",
}
_WEIGHT = re.compile(r"(\sweight\s+)(\d+)")


def _split_comment(line):
    index = line.find("#")
    return (line, "") if index < 0 else (line[:index], line[index:])


def server_weights(text, backend):
    """Weight per server name of a backend (`backend` or `listen` section); HAProxy's default is 1."""
    weights = {}
    section = None
    for line in text.splitlines():
        code, _comment = _split_comment(line)
        words = code.split()
        if not words:
            continue
        if words[0] in SECTIONS and not line[:1].isspace():
            section = words[1] if words[0] in ("backend", "listen") and len(words) > 1 else None
            continue
        if section == backend and words[0] == "server" and len(words) >= 3:
            match = _WEIGHT.search(code)
            weights[words[1]] = int(match.group(2)) if match else 1
    return weights


def set_server_weights(text, backend, weights):
    """Return the text with the weights of the named servers of backend set; other lines untouched."""
    lines = text.splitlines(keepends=True)
    section = None
    for index, line in enumerate(lines):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        code, comment = _split_comment(body)
        words = code.split()
        if not words:
            continue
        if words[0] in SECTIONS and not line[:1].isspace():
            section = words[1] if words[0] in ("backend", "listen") and len(words) > 1 else None
            continue
        if section != backend or words[0] != "server" or len(words) < 3 or words[1] not in weights:
            continue
        weight = int(weights[words[1]])
        if _WEIGHT.search(code):
            code = _WEIGHT.sub(lambda m, w=weight: f"{m.group(1)}{w}", code, count=1)
        else:
            stripped = code.rstrip()
            code = f"{stripped} weight {weight}{code[len(stripped) :]}"
        lines[index] = code + comment + ending
    return "".join(lines)
