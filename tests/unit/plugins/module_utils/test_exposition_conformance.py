# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every line of an exposition is checked against its format.

A conformance table of valid and invalid bodies in both formats, a test per defect seen in the
field, and differential properties against prometheus_client's own parsers: whenever the library
refuses a body, parse_exposition refuses it too, and on every body both accept they give the same
samples and family types.
"""

from __future__ import annotations

import math
import time

import pytest
from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import (
    SourceError,
    parse_exposition,
    wanted_names,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.openmetrics.parser import text_string_to_metric_families as library_openmetrics
from prometheus_client.parser import text_string_to_metric_families as library_text

TEXT = "text/plain; version=0.0.4; charset=utf-8"
OM = "application/openmetrics-text; version=1.0.0; charset=utf-8"
# What the default criteria read, as canary_check hands it to the parse.
READ = wanted_names(["hyperbun_http_requests_total", "hyperbun_log_errors_total", "memory_usage_bytes"])


def _value_key(value):
    value = float(value)
    return "NaN" if math.isnan(value) else value


def library(text, openmetrics):
    """(sorted samples, {family: {types}}) as prometheus_client reads the body; raises what it raises.

    The text parser makes samples of a family that come back after other families a family of their
    own, of type unknown: a family name may have two types.
    """
    samples, types = [], {}
    for family in (library_openmetrics if openmetrics else library_text)(text):
        types.setdefault(family.name, set()).add(family.type)
        for sample in family.samples:
            samples.append((sample.name, tuple(sorted(sample.labels.items())), _value_key(sample.value)))
    return sorted(samples, key=repr), types


def ours(snapshot):
    samples = [(name, tuple(sorted(labels.items())), _value_key(value))
               for name, series in snapshot.samples.items() for labels, value in series]
    return sorted(samples, key=repr), dict(snapshot.types)


def same(snapshot, expected):
    """The library's samples, and its families with one of the types it gives each.

    Where the library makes samples that come back after other families a family of their own (named
    as the sample, of type unknown), they continue their family here.
    """
    samples, types = ours(snapshot)
    assert samples == expected[0]
    assert types.keys() <= expected[1].keys()
    for name in expected[1].keys() - types.keys():
        assert expected[1][name] == {"unknown"} and snapshot.family_of(name) is not None, name
    for name, kind in types.items():
        assert kind in expected[1][name], (name, kind, expected[1][name])
    return True


def refused(text, content_type, wanted=None):
    with pytest.raises(SourceError) as caught:
        parse_exposition(text, content_type, wanted=wanted, source="canary")
    return caught.value


# ---------------------------------------------------------------------------------------------
# The conformance table.

VALID_TEXT = {
    "metadata and every text type": """# HELP hyperbun_http_requests_total HTTP requests.
# TYPE hyperbun_http_requests_total counter
hyperbun_http_requests_total{method="GET",path="/api",status="200"} 120
hyperbun_http_requests_total{method="GET",path="/api",status="500"} 3.0
# TYPE memory_usage_bytes gauge
memory_usage_bytes 5.24288e+07
# HELP rpc_seconds RPC latency.
# TYPE rpc_seconds summary
rpc_seconds{quantile="0.5"} 0.01
rpc_seconds{quantile="0.99"} 0.2
rpc_seconds_sum 12.5
rpc_seconds_count 1000
# TYPE graph_build_duration_seconds histogram
graph_build_duration_seconds_bucket{le="0.005"} 9
graph_build_duration_seconds_bucket{le="+Inf"} 10
graph_build_duration_seconds_count 10
graph_build_duration_seconds_sum 0.03
# TYPE old_style untyped
old_style 1
""",
    "no metadata at all": 'a 1\nb{x="y"} 2\nb{x="z"} 3\nc_total 4\n',
    "blanks the text format allows": ' \ta\t{ x = "1" , y="2", }\t 1  1700000000000 \n\n  # a comment\nb{}2\n',
    "escapes in label values": 'a{p="back\\\\slash",q="quo\\"te",r="new\\nline",s="tab\\t"} 1\n',
    "special values and number forms": ('g{v="1"} NaN\ng{v="2"} +Inf\ng{v="3"} -Inf\ng{v="4"} -0\ng{v="5"} .5\n'
                                        'g{v="6"} 5.\ng{v="7"} 1e3\ng{v="8"} +1.5E-3\ng{v="9"} 12345678901234567890\n'),
    "a counter declared without _total": "# TYPE c counter\nc 1\n",
    "a counter declared with its OpenMetrics name": "# TYPE c counter\nc_total 1\n",
    "a family without series": "# HELP x_total Not yet counted.\n# TYPE x_total counter\n# TYPE y gauge\ny 1\n",
    "the same untyped series name again later": 'a{x="1"} 1\nb 1\na{x="2"} 2\n',
    "a typed family again after another": '# TYPE g gauge\ng{x="1"} 1\n# TYPE b gauge\nb 1\ng{x="2"} 2\n',
    "a histogram split by another family": ('# TYPE h histogram\nh_bucket{le="1"} 1\n# TYPE b gauge\nb 1\n'
                                            'h_bucket{le="+Inf"} 2\nh_count 2\n'),
    "a comment between samples": "# TYPE c_total counter\nc_total{a=\"1\"} 1\n# not HELP or TYPE\nc_total{a=\"2\"} 2\n",
    "no line end at the end": "# TYPE g gauge\ng 1",
    "more labels than the fast path takes": "wide{" + ",".join(f'l{i}="{i}"' for i in range(80)) + "} 1\n",
    "a label value that looks like a second label": 'a{x="1",y=",x=2"} 1\n',
    "histogram buckets in any order": (
        '# TYPE h histogram\nh_bucket{le="+Inf"} 4\nh_bucket{le="1"} 1\nh_bucket{le="0.5"} 0\nh_count 4\nh_sum 2\n'),
}

VALID_OPENMETRICS = {
    "every OpenMetrics type": """# TYPE requests counter
# HELP requests Requests.
requests_total{path="/"} 3 # {trace_id="abc"} 1.0 1700000000.5
requests_created{path="/"} 1700000000.0
# TYPE latency_seconds histogram
# UNIT latency_seconds seconds
latency_seconds_bucket{le="0.5"} 1
latency_seconds_bucket{le="+Inf"} 2 # {trace_id="x"} 3
latency_seconds_count 2
latency_seconds_sum 1.5
# TYPE mem gauge
mem 1e9
# TYPE rpc summary
rpc{quantile="0.5"} 0.1
rpc_sum 3
rpc_count 10
# TYPE build info
build_info{version="1.4.0"} 1
# TYPE mode stateset
mode{mode="a"} 1
mode{mode="b"} 0
# TYPE queue gaugehistogram
queue_bucket{le="1"} 2
queue_bucket{le="+Inf"} 3
queue_gcount 3
queue_gsum 4
# TYPE other unknown
other 7
bare 8
# EOF
""",
    "timestamps": "# TYPE g gauge\ng 1 1700000000\ng2 2 1700000000.123\n# EOF\n",
    "no line end after # EOF": "g 1\n# EOF",
    "special values": 'g{v="1"} NaN\ng{v="2"} +Inf\ng{v="3"} -Inf\n# EOF\n',
    "more labels than the fast path takes": "wide{" + ",".join(f'l{i}="{i}"' for i in range(80)) + "} 1\n# EOF\n",
}


@pytest.mark.parametrize("body", list(VALID_TEXT.values()), ids=list(VALID_TEXT))
def test_valid_text_bodies_give_the_library_samples(body):
    assert same(parse_exposition(body, TEXT), library(body, openmetrics=False))


@pytest.mark.parametrize("body", list(VALID_OPENMETRICS.values()), ids=list(VALID_OPENMETRICS))
def test_valid_openmetrics_bodies_give_the_library_samples(body):
    assert same(parse_exposition(body, OM), library(body, openmetrics=True))


def test_untyped_families_are_unknown_and_counters_are_named_as_the_library_names_them():
    snapshot = parse_exposition(VALID_TEXT["metadata and every text type"], TEXT)
    assert snapshot.types == {
        "hyperbun_http_requests": "counter", "memory_usage_bytes": "gauge", "rpc_seconds": "summary",
        "graph_build_duration_seconds": "histogram", "old_style": "unknown"}
    assert set(snapshot.families) == set(snapshot.types)


# (body, number of the first bad line, what the message says)
INVALID_TEXT = {
    "labels not closed": ('ok 1\nm{a="1" 1\n', 2, "expected , or }"),
    "label value not quoted": ("m{a=1} 1\n", 1, "not a quoted string"),
    "no label name": ('m{="1"} 1\n', 1, "invalid label name"),
    "a label twice": ('m{a="1",b="2",a="3"} 1\n', 1, "label a appears twice"),
    "a reserved label name": ('m{__meta="1"} 1\n', 1, "reserved"),
    "a colon in a label name": ('m{a:b="1"} 1\n', 1, "invalid character ':'"),
    "a leading comma": ('m{,a="1"} 1\n', 1, "invalid label name"),
    "a quoted metric name": ('{"my.metric"} 1\n', 1, "quoted metric name"),
    "a metric name starting with a digit": ("1m 1\n", 1, "a metric name starts with"),
    "a value that is not a number": ("m one\n", 1, "invalid value 'one'"),
    "no value": ('m{a="1"}\n', 1, "no value"),
    "an underscore in the value": ("m 1_000\n", 1, "invalid value"),
    "a value in another script's digits": ("m \u0661\n", 1, "invalid value"),
    "a timestamp that is not an integer": ("m 1 1.5\n", 1, "invalid timestamp"),
    "two timestamps": ("m 1 2 3\n", 1, "unexpected text after the timestamp"),
    "an exemplar": ('m 1 # {a="b"} 1\n', 1, "exemplar"),
    "a carriage return": ("m 1\r\nn 2\r\n", 1, "carriage return"),
    "a vertical tab after the value": ("m 1 \x0b\n", 1, "invalid timestamp '\\x0b'"),
    "a wide space before the value": ("m\u20031\n", 1, "invalid character '\\u2003' in metric name m"),
    "# HELP without a name": ("# HELP\n", 1, "malformed # HELP"),
    "# HELP with an invalid name": ("# HELP 1m text\n", 1, "malformed # HELP"),
    "# TYPE without a type": ("# TYPE m\nm 1\n", 1, "malformed # TYPE"),
    "an unknown type": ("# TYPE m gauges\nm 1\n", 1, "unknown type 'gauges'"),
    "an OpenMetrics type": ("# TYPE m info\n", 1, "unknown type 'info'"),
    "a type in capitals": ("# TYPE m COUNTER\n", 1, "unknown type 'COUNTER'"),
    "a second # TYPE": ("# TYPE m gauge\n# HELP m x\n# TYPE m gauge\nm 1\n", 3, "a second # TYPE for m"),
    "a second # HELP": ("# HELP m x\n# HELP m y\n", 2, "a second # HELP for m"),
    "# TYPE after the samples": ("m 1\n# TYPE m gauge\n", 2, "# TYPE m after the samples of m"),
    "a family declared twice": ("# TYPE m gauge\nm{a=\"1\"} 1\nn 1\n# TYPE m gauge\nm{a=\"2\"} 2\n", 4,
                                "a second family named m (the first begins at line 1)"),
    "a counter declared as x after other families": ("# TYPE x counter\nx 1\nn 1\nx 2\n", 4,
                                                     "a second family named x"),
    "a sample name of two families": ('# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n# TYPE h_count gauge\n'
                                      "h_count 2\n", 5,
                                      "sample name h_count belongs to histogram h"),
    "a counter named _total": ("# TYPE _total counter\n", 1, "no family name"),
    "a negative counter": ("# TYPE c_total counter\nc_total 1\nc_total{a=\"1\"} -1\n", 3, "is negative"),
    "a negative declared-as-x counter": ("# TYPE c counter\nc -2\n", 2, "counter sample c_total is negative"),
    "a negative bucket": ('# TYPE h histogram\nh_bucket{le="+Inf"} -1\n', 2, "is negative"),
    "a series twice": ('m{a="1",b="2"} 1\nm{b="2",a="1"} 2\n', 2,
                       'series m{b="2",a="1"} is exposed twice (lines 1 and 2)'),
    "a counter's series twice, after other families": ("# TYPE c_total counter\nc_total 1\nn 1\nc_total 2\n", 4,
                                                       "series c_total is exposed twice (lines 2 and 4)"),
    "no +Inf bucket": ('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="2"} 2\nh_count 2\n', 3,
                       'histogram h has no le="+Inf" bucket'),
    "buckets that decrease": ('# TYPE h histogram\nh_bucket{le="1"} 5\nh_bucket{le="+Inf"} 3\n', 3, "cumulative"),
    "a bound that is not a number": (
        '# TYPE h histogram\nh_bucket{le="big"} 1\nh_bucket{le="+Inf"} 1\n', 2, "le='big' is not a number"),
    "a bucket without le": ("# TYPE h histogram\nh_bucket 1\n", 2, "has no le label"),
    "two buckets with one bound": ('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="1.0"} 1\n'
                                   'h_bucket{le="+Inf"} 1\n', 3, "two buckets for le=1"),
    "_count other than the +Inf bucket": ('# TYPE h histogram\nh_bucket{le="+Inf"} 3\nh_count 4\n', 3,
                                          "h_count is 4 but its le=\"+Inf\" bucket (line 2) counts 3"),
    "junk": ("<<<<>>>>\n", 1, "not a sample"),
}

INVALID_OPENMETRICS = {
    "a blank line": ("a 1\n\nb 2\n# EOF\n", 2, "blank line"),
    "a line after # EOF": ("a 1\n# EOF\njunk\n", 3, "after # EOF"),
    "a blank line after # EOF": ("a 1\n# EOF\n\n", 3, "after # EOF"),
    "no # EOF": ("# TYPE a gauge\na 1\n", 2, "no # EOF"),
    "a comment": ("# a comment\na 1\n# EOF\n", 1, "OpenMetrics has no comments"),
    "# HELP without text": ("# HELP a\na 1\n# EOF\n", 1, "Invalid line"),
    "# TYPE without a type": ("# TYPE a\na 1\n# EOF\n", 1, "malformed # TYPE"),
    "# TYPE untyped": ("# TYPE a untyped\na 1\n# EOF\n", 1, "unknown type 'untyped'"),
    "# UNIT that the name does not end with": ("# TYPE a gauge\n# UNIT a seconds\na 1\n# EOF\n", 4,
                                               "Unit does not match"),
    "an invalid metric name": ("a 1\n1b 2\n# EOF\n", 2, "a metric name starts with"),
    "a trailing comma": ('a{x="1",} 1\n# EOF\n', 1, "trailing comma"),
    "a tab": ("a\t1\n# EOF\n", 1, "invalid character"),
    "a NaN counter": ("# TYPE c counter\nc_total NaN\n# EOF\n", 2, "cannot be NaN"),
    "a negative counter": ("# TYPE c counter\nc_total -1\n# EOF\n", 2, "is negative"),
    "a series twice": ("# TYPE c counter\nc_total 1\nc_total 2\n# EOF\n", 3,
                       "c_total is exposed twice (lines 2 and 3)"),
    "no +Inf bucket": ('# TYPE h histogram\nh_bucket{le="1"} 1\nh_count 1\nh_sum 1\n# EOF\n', 2,
                       'no le="+Inf" bucket'),
    "buckets that decrease": ('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 1\n'
                              "# EOF\n", 3, "cumulative"),
    "_count other than the +Inf bucket": ('# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_count 1\nh_sum 1\n# EOF\n',
                                          3, "h_count is 1"),
    "a native histogram": ("# TYPE h histogram\nh {count:1,sum:1,schema:0,zero_threshold:0,zero_count:0}\n# EOF\n", 2,
                           "not part of OpenMetrics 1.0"),
    "metadata after samples": ("# TYPE a gauge\na 1\n# HELP a text\n# EOF\n", 3, "after the samples"),
    "a clashing name": ("# TYPE a counter\na_total 1\n# TYPE a_total gauge\na_total 1\n# EOF\n", 4, "a_total"),
}


def _check_refusal(body, content_type, line, fragment):
    error = refused(body, content_type)
    assert error.outcome == "error"
    bad_line = body.split("\n")[line - 1]
    assert f": line {line} {bad_line[:120]!r}: " in error.message, error.message
    assert fragment in error.message, error.message


@pytest.mark.parametrize("body, line, fragment", list(INVALID_TEXT.values()), ids=list(INVALID_TEXT))
def test_invalid_text_bodies_are_errors_naming_the_first_bad_line(body, line, fragment):
    _check_refusal(body, TEXT, line, fragment)


@pytest.mark.parametrize("body, line, fragment", list(INVALID_OPENMETRICS.values()), ids=list(INVALID_OPENMETRICS))
def test_invalid_openmetrics_bodies_are_errors_naming_the_first_bad_line(body, line, fragment):
    _check_refusal(body, OM, line, fragment)


@pytest.mark.parametrize("body, line", [
    # the library refuses line 2 (# HELP without text), this collection's pass line 4 (a series twice)
    ("a 1\n# HELP b\nb 1\nb 2\n# EOF\n", 2),
    # this collection's pass refuses line 2, the library line 4
    ("a 1\na 2\nb 1\n# HELP c\n# EOF\n", 2),
])
def test_openmetrics_names_the_first_line_either_check_refuses(body, line):
    assert f"line {line} " in refused(body, OM).message


def test_a_long_bad_line_is_cut_in_the_message():
    line = 'm{a="' + "x" * 500 + '"} not_a_number'
    error = refused(line + "\n", TEXT)
    assert "line 1 " in error.message and "x" * 100 in error.message and "x" * 200 not in error.message
    assert "..." in error.message and len(error.message) < 400


# ---------------------------------------------------------------------------------------------
# The defects seen: each passed before every line was checked.

# A family that criteria read (a text-format counter's # TYPE names its samples, an OpenMetrics one its family).
HEALTHY = "# TYPE hyperbun_http_requests_total counter\nhyperbun_http_requests_total{status=\"200\"} 5\n"
HEALTHY_OM = "# TYPE hyperbun_http_requests counter\nhyperbun_http_requests_total{status=\"200\"} 5\n"


def healthy(content_type):
    return HEALTHY_OM if content_type == OM else HEALTHY


def test_a_blank_line_in_openmetrics_is_an_error_even_in_a_family_nobody_reads():
    body = HEALTHY_OM + "# TYPE other gauge\nother 1\n\nother2 2\n# EOF\n"
    error = refused(body, OM, wanted=READ)
    assert "line 5 '': a blank line" in error.message


def test_junk_after_openmetrics_eof_is_an_error():
    error = refused(HEALTHY_OM + "# EOF\nunrelated_total 3\n", OM, wanted=READ)
    assert "line 4 'unrelated_total 3': a line after # EOF" in error.message


@pytest.mark.parametrize("line, content_type", [
    ("# HELP other", OM),
    ("# TYPE other", OM),
    ("# TYPE other gauge extra", OM),
    ("# UNIT other", OM),
    ("# TYPE other", TEXT),
    ("# HELP 9other text", TEXT),
    ("# TYPE other bogus", TEXT),
])
def test_malformed_metadata_of_a_family_nobody_reads_is_an_error(line, content_type):
    body = healthy(content_type) + line + "\nother 1\n" + ("# EOF\n" if content_type == OM else "")
    error = refused(body, content_type, wanted=READ)
    assert error.outcome == "error" and f"line 3 {line!r}" in error.message


@pytest.mark.parametrize("content_type", [TEXT, OM])
def test_an_invalid_metric_name_in_a_family_nobody_reads_is_an_error(content_type):
    body = healthy(content_type) + "other-metric 1\n" + ("# EOF\n" if content_type == OM else "")
    error = refused(body, content_type, wanted=READ)
    assert "line 3 'other-metric 1'" in error.message


@pytest.mark.parametrize("content_type, wanted", [(TEXT, None), (TEXT, READ), (OM, READ)])
def test_broken_histogram_buckets_are_errors(content_type, wanted):
    body = (healthy(content_type) + "# TYPE hyperbun_http_request_duration_seconds histogram\n"
            'hyperbun_http_request_duration_seconds_bucket{le="0.1"} 7\n'
            'hyperbun_http_request_duration_seconds_bucket{le="1"} 5\n'
            'hyperbun_http_request_duration_seconds_bucket{le="+Inf"} 9\n'
            "hyperbun_http_request_duration_seconds_count 9\nhyperbun_http_request_duration_seconds_sum 1\n")
    body += "# EOF\n" if content_type == OM else ""
    wanted = wanted | wanted_names(["hyperbun_http_request_duration_seconds"]) if wanted else None
    error = refused(body, content_type, wanted=wanted)
    assert "line 5 " in error.message


def test_openmetrics_without_eof_is_an_error_and_not_an_empty_body():
    error = refused(HEALTHY_OM, OM, wanted=READ)
    assert error.outcome == "error"
    assert "line 2 'hyperbun_http_requests_total{status=\"200\"} 5': no # EOF" in error.message


def test_a_negative_counter_is_an_error():
    body = HEALTHY + 'hyperbun_http_requests_total{status="500"} -4\n'
    error = refused(body, TEXT, wanted=READ)
    assert "line 3 " in error.message and "is negative (-4)" in error.message


@pytest.mark.parametrize("wanted", [None, READ])
def test_a_series_exposed_twice_is_an_error_naming_both_lines(wanted):
    body = HEALTHY + "# TYPE memory_usage_bytes gauge\nmemory_usage_bytes 1\nmemory_usage_bytes 1\n"
    error = refused(body, TEXT, wanted=wanted)
    assert "series memory_usage_bytes is exposed twice (lines 4 and 5)" in error.message


@pytest.mark.parametrize("junk", [
    "lorem ipsum dolor sit amet, consectetur adipiscing elit\n" * 900_000,
    "x" * 50_000_000,
    "\u00e9\u00e8\u00ea{{{}}}" * 6_000_000,
])
def test_50_mb_of_junk_is_a_malformed_exposition(junk):
    started = time.monotonic()
    error = refused(junk, TEXT, wanted=READ)
    assert error.outcome == "error" and "malformed Prometheus text exposition" in error.message
    assert "line 1 " in error.message and len(error.message) < 400
    assert time.monotonic() - started < 20


# ---------------------------------------------------------------------------------------------
# Differential properties against prometheus_client.

_BASES = ["alpha", "beta_rate", "gamma:ops", "_delta", "eps9", "zeta_bytes"]
_LABELS = ["path", "code", "a1", "method", "zone"]
_VALUE_TOKENS = st.one_of(
    st.characters(codec="utf-8", exclude_characters='"\\\n', exclude_categories=("Cs",)),
    st.sampled_from(["\\\\", '\\"', "\\n", "\\t", ",", "}", "{", "=", " ", "#", ",a1=", ",path= "]),
)
_label_value = st.lists(_VALUE_TOKENS, max_size=5).map("".join)


def _label_sets(draw, count, exclude=()):
    names = [name for name in _LABELS if name not in exclude]
    label_sets = draw(st.lists(st.dictionaries(st.sampled_from(names), _label_value, max_size=3),
                               min_size=count, max_size=count, unique_by=lambda d: tuple(sorted(d.items()))))
    return label_sets


def _number(draw, non_negative=False, integer=False):
    if integer:
        value = draw(st.integers(min_value=0, max_value=10**6))
        return value, draw(st.sampled_from(["{}", "{}.0", "{}e0"])).format(value)
    special = [] if non_negative else ["NaN", "+Inf", "-Inf", "nan", "-inf"]
    choice = draw(st.sampled_from(["int", "float", "exp", *special]))
    if choice in special:
        return None, choice
    value = draw(st.floats(min_value=0 if non_negative else -1e9, max_value=1e9, allow_nan=False))
    if choice == "int":
        return int(value), str(int(value))
    if choice == "exp":
        return value, f"{value:e}"
    return value, repr(value)


@st.composite
def text_body(draw):
    """A valid text-format exposition: random families, blanks, comments and label orders."""
    families = draw(st.lists(st.tuples(st.sampled_from(_BASES), st.sampled_from(
        ["counter_total", "counter_bare", "gauge", "untyped", "help_only", "bare", "summary", "histogram"])),
        min_size=1, max_size=5, unique_by=lambda item: item[0]))
    blank = st.sampled_from([" ", "\t", "  ", " \t"])
    lines = []

    def sample(name, labels, value):
        items = list(labels.items())
        draw(st.randoms()).shuffle(items)
        line = draw(st.sampled_from(["", " ", "\t"])) + name
        if items or draw(st.booleans()):
            inner = ",".join(f'{k}{draw(st.sampled_from(["=", " = "]))}"{v}"' for k, v in items)
            inner += draw(st.sampled_from(["", ",", " "])) if items else ""
            line += draw(st.sampled_from(["", " "])) + "{" + draw(st.sampled_from(["", " "])) + inner + "}"
            line += draw(st.sampled_from(["", " ", "\t"]))
        else:
            line += draw(blank)
        line += value
        if draw(st.booleans()):
            line += draw(blank) + str(draw(st.integers(min_value=-(10**13), max_value=10**13)))
        line += draw(st.sampled_from(["", " ", "\t"]))
        lines.append(line)
        if draw(st.integers(0, 9)) == 0:
            lines.append(draw(st.sampled_from(["", "  ", "# a comment", "#", "#HELP not metadata", "# HELPER x"])))

    for base, kind in families:
        meta_name = base + "_total" if kind == "counter_total" else base
        meta = []
        if kind == "help_only" or (kind != "bare" and draw(st.booleans())):
            meta.append(f"# HELP {meta_name} Some \\\\ help\\n text \"quoted\"")
        if kind.startswith("counter") or kind in ("gauge", "untyped", "summary", "histogram"):
            meta.append(f"# TYPE {meta_name} {kind.split('_')[0]}")
        draw(st.randoms()).shuffle(meta)
        lines.extend(meta)
        count = draw(st.integers(0, 3))
        if kind == "histogram":
            for labels in _label_sets(draw, count, exclude=("le",)):
                bounds = sorted(draw(st.sets(st.sampled_from([-1.0, 0.0, 0.25, 1.0, 2.5, 10.0]), max_size=4)))
                running = 0
                buckets = []
                for bound in bounds:
                    running += draw(st.integers(0, 5))
                    buckets.append((draw(st.sampled_from([repr(bound), f"{bound:g}"])), running))
                running += draw(st.integers(0, 5))
                buckets.append(("+Inf", running))
                draw(st.randoms()).shuffle(buckets)
                for le, value in buckets:
                    sample(base + "_bucket", dict(labels, le=le), str(value))
                sample(base + "_count", labels, draw(st.sampled_from([str(running), f"{running}.0"])))
                sample(base + "_sum", labels, _number(draw)[1])
        elif kind == "summary":
            for labels in _label_sets(draw, count, exclude=("quantile",)):
                for quantile in draw(st.sets(st.sampled_from(["0.5", "0.9", "0.99"]), max_size=2)):
                    sample(base, dict(labels, quantile=quantile), _number(draw, non_negative=True)[1])
                sample(base + "_sum", labels, _number(draw)[1])
                sample(base + "_count", labels, _number(draw, non_negative=True)[1])
        else:
            counter = kind.startswith("counter")
            for labels in _label_sets(draw, count):
                sample(meta_name, labels, _number(draw, non_negative=counter)[1])
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


@st.composite
def openmetrics_body(draw):
    """A valid OpenMetrics exposition of every type, with exemplars, units and timestamps."""
    families = draw(st.lists(st.tuples(st.sampled_from(_BASES), st.sampled_from(
        ["counter", "gauge", "unknown", "bare", "summary", "histogram", "info", "stateset", "gaugehistogram"])),
        min_size=1, max_size=5, unique_by=lambda item: item[0]))
    lines = []
    for base, kind in families:
        if kind == "stateset" and ":" in base:
            kind = "gauge"  # a stateset's label is named as its family, and label names have no colon
        stamp = f" {draw(st.sampled_from(['1700000000', '1700000000.5', '1.7e9']))}" if draw(st.booleans()) else ""
        name = base + "_seconds" if kind == "gauge" and draw(st.booleans()) else base
        meta = []
        if kind != "bare":
            meta.append(f"# TYPE {name} {kind}")
            if draw(st.booleans()):
                meta.append(f"# HELP {name} Help with \\\\ and \\n and \\\" escapes")
            if name.endswith("_seconds"):
                meta.append(f"# UNIT {name} seconds")
        draw(st.randoms()).shuffle(meta)
        lines.extend(meta)

        def sample(sample_name, labels, value, exemplar=False, stamp=stamp):
            text = sample_name
            if labels:
                text += "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
            text += " " + value + stamp
            if exemplar and draw(st.booleans()):
                text += ' # {trace_id="' + draw(st.text("abc123", max_size=8)) + '"} 0.5'
                text += draw(st.sampled_from(["", " 1700000000.25"]))
            lines.append(text)

        count = draw(st.integers(0, 3))
        if kind in ("histogram", "gaugehistogram"):
            for labels in _label_sets(draw, count, exclude=("le",)):
                running = 0
                for bound in sorted(draw(st.sets(st.sampled_from([0.0, 0.25, 1.0, 2.5, 10.0]), max_size=3))):
                    running += draw(st.integers(0, 5))
                    sample(base + "_bucket", dict(labels, le=repr(bound)), str(running), exemplar=True)
                running += draw(st.integers(0, 5))
                sample(base + "_bucket", dict(labels, le="+Inf"), str(running), exemplar=True)
                if kind == "histogram":
                    sample(base + "_count", labels, str(running))
                    sample(base + "_sum", labels, _number(draw, non_negative=True)[1])
                    if draw(st.booleans()):
                        sample(base + "_created", labels, "1700000000.0")
                else:
                    sample(base + "_gcount", labels, str(running))
                    sample(base + "_gsum", labels, _number(draw, non_negative=True)[1])
        elif kind == "summary":
            for labels in _label_sets(draw, count, exclude=("quantile",)):
                for quantile in sorted(draw(st.sets(st.sampled_from(["0.5", "0.9", "0.99"]), max_size=2))):
                    sample(base, dict(labels, quantile=quantile), _number(draw, non_negative=True)[1])
                sample(base + "_sum", labels, _number(draw, non_negative=True)[1])
                sample(base + "_count", labels, str(draw(st.integers(0, 100))))
        elif kind == "counter":
            for labels in _label_sets(draw, count):
                sample(base + "_total", labels, _number(draw, non_negative=True)[1], exemplar=True)
                if draw(st.booleans()):
                    sample(base + "_created", labels, "1700000000.0")
        elif kind == "info":
            for labels in _label_sets(draw, count):
                sample(base + "_info", labels, "1")
        elif kind == "stateset":
            for labels in _label_sets(draw, count, exclude=(base,)):
                for state in ("a", "b"):
                    sample(name, dict(labels, **{base: state}), draw(st.sampled_from(["0", "1"])))
        else:
            for labels in _label_sets(draw, count):
                sample(name, labels, _number(draw)[1])
    return "\n".join([*lines, "# EOF"]) + draw(st.sampled_from(["\n", ""]))


@st.composite
def mutated(draw, bodies):
    text = draw(bodies)
    lines = text.split("\n")
    kind = draw(st.sampled_from(["insert", "delete", "replace", "swap", "duplicate", "blank", "junk", "drop"]))
    if kind in ("insert", "delete", "replace") and text:
        at = draw(st.integers(0, len(text) - 1))
        char = draw(st.sampled_from([*' \t{}",=#\\x1\n.-_:\r\u00e9', "\u2003", "\x0b"]))
        return {"insert": text[:at] + char + text[at:], "delete": text[:at] + text[at + 1:],
                "replace": text[:at] + char + text[at + 1:]}[kind]
    at = draw(st.integers(0, len(lines) - 1))
    other = draw(st.integers(0, len(lines) - 1))
    if kind == "swap":
        lines[at], lines[other] = lines[other], lines[at]
    elif kind == "duplicate":
        lines.insert(other, lines[at])
    elif kind == "blank":
        lines.insert(at, draw(st.sampled_from(["", " "])))
    elif kind == "drop":
        del lines[at]
    else:
        lines.append(draw(st.sampled_from(["junk", "a 1", "# EOF", "# trailing comment", "\x00"])))
    return "\n".join(lines)


def _agree(text, openmetrics):
    """parse_exposition refuses whatever the library refuses, and agrees with it on the rest."""
    content_type = OM if openmetrics else TEXT
    try:
        expected = library(text, openmetrics)
    except Exception:  # the library raises ValueError and, on some garbage, other types
        expected = None
    try:
        got = parse_exposition(text, content_type, source="fuzz")
    except SourceError as exc:
        if exc.outcome == "no_data":  # an empty body, or one without any family
            assert not text.strip() or (expected is not None and not expected[1]), exc.message
        else:
            assert exc.outcome == "error", exc.message
        return expected, None
    assert expected is not None, f"the library refuses {text!r}, parse_exposition accepts it"
    same(got, expected)
    return expected, got


_SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@settings(max_examples=150, **_SETTINGS)
@given(text_body(), st.sets(st.sampled_from(_BASES), max_size=3))
def test_valid_text_bodies_agree_with_the_library(text, read):
    expected, got = _agree(text, openmetrics=False)
    if got is None:
        assert not expected[1], f"refused {text!r}"
        return
    filtered = parse_exposition(text, TEXT, wanted=wanted_names(read))
    assert filtered.types == got.types
    kept = ours(filtered)[0]
    assert set(kept) <= set(ours(got)[0])
    assert {sample for sample in ours(got)[0] if any(sample[0].startswith(base) for base in read)} <= set(kept)


@settings(max_examples=100, **_SETTINGS)
@given(openmetrics_body())
def test_valid_openmetrics_bodies_agree_with_the_library(text):
    expected, got = _agree(text, openmetrics=True)
    assert got is not None or not expected[1], f"refused {text!r}"


@settings(max_examples=300, **_SETTINGS)
@given(mutated(text_body()))
def test_mutated_text_bodies_are_refused_whenever_the_library_refuses_them(text):
    _agree(text, openmetrics=False)


@settings(max_examples=150, **_SETTINGS)
@given(mutated(openmetrics_body()))
def test_mutated_openmetrics_bodies_are_refused_whenever_the_library_refuses_them(text):
    _agree(text, openmetrics=True)
