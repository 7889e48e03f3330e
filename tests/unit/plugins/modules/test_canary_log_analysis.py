# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import json

import pytest
from ansible_collections.hyperbun.canary.plugins.modules import canary_log_analysis


def entry(level, code=None, msg="m"):
    record = {"level": level, "msg": msg, "ts": "2026-11-26T10:00:00Z"}
    if code:
        record["code"] = code
    return json.dumps(record)


@pytest.fixture
def logs(tmp_path):
    directory = tmp_path / "logs"
    directory.mkdir()
    (directory / "hyper-bun-2026-11-25.log").write_text("\n".join([
        entry("ERROR", "QUERY_TIMEOUT"), entry("INFO"), entry("ERROR", "DB_DOWN"),
    ]) + "\n")
    (directory / "hyper-bun-2026-11-26.log").write_text("\n".join([
        entry("ERROR", "QUERY_TIMEOUT"), entry("WARN", "QUERY_TIMEOUT"), "TypeError: x is undefined",
        "    at handler (server.ts:10)", entry("ERROR"), entry("INFO", msg="last one"),
    ]) + "\n")
    return directory


def test_errors_by_code_occurrences_and_tail(logs, run_module):
    failed, result = run_module(canary_log_analysis, dict(paths=[str(logs / "*.log")], tail=2))
    assert not failed
    assert result["files"] == [str(logs / "hyper-bun-2026-11-25.log"), str(logs / "hyper-bun-2026-11-26.log")]
    assert result["errors_by_code"] == {"QUERY_TIMEOUT": 2, "DB_DOWN": 1, "none": 1}
    assert result["top_error_codes"][0] == {"code": "QUERY_TIMEOUT", "count": 2}
    assert result["errors_total"] == 4
    assert result["code_counts"] == {"QUERY_TIMEOUT": 3}  # at any level, as `rg QUERY_TIMEOUT` finds them
    assert result["unparsed_lines"] == 2 and result["lines"] == 9
    assert json.loads(result["last_lines"][-1])["msg"] == "last one" and len(result["last_lines"]) == 2


def test_one_dated_file(logs, run_module):
    failed, result = run_module(canary_log_analysis, dict(paths=[str(logs / "hyper-bun-2026-11-25.log")]))
    assert not failed and result["errors_total"] == 2


def test_limits_fail_the_task_with_the_counts(logs, run_module):
    failed, result = run_module(canary_log_analysis, dict(paths=[str(logs / "*.log")], max_errors=3,
                                                          max_occurrences={"QUERY_TIMEOUT": 0}))
    assert failed
    assert "4 error entries, more than max_errors 3 (QUERY_TIMEOUT: 2" in result["msg"]
    assert "QUERY_TIMEOUT occurs 3 times, more than its limit 0" in result["msg"]


def test_a_missing_log_is_not_an_empty_one(tmp_path, run_module):
    failed, result = run_module(canary_log_analysis, dict(paths=[str(tmp_path / "nope-*.log")]))
    assert failed and "no log file matches" in result["msg"]
    failed, result = run_module(canary_log_analysis, dict(paths=[str(tmp_path / "nope-*.log")], allow_missing=True))
    assert not failed and result["errors_total"] == 0


def test_custom_fields_and_levels(tmp_path, run_module):
    log = tmp_path / "app.log"
    log.write_text('{"severity":"fatal","err":"OOM"}\n{"severity":"error","err":"X"}\n')
    failed, result = run_module(canary_log_analysis, dict(paths=[str(log)], level_field="severity", code_field="err",
                                                          error_levels=["ERROR", "FATAL"], codes=[]))
    assert not failed and result["errors_by_code"] == {"OOM": 1, "X": 1}


@pytest.mark.parametrize("extra, words", [
    (dict(tail=-1), "tail must be 0 or more"),
    (dict(max_errors=-2), "max_errors must be 0 or more"),
    (dict(max_occurrences={"QUERY_TIMEOUT": "many"}), "must be a whole number"),
])
def test_argument_errors(logs, run_module, extra, words):
    failed, result = run_module(canary_log_analysis, dict(paths=[str(logs / "*.log")], **extra))
    assert failed and words in result["msg"]


def test_an_unreadable_file_is_reported(tmp_path, run_module):
    directory = tmp_path / "a.log"
    directory.mkdir()
    failed, result = run_module(canary_log_analysis, dict(paths=[str(directory)]))
    assert failed and "no log file matches" in result["msg"]
