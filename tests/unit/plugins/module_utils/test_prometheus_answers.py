# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Properties of the checks on Prometheus API answers: whatever JSON comes, a SourceError or a
checked answer, never another exception; every answer in the documented shape is accepted."""

from __future__ import annotations

import copy
import json

from ansible_collections.hyperbun.canary.plugins.module_utils._exposition import SourceError
from ansible_collections.hyperbun.canary.plugins.module_utils._metrics_http import (
    HttpSettings,
    PrometheusClient,
    single_value,
    validate_prometheus_answer,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

WHERE = {"query": "http://prometheus.test/api/v1/query", "query_range": "http://prometheus.test/api/v1/query_range",
         "alerts": "http://prometheus.test/api/v1/alerts"}
ENDPOINTS = sorted(WHERE)

# The API's own words, so that arbitrary documents often look almost right.
KEYS = ["status", "data", "errorType", "error", "warnings", "infos", "resultType", "result", "metric", "value",
        "values", "histogram", "histograms", "alerts", "labels", "annotations", "state", "activeAt", "value"]
WORDS = ["success", "error", "vector", "scalar", "matrix", "string", "firing", "pending", "inactive", "NaN", "+Inf",
         "-Inf", "1", "0.5"]

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=6) | st.sampled_from(WORDS))
keys = st.sampled_from(KEYS) | st.text(max_size=6)
json_documents = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=5),
    max_leaves=25,
)

times = st.integers(min_value=0, max_value=2**33) | st.floats(min_value=0, max_value=2e9)
numbers = (st.floats(allow_nan=True, allow_infinity=True).map(repr)
           | st.sampled_from(["NaN", "+Inf", "-Inf", "0", "1e+00", "-3.5"]))
labels = st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=3)
samples = st.tuples(times, numbers).map(list)
histograms = st.tuples(times, st.fixed_dictionaries({"count": numbers, "sum": numbers},
                                                    optional={"buckets": st.just([])})).map(list)
vector_items = (st.fixed_dictionaries({"metric": labels, "value": samples})
                | st.fixed_dictionaries({"metric": labels, "histogram": histograms}))
matrix_items = st.fixed_dictionaries({"metric": labels}, optional={"values": st.lists(samples, max_size=4),
                                                                   "histograms": st.lists(histograms, max_size=2)}
                                     ).filter(lambda item: "values" in item or "histograms" in item)
query_data = (st.fixed_dictionaries({"resultType": st.just("vector"), "result": st.lists(vector_items, max_size=4)})
              | st.fixed_dictionaries({"resultType": st.just("matrix"), "result": st.lists(matrix_items, max_size=3)})
              | st.fixed_dictionaries({"resultType": st.just("scalar"), "result": samples})
              | st.fixed_dictionaries({"resultType": st.just("string"),
                                       "result": st.tuples(times, st.text(max_size=8)).map(list)}))
range_data = st.fixed_dictionaries({"resultType": st.just("matrix"), "result": st.lists(matrix_items, max_size=3)})
alerts = st.fixed_dictionaries(
    {"labels": labels, "state": st.sampled_from(["firing", "pending", "inactive"])},
    optional={"annotations": labels, "activeAt": st.just("2025-11-26T10:00:00.123Z"), "value": numbers,
              "keepFiringSince": st.just("2025-11-26T10:05:00Z")})
alerts_data = st.fixed_dictionaries({"alerts": st.lists(alerts, max_size=4)})
DATA = {"query": query_data, "query_range": range_data, "alerts": alerts_data}


@st.composite
def valid_answers(draw, endpoint=None):
    endpoint = endpoint or draw(st.sampled_from(ENDPOINTS))
    document = {"status": "success", "data": draw(DATA[endpoint])}
    if draw(st.booleans()):
        document["warnings"] = draw(st.lists(st.text(max_size=10), max_size=2))
    return endpoint, document


def _places(value, path=()):
    """Every place in a document: (path, container) pairs, the document itself first."""
    yield path, value
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _places(child, (*path, key))


@st.composite
def broken_answers(draw):
    """A valid answer with one to three places changed: a key dropped, or a value replaced by any JSON."""
    endpoint, document = draw(valid_answers())
    document = copy.deepcopy(document)
    for _dummy in range(draw(st.integers(min_value=1, max_value=3))):
        path, _value = draw(st.sampled_from(list(_places(document))))
        if not path:
            continue
        parent = document
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(json_documents)
    return endpoint, document


def _check(document, endpoint):
    """validate_prometheus_answer's result, or the SourceError it raised (anything else fails the test)."""
    try:
        return validate_prometheus_answer(document, WHERE[endpoint], endpoint)
    except SourceError as exc:
        assert exc.outcome == "error" and WHERE[endpoint] in exc.message
        return exc


def _judge_single(answer):
    """single_value on what a query answer holds: a float or a SourceError, nothing else."""
    if isinstance(answer, tuple):
        try:
            value = single_value(*answer, "q")
        except SourceError as exc:
            return exc
        assert isinstance(value, float)
        return value
    return None


@settings(max_examples=250, deadline=None)
@given(document=json_documents, endpoint=st.sampled_from(ENDPOINTS))
def test_any_json_is_a_source_error_or_a_checked_answer(document, endpoint):
    _judge_single(_check(document, endpoint))


@settings(max_examples=250, deadline=None)
@given(data=st.data(), endpoint=st.sampled_from(ENDPOINTS))
def test_any_json_inside_the_envelope_is_a_source_error_or_a_checked_answer(data, endpoint):
    document = {"status": data.draw(st.sampled_from(["success", "error"]) | json_documents),
                "data": data.draw(json_documents | st.dictionaries(keys, json_documents, max_size=4))}
    _judge_single(_check(document, endpoint))


@settings(max_examples=300, deadline=None)
@given(broken=broken_answers())
def test_a_valid_answer_with_keys_dropped_or_values_changed_is_a_source_error_or_a_checked_answer(broken):
    endpoint, document = broken
    _judge_single(_check(document, endpoint))


@settings(max_examples=200, deadline=None)
@given(answer=valid_answers())
def test_a_valid_answer_is_accepted_as_it_came(answer):
    endpoint, document = answer
    untouched = copy.deepcopy(document)
    checked = validate_prometheus_answer(document, WHERE[endpoint], endpoint)
    data = document["data"]
    if endpoint == "alerts":
        assert checked is data["alerts"]
    else:
        assert checked == (data["resultType"], data["result"]) and checked[1] is data["result"]
        if endpoint == "query_range":
            assert checked[0] == "matrix"
    assert document == untouched or json.dumps(document) == json.dumps(untouched)  # NaN != NaN
    _judge_single(checked)


@settings(max_examples=200, deadline=None)
@given(result_type=st.sampled_from(["vector", "scalar", "matrix", "string"]) | json_documents,
       result=json_documents | st.lists(json_documents | DATA["query"].map(lambda data: data["result"]), max_size=3))
def test_single_value_on_anything_is_a_number_or_a_source_error(result_type, result):
    try:
        value = single_value(result_type, result, "q")
    except SourceError:
        return
    assert isinstance(value, float)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(document=json_documents | broken_answers().map(lambda answer: answer[1]),
       endpoint=st.sampled_from(ENDPOINTS), status=st.sampled_from([200, 400, 422]))
def test_any_answer_over_http_is_a_source_error_or_a_checked_answer(server, document, endpoint, status):
    path = "/api/v1/" + endpoint
    server.serve(path, json.dumps(document), status=status, content_type="application/json")
    client = PrometheusClient(server.url(""), HttpSettings(timeout=2, retries=0))
    call = {"query": lambda: client.instant("q"), "query_range": lambda: client.range("q", 1, 2, "1s"),
            "alerts": client.alerts}[endpoint]
    try:
        answer = call()
    except SourceError as exc:
        assert exc.outcome == "error" and server.url(path) in exc.message
        return
    assert status == 200
    _judge_single(answer)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(answer=valid_answers())
def test_a_valid_answer_over_http_is_accepted(server, answer):
    endpoint, document = answer
    server.serve("/api/v1/" + endpoint, json.dumps(document), content_type="application/json")
    client = PrometheusClient(server.url(""), HttpSettings(timeout=2, retries=0))
    if endpoint == "alerts":
        assert json.dumps(client.alerts()) == json.dumps(document["data"]["alerts"])
    else:
        call = client.instant if endpoint == "query" else lambda q: client.range(q, 1, 2, "1s")
        result_type, result = call("q")
        assert result_type == document["data"]["resultType"]
        assert json.dumps(result) == json.dumps(document["data"]["result"])
