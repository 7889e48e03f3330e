# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest
from ansible_collections.hyperbun.canary.plugins.modules import prometheus_query


def vector(*values):
    return {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"instance": f"i{i}"}, "value": [1764153600.0, str(v)]} for i, v in enumerate(values)]}}


def serve(server, document, status=200, path="/api/v1/query"):
    server.serve(path, document, status=status, content_type="application/json")


def args(server, **extra):
    result = dict(prometheus_url=server.url(""), query="up", retries=0)
    result.update(extra)
    return result


def test_single_value(server, run_module):
    serve(server, vector(0.004))
    failed, result = run_module(prometheus_query, args(server, require="single"))
    assert not failed and result["value"] == 0.004 and result["series_count"] == 1
    assert result["result_type"] == "vector" and result["changed"] is False


def test_empty_vector_fails_by_default_and_passes_with_require_any(server, run_module):
    serve(server, vector())
    failed, result = run_module(prometheus_query, args(server))
    assert failed and "empty vector" in result["msg"] and result["outcome"] == "no_data"
    failed, result = run_module(prometheus_query, args(server, require="any"))
    assert not failed and result["series_count"] == 0


def test_several_series_where_one_was_expected(server, run_module):
    serve(server, vector(1, 2))
    failed, result = run_module(prometheus_query, args(server, require="single"))
    assert failed and "2 series where one was expected" in result["msg"]
    failed, result = run_module(prometheus_query, args(server))
    assert not failed and result["series_count"] == 2 and "value" not in result


def test_nan_single_value_fails(server, run_module):
    serve(server, vector("NaN"))
    failed, result = run_module(prometheus_query, args(server, require="single"))
    assert failed and "NaN" in result["msg"]


def test_promql_syntax_error(server, run_module):
    serve(server, {"status": "error", "errorType": "bad_data", "error": "1:6: parse error: unclosed left parenthesis"},
          status=400)
    failed, result = run_module(prometheus_query, args(server, query="rate("))
    assert failed and "bad_data" in result["msg"] and "unclosed left parenthesis" in result["msg"]


def test_range_query(server, run_module):
    serve(server, {"status": "success", "data": {"resultType": "matrix", "result": [
        {"metric": {"__name__": "memory_usage_bytes"}, "values": [[1764150000, "1"], [1764150060, "2"]]}]}},
        path="/api/v1/query_range")
    failed, result = run_module(prometheus_query, args(server, query_type="range", start="1764150000", step="60s"))
    assert not failed and result["result_type"] == "matrix" and result["result"][0]["values"][1] == [1764150060, "2"]
    path = server.requests[0][0]
    assert "start=1764150000" in path and "step=60s" in path and "end=" in path


def test_range_query_needs_a_start(server, run_module):
    failed, result = run_module(prometheus_query, args(server, query_type="range"))
    assert failed and "start" in result["msg"] and server.requests == []


@pytest.mark.parametrize("extra, words", [(dict(query="  "), "query is empty"), (dict(retries=-1), "retries")])
def test_argument_errors(server, run_module, extra, words):
    failed, result = run_module(prometheus_query, args(server, **extra))
    assert failed and words in result["msg"] and server.requests == []


def test_server_error_after_retries(server, run_module):
    serve(server, "overloaded", status=502)
    failed, result = run_module(prometheus_query, args(server, retries=1, retry_delay=0))
    assert failed and "HTTP 502" in result["msg"] and len(server.requests) == 2


def test_token_is_not_returned(server, run_module):
    serve(server, vector(1))
    failed, result = run_module(prometheus_query, args(server, bearer_token="hunter2"))
    assert not failed and "hunter2" not in str(result)
    assert server.requests[0][1]["Authorization"] == "Bearer hunter2"


@pytest.mark.parametrize("document, words", [
    ({"status": "success"}, "/api/v1/query: data is missing"),
    ({"status": "success", "data": {"resultType": "vector", "result": [{"metric": {}}]}},
     "/api/v1/query: data.result[0] has no value"),
    ({"status": "success", "data": {"resultType": "vector", "result": None}}, "data.result is null, not a list"),
    ({"status": "success", "data": {"resultType": "scalar", "result": None}}, "data.result is null, not a [time"),
])
@pytest.mark.parametrize("require", ["any", "single"])
def test_an_answer_not_in_the_documented_shape_fails_the_task(server, run_module, document, words, require):
    serve(server, document)
    failed, result = run_module(prometheus_query, args(server, require=require))
    assert failed and words in result["msg"] and result["outcome"] == "error"


def test_a_range_answer_not_in_the_documented_shape_fails_the_task(server, run_module):
    serve(server, {"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": None}]}},
          path="/api/v1/query_range")
    failed, result = run_module(prometheus_query, args(server, query_type="range", start="1764150000"))
    assert failed and "data.result[0].values is null, not a list" in result["msg"]


def test_a_string_result_is_one_value_but_not_a_number(server, run_module):
    serve(server, {"status": "success", "data": {"resultType": "string", "result": [1764153600, "hello"]}})
    failed, result = run_module(prometheus_query, args(server))
    assert not failed and result["series_count"] == 1 and "value" not in result
    failed, result = run_module(prometheus_query, args(server, require="single"))
    assert failed and "returned a string" in result["msg"]


def test_a_native_histogram_is_returned_but_is_no_single_value(server, run_module):
    item = {"metric": {"job": "api"}, "histogram": [1764153600, {"count": "3", "sum": "1.5", "buckets": []}]}
    serve(server, {"status": "success", "data": {"resultType": "vector", "result": [item]}})
    failed, result = run_module(prometheus_query, args(server))
    assert not failed and result["result"] == [item] and "value" not in result
    failed, result = run_module(prometheus_query, args(server, require="single"))
    assert failed and "native histogram" in result["msg"]
