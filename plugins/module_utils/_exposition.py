# -*- coding: utf-8 -*-
# Copyright: Hyper-Bun Operations Team
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Snapshots of a Prometheus exposition (text format 0.0.4 or OpenMetrics 1.0), validated, and label selectors.

A canary's /metrics is untrusted input: the release under test wrote it. Every line of it is
checked against its format, also the lines of the families no criterion reads, and a body that is
not valid is a SourceError (`error`) whose message names the first bad line (its number, its text
and what is wrong).

Text format 0.0.4 (any Content-Type but OpenMetrics) has a fast path of its own: one compiled
regular expression checks each line whole (the line-by-line reader _read_sample_line explains the
lines it refuses), and only the families that criteria read are taken apart into labels and
values. It refuses everything prometheus_client's text parser refuses (0.26.0, the version this
collection pins) and more: quoted UTF-8 names, a leading comma or an empty label, a label name with
a colon or starting with __, timestamps that are not integers, more than one value or anything
after the timestamp, exemplars, a carriage return, whitespace other than spaces and tabs, a type
other than counter, gauge, histogram, summary or untyped, a second # HELP or # TYPE for a family or
one after its samples, a # line whose # is not followed by a space or tab, two families of one name
and a sample name produced by two families. On the bodies both accept, it gives the library's
samples (values as floats) and families, named and typed as the library names them, with two
differences: samples of a family that come back after other families continue their family (the
library makes each such sample name a family of type unknown), and after "# TYPE x counter" the
samples x_total are counter x's (the library makes them a family x_total of type unknown).

OpenMetrics 1.0 (Content-Type application/openmetrics-text) is read twice: by the same pass with
OpenMetrics' spacing (it numbers the lines and runs the checks below), and by prometheus_client's
own OpenMetrics parser over the whole body, which validates every line by its rules; the first line
either refuses is the one named. No fast path: the library's parse is most of the cost.

Checks of the values, in every family a criterion reads (and in all of them when `wanted` is None):
a series exposed twice in one scrape (same sample name and labels, in any order); a negative
counter `_total`, histogram `_bucket`/`_count` (gauge histogram `_gcount`) or summary `_count`; in
histograms, every label set has numeric `le` bounds, a `le="+Inf"` bucket, cumulative bucket counts
and a `_count` equal to its +Inf bucket. NaN and infinite values pass (the judge decides what they
mean).

This file is private to the hyperbun.canary collection. Its interface may change at any time
without notice; do not import it from outside the collection.
"""

from __future__ import annotations

import gc
import math
import re
import traceback

try:
    from prometheus_client.openmetrics.parser import text_fd_to_metric_families as _parse_openmetrics_lines

    HAS_PROMETHEUS_CLIENT = True
    PROMETHEUS_CLIENT_IMPORT_ERROR = None
except ImportError:
    HAS_PROMETHEUS_CLIENT = False
    PROMETHEUS_CLIENT_IMPORT_ERROR = traceback.format_exc()

OUTCOME_ERROR = "error"
OUTCOME_NO_DATA = "no_data"

# Sample names that belong to one family: a counter's _total, a histogram's _bucket/_sum/_count ...
# (_gcount and _gsum before _count and _sum, which they end with).
_FAMILY_SUFFIXES = ("_total", "_bucket", "_gcount", "_gsum", "_sum", "_count", "_created", "_info")

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


def is_openmetrics(content_type):
    return bool(content_type) and content_type.split(";", 1)[0].strip().lower() == "application/openmetrics-text"


# ---------------------------------------------------------------------------------------------
# The grammar of a line. Blanks are spaces and tabs (text format) or single spaces (OpenMetrics);
# names are the classic ASCII ones (the quoted UTF-8 names of newer formats are refused).

_B = r"[ \t]"
_LABEL_NAME = r"(?!__)[a-zA-Z_][a-zA-Z0-9_]*"
_QUOTED = r'"[^"\\\n]*(?:\\.[^"\\\n]*)*"'
_EXPONENT = r"(?:[eE][+-]?[0-9]+)?"
_NUMBER = (rf"[+-]?(?:[0-9]+(?:\.[0-9]*)?{_EXPONENT}|\.[0-9]+{_EXPONENT}"
           r"|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])")
_TEXT_TIMESTAMP = r"[+-]?[0-9]+"
_OM_TIMESTAMP = rf"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+){_EXPONENT}"
# Lines with more labels than this are left to the reader of one line (_read_sample_line), which
# takes time in proportion to the labels: the duplicate check of _TEXT_LINE takes the square.
_FAST_LABELS = 64

# A whole valid sample line: (1) its name, (2) its labels inside the braces, (4) its value. A
# label name that comes back after a comma further on the line fails the match (a duplicate label,
# or a label value with such text: _read_sample_line decides).
_TEXT_LINE = re.compile(
    rf"{_B}*({_NAME})(?:{_B}*\{{{_B}*((?:({_LABEL_NAME})(?!.*,{_B}*\3{_B}*=){_B}*={_B}*{_QUOTED}{_B}*"
    rf"(?:,{_B}*|(?=\}}))){{0,{_FAST_LABELS}}})\}}{_B}*|{_B}+)({_NUMBER})(?:{_B}+(?:{_TEXT_TIMESTAMP}{_B}*)?)?\Z"
)
# OpenMetrics: (1) name, (2) labels, (3) value; single spaces, no trailing comma; duplicate labels and
# the exemplar are the library's to check.
_OM_LINE = re.compile(
    rf"({_NAME})(?:\{{((?:{_LABEL_NAME}={_QUOTED}(?:,{_LABEL_NAME}={_QUOTED}){{0,{_FAST_LABELS - 1}}})?)\}})?"
    rf" ({_NUMBER})(?: {_OM_TIMESTAMP})?(?: # .*)?\Z"
)
# Name, labels and value of a line _read_sample_line accepted.
_TEXT_SAMPLE = re.compile(rf'{_B}*({_NAME}){_B}*(?:\{{((?:[^"}}]|{_QUOTED})*)\}})?{_B}*([^ \t]+)')
_OM_SAMPLE = re.compile(rf'({_NAME})(?:\{{((?:[^"}}]|{_QUOTED})*)\}})? ([^ ]+)')
_LABEL_PAIR = re.compile(rf'([a-zA-Z_][a-zA-Z0-9_]*){_B}*={_B}*"([^"\\\n]*(?:\\.[^"\\\n]*)*)"')
_LABEL_ESCAPE = re.compile(r'\\[\\n"]')
_LABEL_ESCAPES = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}

_TEXT_META = re.compile(r"[ \t]*#[ \t]+(HELP|TYPE)(?![^ \t])(.*)\Z", re.S)
_TEXT_HELP = re.compile(rf"{_B}+({_NAME})(?:{_B}.*)?\Z", re.S)
_TEXT_TYPE = re.compile(rf"{_B}+({_NAME}){_B}+([^ \t]+){_B}*\Z")
_OM_META = re.compile(r"# +(HELP|TYPE|UNIT)(?![^ ])(.*)\Z", re.S)
_OM_HELP = re.compile(rf" +({_NAME})(?: .*)?\Z", re.S)
_OM_TYPE = re.compile(rf" +({_NAME}) +([^ ]+)\Z")

_NAME_RE = re.compile(_NAME)
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_QUOTED_RE = re.compile(_QUOTED)
_NUMBER_RE = re.compile(_NUMBER)
_TEXT_TIMESTAMP_RE = re.compile(_TEXT_TIMESTAMP)
_OM_TIMESTAMP_RE = re.compile(_OM_TIMESTAMP)
_LE_RE = re.compile(_NUMBER + r"\Z")

# Types and the sample names they allow in the exposition, as prometheus_client's parsers read them.
_TEXT_TYPES = {
    "counter": ("",), "gauge": ("",), "untyped": ("",),
    "summary": ("", "_count", "_sum"), "histogram": ("_count", "_sum", "_bucket"),
}
_OM_TYPES = {
    "counter": ("_total", "_created"), "gauge": ("",), "unknown": ("",), "stateset": ("",),
    "summary": ("", "_count", "_sum", "_created"), "histogram": ("_count", "_sum", "_bucket", "_created"),
    "gaugehistogram": ("_gcount", "_gsum", "_bucket"), "info": ("_info",),
}
# The sample names of a declared family, by type (family_of); untyped is prometheus_client's unknown.
_TYPE_SUFFIXES = dict(_OM_TYPES, untyped=("",))
# Samples that count things and cannot go below zero.
_NON_NEGATIVE = {
    "counter": ("_total",), "histogram": ("_bucket", "_count"), "gaugehistogram": ("_bucket", "_gcount"),
    "summary": ("_count",),
}
_CUT = 120
_EMPTY = frozenset()


def _cut(line):
    return repr(line if len(line) <= _CUT else line[:_CUT] + "...")


def _unescape_label(value):
    return _LABEL_ESCAPE.sub(lambda m: _LABEL_ESCAPES[m.group(0)], value)


def _series_text(name, labels):
    text = name
    if labels:
        text += "{" + ",".join('{}="{}"'.format(*item) for item in labels.items()) + "}"
    return text if len(text) <= _CUT else text[:_CUT] + "..."


class _Bad(Exception):
    """A line that is not valid: its number and what is wrong."""

    def __init__(self, number, what):
        super().__init__(what)
        self.number = number
        self.what = what


def _read_sample_line(line, openmetrics):
    """Check one sample line character by character; return its name, or raise ValueError saying what is wrong.

    The fast path's regular expressions decide on almost every line; this reader explains the
    lines they refuse, and accepts the valid ones with more labels than they take.
    """
    fmt = "OpenMetrics 1.0" if openmetrics else "text format 0.0.4"
    blanks = " " if openmetrics else " \t"
    size = len(line)

    def skip(i):
        if openmetrics:
            return i
        while i < size and line[i] in blanks:
            i += 1
        return i

    if line.endswith("\r"):
        raise ValueError("the line ends in a carriage return (CRLF line ends are not part of the format)")
    i = skip(0)
    match = _NAME_RE.match(line, i)
    if match is None:
        if line.startswith('"', i) or line.startswith('{"', i):
            raise ValueError(f"a quoted metric name (not part of {fmt})")
        if line.startswith("{", i):
            raise ValueError("no metric name before the labels")
        if openmetrics and line.startswith(" "):
            raise ValueError("a blank at the start of the line (not allowed in OpenMetrics)")
        raise ValueError("not a sample, a # line or a blank line: a metric name starts with a letter, _ or :")
    name = match.group()
    i = match.end()
    j = skip(i)
    if openmetrics and line.startswith(" {", i):
        if re.match(r" \{[a-z_]+:", line[i:]):
            raise ValueError(f"a native histogram value (not part of {fmt})")
        raise ValueError("a space between the metric name and its labels (not allowed in OpenMetrics)")
    if line.startswith("{", j):
        i = j + 1
        names = set()
        while True:
            i = skip(i)
            if line.startswith("}", i) and not (openmetrics and names):
                i += 1
                break
            label = _LABEL_NAME_RE.match(line, i)
            if label is None:
                if i >= size:
                    raise ValueError("the labels are not closed with }")
                if line.startswith('"', i):
                    raise ValueError(f"a quoted label name (not part of {fmt})")
                raise ValueError(f"invalid label name at {line[i:i + 20]!r}")
            label_name = label.group()
            if label_name.startswith("__"):
                raise ValueError(f"label name {label_name} is reserved (names starting with __)")
            if label_name in names:
                raise ValueError(f"label {label_name} appears twice")
            names.add(label_name)
            i = skip(label.end())
            if not line.startswith("=", i):
                if i == label.end() and i < size and line[i] not in ',}"':
                    raise ValueError(f"invalid character {line[i]!r} in label name {label_name}")
                raise ValueError(f"no = after label name {label_name}")
            i = skip(i + 1)
            quoted = _QUOTED_RE.match(line, i)
            if quoted is None:
                if line.startswith('"', i):
                    raise ValueError(f"the value of label {label_name} has no closing quote")
                raise ValueError(f"the value of label {label_name} is not a quoted string")
            i = skip(quoted.end())
            if line.startswith(",", i):
                i += 1
                if openmetrics and not _LABEL_NAME_RE.match(line, i):
                    raise ValueError("a comma not followed by a label (OpenMetrics allows no trailing comma)")
            elif line.startswith("}", i):
                i += 1
                break
            else:
                raise ValueError(f"expected , or }} after the value of label {label_name}")
        if len(names) > 0 and openmetrics and not line.startswith(" ", i):
            raise ValueError("expected one space after the labels")
    elif i == j and not (openmetrics and line.startswith(" ", i)):
        if i >= size:
            raise ValueError("no value after the metric name")
        raise ValueError(f"invalid character {line[i]!r} in metric name {name}")
    if openmetrics:
        if not line.startswith(" ", i):
            raise ValueError("expected one space before the value")
        i += 1
    else:
        i = skip(i)
    number = _NUMBER_RE.match(line, i)
    end = number.end() if number else i
    if number is None or (end < size and line[end] not in blanks):
        token = re.split(r"[ \t]", line[i:], maxsplit=1)[0]
        if not token:
            raise ValueError("no value")
        if token.startswith("{"):
            raise ValueError(f"a native histogram value (not part of {fmt})")
        raise ValueError(f"invalid value {token[:40]!r}: not a number")
    i = end
    if i == size:
        return name
    rest = line[i:]
    if openmetrics:
        if not rest.startswith(" "):
            raise ValueError(f"unexpected text after the value: {rest[:40]!r}")
        stamp = _OM_TIMESTAMP_RE.match(line, i + 1)
        if stamp is not None and (stamp.end() == size or line.startswith(" # ", stamp.end())):
            i = stamp.end()
        elif stamp is not None or not rest.startswith(" # "):
            raise ValueError(f"invalid timestamp {rest[1:].split(' ', 1)[0][:40]!r}")
        if i < size and not line.startswith(" # ", i):
            raise ValueError(f"unexpected text after the value: {line[i:i + 40]!r}")
        return name
    if not rest.strip(blanks):
        return name
    i = skip(i)
    stamp = _TEXT_TIMESTAMP_RE.match(line, i)
    if stamp is None or (stamp.end() < size and line[stamp.end()] not in blanks):
        if rest.lstrip(blanks).startswith("#"):
            raise ValueError("an exemplar or comment after the value (not part of text format 0.0.4)")
        token = re.split(r"[ \t]", line[i:], maxsplit=1)[0]
        raise ValueError(f"invalid timestamp {token[:40]!r}: milliseconds as an integer")
    if line[stamp.end():].strip(blanks):
        raise ValueError(f"unexpected text after the timestamp: {line[stamp.end():].strip(blanks)[:40]!r}")
    return name


def _lines(text, chunk=1 << 20):
    """The lines of text without their line ends, split a megabyte at a time (a body may be 64 MiB)."""
    stop = len(text) - 1 if text.endswith("\n") else len(text)  # the last line end ends no line
    start = 0
    while start <= stop:
        end = text.find("\n", min(start + chunk, stop), stop)
        if end == -1:
            end = stop
        yield from text[start:end].split("\n")
        start = end + 1


def _second_word(line):
    """The second word of a # line as prometheus_client's text parser splits it (quotes and escapes kept
    together, any ASCII whitespace between words): it reads the line as # HELP or # TYPE if that is HELP
    or TYPE, whatever the first word."""
    words = 0
    quoted = False
    escaped = False
    start = None
    line = line.strip()
    for index, char in enumerate(line):
        if char == '"' and not escaped:
            quoted = not quoted
        escaped = char == "\\" and not escaped
        if not quoted and char in " \t\n\r\x0b\x0c":
            if start is not None:
                words += 1
                if words == 2:
                    return line[start:index]
                start = None
        elif start is None:
            start = index
    return line[start:] if start is not None and words == 1 else None


class _Family:
    """One family as the parse meets it."""

    __slots__ = ("allowed", "final", "has_samples", "help", "histogram", "line", "meta", "name", "non_negative",
                 "type", "typed", "unit", "wanted")

    def __init__(self, meta, line, default_type):
        self.meta = meta  # the name on the # lines, or the sample name of a family without them
        self.name = meta
        self.type = default_type
        self.allowed = {meta: meta}  # sample name in the exposition: sample name in the snapshot
        self.line = line
        self.help = self.typed = self.unit = self.has_samples = False
        self.wanted = self.final = False
        self.non_negative = _EMPTY
        self.histogram = None


class _Parser:
    """One pass over an exposition: every line checked, the families that criteria read kept."""

    def __init__(self, text, wanted, openmetrics):
        self.text = text
        self.eof = None  # the line of # EOF
        self.wanted = wanted
        self.openmetrics = openmetrics
        self.samples = {}
        self.types = {}
        self.declared_at = {}  # family name: its first line
        self.owner = {}  # sample name: family name
        self.resumable = {}  # text format: sample name: the family whose samples may come back after others
        self.seen = {}  # (sample name, frozenset of labels): its line
        self.current = None
        self.histograms = []  # the families of type histogram that criteria read

    def parse(self):
        """None, or (line number, line, what is wrong) for the first line found not valid."""
        try:
            self._parse()
            stopped = None
        except _Bad as bad:
            stopped = bad
        # Histograms are checked when all their lines are read (in the text format, samples of a
        # family may come back after other families); on a bad line, those read before it.
        problems = [stopped] if stopped else []
        for family in self.histograms:
            if stopped is None or family is not self.current:
                problems.extend(self._histogram_problems(family))
        if not problems:
            return None
        first = min(problems, key=lambda bad: bad.number)
        return first.number, self.line_text(first.number), first.what

    def line_text(self, number):
        for index, line in enumerate(_lines(self.text), 1):
            if index == number:
                return line
        return ""

    def _parse(self):
        match = (_OM_LINE if self.openmetrics else _TEXT_LINE).match
        value_group = 3 if self.openmetrics else 4
        keep = self._keep
        run_name = run = None
        number = 0
        for number, line in enumerate(_lines(self.text), 1):
            sample = match(line)
            if sample is None:
                run_name = None
                self._line(line, number)
                continue
            name = sample.group(1)
            if name != run_name:
                run_name = name
                run = self._start(name, number)
            if run is not None:
                keep(run, sample.group(2), sample.group(value_group), number)
        self._close()
        if self.openmetrics and self.eof is None:
            raise _Bad(number, "no # EOF after this last line (an OpenMetrics exposition ends with # EOF; "
                               "a truncated body?)")

    def _line(self, line, number):
        if self.eof is not None:
            raise _Bad(number, "a line after # EOF (# EOF ends an OpenMetrics exposition)")
        if self.openmetrics:
            if line == "# EOF":
                self._close()
                self.eof = number
                return
            if not line:
                raise _Bad(number, "a blank line (OpenMetrics does not allow them)")
            if line[0] == "#":
                meta = _OM_META.match(line)
                if meta is None:
                    raise _Bad(number, "a # line that is not # HELP, # TYPE, # UNIT or # EOF "
                                       "(OpenMetrics has no comments)")
                self._meta(meta.group(1), meta.group(2), number)
                return
        else:
            stripped = line.strip(" \t")
            if not stripped:
                return
            if stripped[0] == "#":
                meta = _TEXT_META.match(line)
                if meta is not None:
                    self._meta(meta.group(1), meta.group(2), number)
                elif _second_word(line) in ("HELP", "TYPE"):
                    raise _Bad(number, f"malformed # {_second_word(line)} line: expected '# {_second_word(line)} "
                                       "<metric name> ...' with a space or tab after the #")
                return
        try:
            _read_sample_line(line, self.openmetrics)
        except ValueError as exc:
            raise _Bad(number, str(exc)) from None
        except Exception as exc:  # a line no rule above foresaw: still the body's fault, not a crash
            raise _Bad(number, f"not a valid sample line ({type(exc).__name__}: {exc})") from None
        sample = (_OM_SAMPLE if self.openmetrics else _TEXT_SAMPLE).match(line)
        run = self._start(sample.group(1), number)
        if run is not None:
            self._keep(run, sample.group(2), sample.group(3), number)

    def _meta(self, kind, rest, number):
        fmt = "OpenMetrics 1.0" if self.openmetrics else "text format 0.0.4"
        if kind == "TYPE":
            match = (_OM_TYPE if self.openmetrics else _TEXT_TYPE).match(rest)
            if match is None:
                raise _Bad(number, "malformed # TYPE line: expected # TYPE <metric name> <type>")
            name, kind_of = match.group(1), match.group(2)
            types = _OM_TYPES if self.openmetrics else _TEXT_TYPES
            if kind_of not in types:
                raise _Bad(number, f"unknown type {kind_of[:40]!r} ({fmt} knows {', '.join(sorted(types))})")
        else:
            match = (_OM_HELP if self.openmetrics else _TEXT_HELP).match(rest)
            if match is None:
                raise _Bad(number, f"malformed # {kind} line: expected # {kind} <metric name> "
                                   f"{'<unit>' if kind == 'UNIT' else '<text>'} (a metric name starts with a "
                                   "letter, _ or : followed by letters, digits, _ or :)")
            name = match.group(1)
        family = self.current
        if family is None or family.meta != name:
            self._close()
            family = self.current = _Family(name, number, "unknown" if self.openmetrics else "untyped")
        elif family.has_samples:
            raise _Bad(number, f"# {kind} {name} after the samples of {name} (# lines come first)")
        if kind == "HELP":
            if family.help:
                raise _Bad(number, f"a second # HELP for {name}")
            family.help = True
        elif kind == "UNIT":
            if family.unit:
                raise _Bad(number, f"a second # UNIT for {name}")
            family.unit = True
        else:
            if family.typed:
                raise _Bad(number, f"a second # TYPE for {name}")
            family.typed = True
            family.type = kind_of
            if self.openmetrics:
                family.allowed = {name + suffix: name + suffix for suffix in _OM_TYPES[kind_of]}
            elif kind_of == "counter":
                # prometheus_client's family of counter x or x_total is x, and its samples x_total. After
                # # TYPE x counter (OpenMetrics' naming), its text parser renames samples x to x_total and
                # makes samples x_total a family x_total of type unknown: here they are counter x's too.
                if name.endswith("_total"):
                    family.allowed = {name: name}
                    family.name = name[:-6]
                    if not family.name:
                        raise _Bad(number, "a counter named _total has no family name")
                else:
                    family.allowed = {name: name + "_total", name + "_total": name + "_total"}
            else:
                family.allowed = {name + suffix: name + suffix for suffix in _TEXT_TYPES[kind_of]}

    def _finalize(self, family):
        """Register a family when its type is settled: at its first sample, or its end."""
        family.final = True
        name = family.name
        kind = "unknown" if family.type == "untyped" else family.type
        family.type = kind
        if name in self.types:
            raise _Bad(family.line, f"a second family named {name} (the first begins at line "
                                    f"{self.declared_at[name]}): the # lines of a family come before its samples, once")
        self.types[name] = kind
        self.declared_at[name] = family.line
        if not self.openmetrics:
            for sample_name, kept_as in family.allowed.items():
                if sample_name == kept_as:
                    self.resumable.setdefault(sample_name, family)
        wanted = self.wanted
        family.wanted = wanted is None or name in wanted or family.meta in wanted or any(
            sample_name in wanted for sample_name in family.allowed.values())
        if family.wanted:
            family.non_negative = frozenset(name + suffix for suffix in _NON_NEGATIVE.get(kind, ()))
            if kind in ("histogram", "gaugehistogram"):
                family.histogram = []
                self.histograms.append(family)

    def _close(self):
        family = self.current
        if family is None:
            return
        self.current = None
        if not family.final:
            self._finalize(family)

    def _start(self, name, number):
        """A sample line of another name than the line before: its family, and what to keep of it.

        Returns None for a family no criterion reads, else (family, sample name in the snapshot,
        its list of series, whether it must not be negative, the family's histogram lines or None).
        """
        if self.eof is not None:
            raise _Bad(number, "a line after # EOF (# EOF ends an OpenMetrics exposition)")
        family = self.current
        if family is not None and name not in family.allowed and name in (family.name, family.meta):
            raise _Bad(number, f"a sample named {name} in {family.type} {family.name}, whose samples are named "
                               f"{' or '.join(sorted(family.allowed))}")
        if family is None or name not in family.allowed:
            self._close()
            # Samples of a family after other families: prometheus_client's text parser makes each
            # sample name a family of its own, of type unknown; here they continue their family (its
            # type and checks). Not for the samples of a counter named without _total in its # TYPE
            # (the library renames them x_total in their family, not after).
            family = self.current = self.resumable.get(name) or _Family(name, number, "unknown")
        if not family.final:
            self._finalize(family)
        family.has_samples = True
        sample_name = family.allowed[name]
        owner = self.owner.setdefault(sample_name, family.name)
        if owner != family.name:
            raise _Bad(number, f"sample name {sample_name} belongs to {self.types[owner]} {owner} (line "
                               f"{self.declared_at[owner]}) and to {family.type} {family.name}")
        if not family.wanted:
            return None
        return (family, sample_name, self.samples.setdefault(sample_name, []),
                sample_name in family.non_negative, family.histogram)

    def _keep(self, run, inner, value, number):
        family, name, series, non_negative, histogram = run
        if inner:
            if "\\" in inner:
                labels = {label: _unescape_label(text) for label, text in _LABEL_PAIR.findall(inner)}
            else:
                # Checked labels without a backslash: quotes delimit the values, and nothing else.
                parts = inner.split('"')
                labels = dict(zip([part.strip(' \t,=') for part in parts[:-1:2]], parts[1::2]))  # noqa: B905 (3.10+)
            key = (name, frozenset(labels.items()))
        else:
            labels = {}
            key = (name, _EMPTY)
        first = self.seen.setdefault(key, number)
        if first != number:
            raise _Bad(number, f"series {_series_text(name, labels)} is exposed twice (lines {first} and {number})")
        value = float(value)
        if non_negative and value < 0:
            raise _Bad(number, f"{family.type} sample {_series_text(name, labels)} is negative ({value:g}): "
                               "a count cannot go below zero")
        series.append((labels, value))
        if histogram is not None:
            histogram.append((name, labels, value, number))

    def _histogram_problems(self, family):
        """Buckets of each label set: a +Inf bucket, numeric le, cumulative counts, _count equal to +Inf."""
        bucket = family.name + "_bucket"
        count = family.name + ("_gcount" if family.type == "gaugehistogram" else "_count")
        groups = {}
        for name, labels, value, number in family.histogram:
            if name == bucket:
                le = labels.get("le")
                if le is None:
                    yield _Bad(number, f"bucket {_series_text(name, labels)} has no le label")
                elif not _LE_RE.match(le) or math.isnan(float(le)):
                    yield _Bad(number, f"bucket {_series_text(name, labels)}: le={le[:40]!r} is not a number")
                else:
                    key = frozenset(item for item in labels.items() if item[0] != "le")
                    groups.setdefault(key, [[], None, labels])[0].append((float(le), value, number, le))
            elif name == count:
                groups.setdefault(frozenset(labels.items()), [[], None, labels])[1] = (value, number)
        for buckets, total, labels in groups.values():
            series = _series_text(family.name, {k: v for k, v in labels.items() if k != "le"})
            if not buckets:
                yield _Bad(total[1], f"histogram {series} has a {count} but no buckets (no le=\"+Inf\" bucket)")
                continue
            buckets.sort(key=lambda item: item[0])
            for index in range(1, len(buckets)):
                bound, value, number, le = buckets[index - 1]
                next_bound, next_value, next_number, next_le = buckets[index]
                if next_bound == bound:
                    yield _Bad(max(number, next_number),
                               f"histogram {series} has two buckets for le={bound:g} "
                               f"(lines {min(number, next_number)} and {max(number, next_number)})")
                elif next_value < value:
                    yield _Bad(max(number, next_number),
                               f"histogram {series}: bucket le={next_le!r} counts {next_value:g}, less than bucket "
                               f"le={le!r} (line {number}) with {value:g}: buckets are cumulative")
            last_bound, last_value, last_number, _le = buckets[-1]
            if last_bound != math.inf:
                yield _Bad(max(item[2] for item in buckets), f"histogram {series} has no le=\"+Inf\" bucket")
            elif total is not None and total[0] != last_value and not (math.isnan(total[0]) or math.isnan(last_value)):
                yield _Bad(max(total[1], last_number),
                           f"histogram {series}: {count} is {total[0]:g} but its le=\"+Inf\" bucket "
                           f"(line {last_number}) counts {last_value:g}")


def _library_problem(text, before=None):
    """prometheus_client's OpenMetrics parser over the body: None, or (line number, line, what is wrong).

    With `before`, only the lines before that line number are read, and what the parser finds wrong
    once they are all read (the end of a family, or of the body) does not count.
    """
    where = [0, "", False]  # the line being read, its text, whether the lines were cut at `before`

    def lines():
        for number, line in enumerate(_lines(text), 1):
            if before is not None and number >= before:
                where[2] = True
                return
            where[0], where[1] = number, line
            yield line + "\n"

    try:
        for _family in _parse_openmetrics_lines(lines()):
            pass
    except Exception as exc:  # the parser raises ValueError and, on some garbage, other types
        number, line, cut = where
        if cut:
            return None
        what = str(exc).strip()
        if line and what.endswith(line):
            what = what[: -len(line)].rstrip(": ")
        return number, line, (what or type(exc).__name__) + " (prometheus_client's OpenMetrics parser)"
    return None


class Snapshot:
    """The samples of one scrape, indexed by sample name (`x_total`, `x_bucket`, `x` ...), and its families.

    `types` maps every family the exposition declared to its type, as prometheus_client names them
    (counter `x` of samples `x_total`; a family without # TYPE in the text format is `unknown`),
    also the families with no series yet (a labelled counter before its first increment), so
    that a misnamed metric can be told apart from a metric that exists but has not counted
    anything. `families` is the set of their names.
    """

    def __init__(self, samples=None, families=None, source="", types=None):
        self.samples = samples if samples is not None else {}
        self.types = dict(types) if types is not None else {}
        for name in families or ():
            self.types.setdefault(name, "unknown")
        self.source = source
        # The sources of the targets a merged snapshot is made of (merge()); None for one scrape.
        self.target_sources = None
        self._per_target = None

    @property
    def families(self):
        return self.types.keys()

    @families.setter
    def families(self, names):
        self.types = {name: self.types.get(name, "unknown") for name in names}

    def has_metric(self, name):
        return name in self.samples or name in self.types or family_base(name) in self.types

    def family_of(self, sample_name):
        """(family name, type) of the declared family that sample name belongs to, or None.

        `x_total`/`x_created` of counter x; `x_bucket`/`x_sum`/`x_count`/`x_created` of histogram x;
        `x` of gauge, unknown or stateset x; `x`/`x_sum`/`x_count`/`x_created` of summary x; `x_info` of
        info x; `x_bucket`/`x_gcount`/`x_gsum` of gaugehistogram x.
        """
        for family, suffix in _family_candidates(sample_name):
            kind = self.types.get(family)
            if kind is not None and suffix in _TYPE_SUFFIXES.get(kind, ("",)):
                return family, kind
        return None

    def declared_as(self, sample_name):
        """(family name, type) of a declared family named as the sample (or as its base) whose type has
        no such sample, e.g. gauge x for `x_total`; None when there is none.

        It may name a family although family_of() finds another: samples `x_total` without # TYPE
        make a family x_total of type unknown, beside a gauge x.
        """
        for family, suffix in _family_candidates(sample_name):
            kind = self.types.get(family)
            if kind is not None and suffix not in _TYPE_SUFFIXES.get(kind, ("",)):
                return family, kind
        return None

    def select(self, selector):
        """Series matching the selector: a list of (labels, value)."""
        series = self.samples.get(selector.name, ())
        if not selector.matchers:
            return list(series)
        return [(labels, value) for labels, value in series if selector.matches(labels)]

    @classmethod
    def merge(cls, snapshots):
        """One snapshot of several targets (production instances); each series keeps its target.

        A family whose type differs between targets is a SourceError.
        """
        merged = cls(source=", ".join(s.source for s in snapshots))
        declared_by = {}
        for index, snapshot in enumerate(snapshots):
            for family, kind in snapshot.types.items():
                known = merged.types.setdefault(family, kind)
                declared_by.setdefault(family, snapshot.source or f"target {index + 1}")
                if known != kind:
                    raise SourceError(
                        f"{family} is a {known} in {declared_by[family]} but a {kind} in "
                        f"{snapshot.source or f'target {index + 1}'}: the targets run different code"
                    )
            for name, series in snapshot.samples.items():
                bucket = merged.samples.setdefault(name, [])
                for labels, value in series:
                    tagged = dict(labels)
                    tagged["__target__"] = str(index)
                    bucket.append((tagged, value))
        merged.target_sources = [snapshot.source or f"target {index + 1}" for index, snapshot in enumerate(snapshots)]
        return merged

    def per_target(self):
        """The snapshot of each target a merged snapshot is made of, in order; [self] for one scrape."""
        if not self.target_sources:
            return [self]
        # Built once: every gauge criterion of a sample reads it.
        if self._per_target is None:
            self._per_target = self._split_targets()
        return self._per_target

    def _split_targets(self):
        return [
            Snapshot(
                {name: [({k: v for k, v in labels.items() if k != "__target__"}, value)
                        for labels, value in series if labels.get("__target__") == str(index)]
                 for name, series in self.samples.items()},
                source=source,
                types=self.types,
            )
            for index, source in enumerate(self.target_sources)
        ]


def _family_candidates(sample_name):
    yield sample_name, ""
    for suffix in _FAMILY_SUFFIXES:
        if sample_name.endswith(suffix) and len(sample_name) > len(suffix):
            yield sample_name[: -len(suffix)], suffix


def looks_like_html(body, content_type=""):
    if content_type and content_type.split(";", 1)[0].strip().lower() in ("text/html", "application/xhtml+xml"):
        return True
    head = body[:512].lstrip().lower()
    return head.startswith("<!doctype html") or head.startswith("<html") or head.startswith("<?xml")


def parse_exposition(text, content_type="", wanted=None, source=""):
    """Check every line of an exposition and return a Snapshot of it.

    `wanted` (a set from wanted_names()) limits the samples kept to the families criteria read;
    None keeps all. Every line is checked either way. Raises SourceError: `error` for HTML, a
    body that is not valid (the message names its first bad line) or a missing library,
    `no_data` for an exposition without any family.
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
    parser = _Parser(text, wanted, openmetrics)
    # The parse makes no reference cycles; without this pause the cyclic garbage collector's passes
    # over its growing lists and dicts take about as long as the parse itself.
    collecting = gc.isenabled()
    gc.disable()
    try:
        problem = parser.parse()
    finally:
        if collecting:
            gc.enable()
    if openmetrics:
        library = _library_problem(text, problem[0] if problem else None)
        if library is not None and (problem is None or library[0] < problem[0]):
            problem = library
    if problem is not None:
        number, line, what = problem
        raise SourceError(
            f"malformed {'OpenMetrics' if openmetrics else 'Prometheus text'} exposition from "
            f"{source or 'the endpoint'}: line {number} {_cut(line)}: {what}"
        )
    if not parser.types:
        raise SourceError("%s returned no metrics at all" % (source or "the endpoint"), OUTCOME_NO_DATA)
    return Snapshot(parser.samples, source=source, types=parser.types)


def check_finite(value, what):
    """Return value if it is a finite number; NaN is `no_data`, an infinity is `error`."""
    if math.isnan(value):
        raise SourceError(f"{what} is NaN (no value to judge)", OUTCOME_NO_DATA)
    if math.isinf(value):
        raise SourceError("{} is {}".format(what, "+Inf" if value > 0 else "-Inf"))
    return value
