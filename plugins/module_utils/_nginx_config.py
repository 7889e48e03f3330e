# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module_utils is PRIVATE to the hyperbun.canary collection. It may change or go away without
# notice; do not use it from outside the collection.

"""Reading an nginx configuration as C(nginx -T) prints it: the weights of an upstream's servers and
the share of a split_clients block. Raises ValueError naming what it could not read."""

from __future__ import annotations

import re

_COMMENT = re.compile(r"#[^\n]*")
_UPSTREAM = re.compile(r"\bupstream\s+(\S+)\s*\{([^{}]*)\}")
_SPLIT = re.compile(r"\bsplit_clients\s+(\"[^\"]*\"|'[^']*'|\S+)\s+\$(\w+)\s*\{([^{}]*)\}")


def upstream_weights(config, upstream):
    """Weight per server address of the upstream block named upstream: 1 without weight=, 0 for a
    server marked down or backup (it gets no share of the normal traffic)."""
    blocks = [body for name, body in _UPSTREAM.findall(_COMMENT.sub("", config)) if name == upstream]
    if not blocks:
        raise ValueError(f"no upstream named {upstream!r} in the configuration")
    if len(blocks) > 1:
        raise ValueError(f"upstream {upstream!r} is defined {len(blocks)} times")
    weights = {}
    for statement in blocks[0].split(";"):
        words = statement.split()
        if not words or words[0] != "server":
            continue
        if len(words) < 2:
            raise ValueError(f"server without an address in upstream {upstream!r}")
        weight = 1
        for word in words[2:]:
            if word.startswith("weight="):
                try:
                    weight = int(word[len("weight=") :])
                except ValueError as exc:
                    raise ValueError(f"bad weight in {' '.join(words)!r}") from exc
            elif word in ("down", "backup"):
                weight = 0
                break
        weights[words[1]] = weight
    return weights


def split_share(config, variable, value):
    """Percentage of the hash space of the split_clients block that sets variable (with or without
    its $) that gives it value; the * line takes what the percentages before it leave."""
    name = str(variable).lstrip("$")
    blocks = [body for _key, var, body in _SPLIT.findall(_COMMENT.sub("", config)) if var == name]
    if not blocks:
        raise ValueError(f"no split_clients block sets ${name}")
    if len(blocks) > 1:
        raise ValueError(f"${name} is set by {len(blocks)} split_clients blocks")
    used, share = 0.0, 0.0
    for statement in blocks[0].split(";"):
        words = statement.split()
        if not words:
            continue
        if len(words) != 2:
            raise ValueError(f"unexpected line {' '.join(words)!r} in the block of ${name}")
        if words[0] == "*":
            percent = 100.0 - used
        else:
            try:
                percent = float(words[0].rstrip("%"))
            except ValueError as exc:
                raise ValueError(f"bad percentage {words[0]!r} in the block of ${name}") from exc
        used += percent
        if words[1].strip("\"'") == value:
            share += percent
    return round(share, 4)


def proxies_to(config, variable):
    """Whether a proxy_pass of the configuration sends requests to the variable: http://$variable;"""
    pattern = r"\bproxy_pass\s+\w+://\$" + re.escape(str(variable).lstrip("$")) + r"\s*;"
    return re.search(pattern, _COMMENT.sub("", config)) is not None
