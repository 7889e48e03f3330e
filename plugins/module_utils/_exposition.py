# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots of a Prometheus exposition (text format 0.0.4 or OpenMetrics) and label selectors.

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import math
import re
import traceback

try:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families as _parse_openmetrics
    from prometheus_client.parser import text_string_to_metric_families as _parse_text

    HAS_PROMETHEUS_CLIENT = True
    PROMETHEUS_CLIENT_IMPORT_ERROR = None
except ImportError:
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMPORT_ERROR = traceback.format_exc()

OUTCOME_ERROR = "error"
OUTCOME_NO_DATA = "no_data"

# Sample names that belong to one family: a counter's _total, a histogram's _bucket/_sum/_count ...
_FAMILY_SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created", "_info", "_gcount", "_gsum")

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_SELECTOR_RE = re.compile(r"^\s*(" + _NAME + r")\s*(?:\{(.*)\})?\s*$", re.S)
_MATCHER_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|$)', re.S)
_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


class SourceError(Exception):
    """A source could not be read or gave nothing usable: the outcome is `error` or `no_data`."""

    def __init__(self, message, outcome=OUTCOME_ERROR):
        super().__init__(message)
        self.message = message
        self.outcome = outcome


class SelectorError(ValueError):
    pass


def _unescape(value):
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), value)


class Selector:
    """A PromQL-style series selector: `name{label="v", label=~"regex", label!="v", label!~"regex"}`.

    Regular expressions are anchored at both ends and an absent label equals the empty string,
    as in PromQL.
    """

    def __init__(self, text):
        if not isinstance(text, str):
            raise SelectorError(f"a selector must be a string such as 'name{{label=\"value\"}}', got {text!r}")
        match = _SELECTOR_RE.match(text)
        if not match:
            raise SelectorError(
                f"invalid selector {text!r}: expected a metric name, optionally followed by {{label matchers}}"
            )
        self.text = text.strip()
        self.name = match.group(1)
        self.matchers = []
        body = (match.group(2) or "").strip()
        position = 0
        while position < len(body):
            matcher = _MATCHER_RE.match(body, position)
            if not matcher or matcher.end() == position:
                raise SelectorError(f"invalid label matcher in selector {text!r} at {body[position:]!r}")
            label, operator, value = matcher.group(1), matcher.group(2), _unescape(matcher.group(3))
            compiled = None
            if operator in ("=~", "!~"):
                try:
                    compiled = re.compile(value)
                except re.error as exc:
                    raise SelectorError(f"invalid regular expression {value!r} in selector {text!r}: {exc}") from None
            self.matchers.append((label, operator, value, compiled))
            position = matcher.end()

    def matches(self, labels):
        for label, operator, value, compiled in self.matchers:
            actual = labels.get(label, "")
            if operator == "=":
                ok = actual == value
            elif operator == "!=":
                ok = actual != value
            elif operator == "=~":
                ok = compiled.fullmatch(actual) is not None
            else:
                ok = compiled.fullmatch(actual) is None
            if not ok:
                return False
        return True

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"Selector({self.text!r})"


def family_base(name):
    for suffix in _FAMILY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def wanted_names(metric_names):
    """Every sample and family name that the given metric names can appear under."""
    wanted = set()
    for name in metric_names:
        for base in (name, family_base(name)):
            wanted.add(base)
            wanted.update(base + suffix for suffix in _FAMILY_SUFFIXES)
    return wanted


def _sample_name(line):
    end = len(line)
    for separator in ("{", " ", "\t"):
        index = line.find(separator, 0, end)
        if index != -1:
            end = index
    return line[:end]


def keep_wanted_lines(text, wanted):
    """Drop the lines of families that no criterion reads, before the parser sees them.

    The parser is pure Python and costs about 35 microseconds a series; an exposition of
    50,000 series of which criteria read a few thousand is parsed an order of magnitude faster
    this way. Lines of the families kept are handed to the parser unchanged.
    """
    kept = []
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] == "#":
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE", "UNIT"):
                if parts[2] in wanted:
                    kept.append(line)
            elif line.strip() == "# EOF":
                kept.append(line)
        elif _sample_name(line.lstrip()) in wanted:
            kept.append(line)
    kept.append("")
    return "\n".join(kept)


def is_openmetrics(content_type):
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == "application/openmetrics-text"


class Snapshot:
    """The samples of one scrape, indexed by sample name (`x_total`, `x_bucket`, `x` ...).

    `families` holds every family the exposition declared, also those with no series yet (a
    labelled counter before its first increment), so that a misnamed metric can be told apart
    from a metric that exists but has not counted anything.
    """

    def __init__(self, samples=None, families=None, source=""):
        self.samples = samples if samples is not None else {}
        self.families = families if families is not None else set()
        self.source = source

    def has_metric(self, name):
        return name in self.samples or name in self.families or family_base(name) in self.families

    def select(self, selector):
        """Series matching the selector: a list of (labels, value)."""
        series = self.samples.get(selector.name, ())
        if not selector.matchers:
            return list(series)
        return [(labels, value) for labels, value in series if selector.matches(labels)]

    @classmethod
    def merge(cls, snapshots):
        """One snapshot of several targets (production instances); each series keeps its target."""
        merged = cls(source=", ".join(s.source for s in snapshots))
        for index, snapshot in enumerate(snapshots):
            merged.families.update(snapshot.families)
            for name, series in snapshot.samples.items():
                bucket = merged.samples.setdefault(name, [])
                for labels, value in series:
                    tagged = dict(labels)
                    tagged["__target__"] = str(index)
                    bucket.append((tagged, value))
        return merged


def looks_like_html(body, content_type=""):
    if content_type and content_type.split(";", 1)[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    head = body[:512].lstrip().lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or head.startswith("<?xml")


def parse_exposition(text, content_type="", wanted=None, source=""):
    """Parse exposition text with prometheus_client into a Snapshot.

    `wanted` (a set from wanted_names()) limits parsing to those families; None parses all.
    Raises SourceError: `error` for HTML, malformed lines or a missing library, `no_data` for an
    exposition without any family.
    """
    if not HAS_PROMETHEUS_CLIENT:
        raise SourceError("the Python library prometheus-client is required to parse %s" % (source or "metrics"))
    if looks_like_html(text, content_type):
        raise SourceError(
            f"{source or 'the endpoint'} returned an HTML page, not Prometheus metrics "
            f"(content type {content_type or 'none'!r}): check the URL and its path"
        )
    if not text.strip():
        raise SourceError("%s returned an empty body, no metrics" % (source or "the endpoint"), OUTCOME_NO_DATA)
    openmetrics = is_openmetrics(content_type)
    if wanted is not None:
        text = keep_wanted_lines(text, wanted)
    parse = _parse_openmetrics if openmetrics else _parse_text
    samples = {}
    families = set()
    try:
        for family in parse(text):
            families.add(family.name)
            for sample in family.samples:
                samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    except Exception as exc:  # the parsers raise ValueError and, on some garbage, other types
        raise SourceError(
            f"malformed {'OpenMetrics' if openmetrics else 'Prometheus text'} exposition from "
            f"{source or 'the endpoint'}: {exc}"
        ) from None
    if not families and wanted is None:
        raise SourceError("%s returned no metrics at all" % (source or "the endpoint"), OUTCOME_NO_DATA)
    return Snapshot(samples, families, source)


def check_finite(value, what):
    """Return value if it is a finite number; NaN is `no_data`, an infinity is `error`."""
    if math.isnan(value):
        raise SourceError(f"{what} is NaN (no value to judge)", OUTCOME_NO_DATA)
    if math.isinf(value):
        raise SourceError("{} is {}".format(what, "+Inf" if value > 0 else "-Inf"))
    return value
